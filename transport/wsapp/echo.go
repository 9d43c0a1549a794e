package wsapp

import (
	"errors"
	"log/slog"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// Echo is a ready component that sends every message back to its sender, text as text and
// binary as binary (Ratchet's EchoServer). Logger, when set, receives its errors.
type Echo struct {
	Logger *slog.Logger
}

var _ Component = Echo{}

// OnOpen does nothing.
func (Echo) OnOpen(*Peer) {}

// OnMessage sends m back.
func (e Echo) OnMessage(p *Peer, m Message) {
	if err := p.SendMessage(m); err != nil && !errors.Is(err, websocket.ErrClosed) {
		e.logger().Warn("echo: reply not sent", "peer", p.ID(), "err", err)
	}
}

// OnClose does nothing.
func (Echo) OnClose(*Peer, int, string) {}

// OnError logs err.
func (e Echo) OnError(p *Peer, err error) {
	e.logger().Error("echo: connection failed", "peer", p.ID(), "err", err)
}

func (e Echo) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}
