// Command chat is Ratchet's "MyChat" tutorial in Go: a plain WebSocket chat on /chat where
// every message goes to everyone connected except its sender. A page to try it is on /.
//
//	go run ./examples/chat -listen 127.0.0.1:8080
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
)

//go:embed index.html
var page embed.FS

// MyChat keeps the connected clients in a wsapp.Group and relays each message to the
// others. The callbacks of different connections run concurrently; Group is safe for that.
type MyChat struct {
	clients wsapp.Group
	log     *slog.Logger
}

// OnOpen stores the new connection to send messages to later, and welcomes it: once a
// client has its welcome, it gets every message sent after.
func (c *MyChat) OnOpen(p *wsapp.Peer) {
	c.clients.Add(p)
	c.log.Info("new connection", "id", p.ID(), "remote", p.RemoteAddr().String())
	p.Send(fmt.Sprintf("welcome! %d others here", c.clients.Len()-1))
}

// OnMessage sends the message to every client but its sender.
func (c *MyChat) OnMessage(from *wsapp.Peer, m wsapp.Message) {
	n := c.clients.Broadcast(m, from)
	c.log.Info("relayed a message", "from", from.ID(), "bytes", len(m.Data), "to", n)
}

// OnClose forgets the connection; the close code and reason are the ones the client sent.
func (c *MyChat) OnClose(p *wsapp.Peer, code int, reason string) {
	c.clients.Remove(p)
	c.log.Info("connection closed", "id", p.ID(), "code", code, "reason", reason)
}

// OnError reports a failure; a panicking callback has already had its connection closed.
func (c *MyChat) OnError(p *wsapp.Peer, err error) {
	c.log.Error("connection failed", "id", p.ID(), "err", err)
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port to serve on (port 0 picks a free one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *addr, func(url string) {
		slog.Info("listening", "page", url+"/", "websocket", "ws"+url[len("http"):]+"/chat")
	})
	if err != nil {
		slog.Error("chat server failed", "err", err)
		os.Exit(1)
	}
}

// run serves the chat on addr until ctx ends; ready, when not nil, gets the base URL
// (http://host:port) once the server listens.
func run(ctx context.Context, addr string, ready func(url string)) error {
	app := wsapp.NewApp(slog.Default())
	chat := &MyChat{log: slog.Default()}
	if err := app.Route("/chat", chat, wsapp.RouteOptions{
		KeepAlive:      30 * time.Second, // a client that vanishes is noticed within 40s
		MaxMessageSize: 64 << 10,
		// permessage-deflate, which browsers offer on every WebSocket: Broadcast compresses
		// a message once for everyone it reaches.
		Deflate: websocket.DeflateOptions{Enabled: true},
	}); err != nil {
		return err
	}
	app.Handle("GET /{$}", http.FileServerFS(page))
	return app.Run(ctx, addr, func(a net.Addr) {
		if ready != nil {
			ready("http://" + a.String())
		}
	})
}
