package wsapp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	gorilla "github.com/gorilla/websocket"
	"github.com/pawl-wamp/pawl/transport/websocket"
)

// Component is a plain WebSocket application, the Go form of Ratchet's
// MessageComponentInterface. An App calls it for every connection on the route it serves:
//
//   - OnOpen once, when the connection is established;
//   - OnMessage for each message the peer sends, text or binary, in order;
//   - OnClose once, at the end, with the close code and reason: the ones the peer sent when it
//     closed, the ones the server closed with (Peer.Close, a slow consumer cut off, a message
//     too big), or 1006 (CloseAbnormal) with a reason saying why when the connection was lost
//     without a close frame (keepalive timeout, network error);
//   - OnError when a callback panicked: the panic is recovered and passed as a *PanicError,
//     and only that connection is closed (1011).
//
// The callbacks of one connection run one at a time on that connection's goroutine; different
// connections run concurrently, so a component's shared state needs a lock (Group is a
// concurrency-safe connection set). Sending never blocks: see Peer.Send.
type Component interface {
	OnOpen(p *Peer)
	OnMessage(p *Peer, m Message)
	OnClose(p *Peer, code int, reason string)
	OnError(p *Peer, err error)
}

// ComponentFuncs is a Component made of functions; nil ones do nothing.
type ComponentFuncs struct {
	Open    func(p *Peer)
	Message func(p *Peer, m Message)
	Close   func(p *Peer, code int, reason string)
	Error   func(p *Peer, err error)
}

// OnOpen calls f.Open.
func (f ComponentFuncs) OnOpen(p *Peer) {
	if f.Open != nil {
		f.Open(p)
	}
}

// OnMessage calls f.Message.
func (f ComponentFuncs) OnMessage(p *Peer, m Message) {
	if f.Message != nil {
		f.Message(p, m)
	}
}

// OnClose calls f.Close.
func (f ComponentFuncs) OnClose(p *Peer, code int, reason string) {
	if f.Close != nil {
		f.Close(p, code, reason)
	}
}

// OnError calls f.Error.
func (f ComponentFuncs) OnError(p *Peer, err error) {
	if f.Error != nil {
		f.Error(p, err)
	}
}

// Message is one WebSocket message: text (UTF-8) or binary.
type Message struct {
	Binary bool
	Data   []byte
}

// Text makes a text message.
func Text(s string) Message { return Message{Data: []byte(s)} }

// Binary makes a binary message.
func Binary(b []byte) Message { return Message{Binary: true, Data: b} }

// String returns the message's data as a string.
func (m Message) String() string { return string(m.Data) }

// More close codes a component sees.
const (
	// CloseAbnormal (1006) is never sent: OnClose reports it when the connection ended without
	// a close frame (keepalive timeout, network error), with a reason saying what happened.
	CloseAbnormal = gorilla.CloseAbnormalClosure
	// CloseNoStatus (1005) is reported when the peer's close frame carried no code.
	CloseNoStatus = gorilla.CloseNoStatusReceived
)

// PanicError is what OnError receives when a callback panicked.
type PanicError struct {
	Callback string // "OnOpen", "OnMessage" or "OnClose"
	Value    any    // what the callback panicked with
	Stack    []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic in %s: %v", e.Callback, e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Peer is one plain WebSocket connection as a component sees it (Ratchet's
// ConnectionInterface). Its methods are safe for concurrent use.
type Peer struct {
	id    uint64
	route string
	conn  *websocket.Conn

	mu          sync.Mutex
	localCode   int // the close the server started, when it started one
	localReason string
	closing     atomic.Bool // the server is closing: further messages are not delivered
	values      sync.Map
}

// ID is the connection's number, unique within its App and stable for its life.
func (p *Peer) ID() uint64 { return p.id }

// Route is the path of the route that accepted the connection.
func (p *Peer) Route() string { return p.route }

// String names the peer in logs: "peer 12 (127.0.0.1:50312)".
func (p *Peer) String() string { return fmt.Sprintf("peer %d (%s)", p.id, p.RemoteAddr()) }

// RemoteAddr is the peer's network address.
func (p *Peer) RemoteAddr() net.Addr { return p.conn.RemoteAddr() }

// Request is the HTTP upgrade request: headers, cookies and query parameters, to identify
// the user. Its context is not the (finished) request's.
func (p *Peer) Request() *http.Request { return p.conn.Request() }

// Subprotocol is the negotiated WebSocket subprotocol ("" when none).
func (p *Peer) Subprotocol() string { return p.conn.Subprotocol() }

// Set stores a value on the connection (a user name, a room), like Ratchet's dynamic
// properties on $conn.
func (p *Peer) Set(key, value any) { p.values.Store(key, value) }

// Get returns a value stored with Set, or nil.
func (p *Peer) Get(key any) any {
	v, _ := p.values.Load(key)
	return v
}

// Send queues a text message.
func (p *Peer) Send(text string) error { return p.SendMessage(Text(text)) }

// SendBinary queues a binary message. The slice must not change afterwards.
func (p *Peer) SendBinary(data []byte) error { return p.SendMessage(Binary(data)) }

// SendMessage queues a message. It never blocks: the connection's writer sends it. A peer
// that reads so slowly that its outbound queue (RouteOptions.QueueMessages, QueueBytes) is
// full is cut off: its queue is dropped, it is closed with 1013 and reason
// pawl.close.slow_consumer, and SendMessage returns an error wrapping websocket.ErrQueueFull. On a
// closing or closed connection it returns an error wrapping websocket.ErrClosed.
func (p *Peer) SendMessage(m Message) error { return p.send(m, false) }

// send queues m; a shared message (a broadcast's) is compressed once for every recipient.
func (p *Peer) send(m Message, shared bool) error {
	var err error
	if shared {
		err = p.conn.SendShared(m.Data, m.Binary)
	} else {
		err = p.conn.SendMessage(m.Data, m.Binary)
	}
	if errors.Is(err, websocket.ErrQueueFull) {
		msgs, bytes := p.conn.Queued()
		reason := fmt.Sprintf("%s: outbound queue full (%d messages, %d bytes)", websocket.ReasonSlowConsumer, msgs, bytes)
		p.abort(websocket.CloseTryAgainLater, reason)
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", p, err)
	}
	return nil
}

// Close sends what is queued, then a close frame with code (1000 normal, 4000-4999 for the
// application's own) and reason (at most 123 bytes), and ends the connection once the peer
// answers or after a short grace period. OnClose then reports this code and reason. It does
// not block; messages the peer sends meanwhile are not delivered.
func (p *Peer) Close(code int, reason string) {
	p.markClosing(code, reason)
	p.conn.Close(code, reason)
}

// abort cuts the peer off: the queue is dropped and the socket closed now.
func (p *Peer) abort(code int, reason string) {
	p.markClosing(code, reason)
	p.conn.Abort(code, reason)
}

// markClosing records the close the server starts, unless a close is already under way.
func (p *Peer) markClosing(code int, reason string) {
	p.closing.Store(true)
	if peerCode, _ := p.conn.PeerClose(); peerCode != 0 {
		return // the peer closed first: OnClose reports its code
	}
	p.mu.Lock()
	if p.localCode == 0 {
		p.localCode, p.localReason = code, websocket.TruncateReason(reason)
	}
	p.mu.Unlock()
}

// closeStatus decides what OnClose reports once reading ended with err.
func (p *Peer) closeStatus(err error, opts websocket.Options) (int, string) {
	// The server's close is recorded only when it came first; the peer's answer to it would
	// just echo it.
	p.mu.Lock()
	code, reason := p.localCode, p.localReason
	p.mu.Unlock()
	if code != 0 {
		return code, reason
	}
	if code, text := p.conn.PeerClose(); code != 0 {
		return code, text
	}
	var ce *gorilla.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return ce.Code, ce.Text
	case errors.Is(err, gorilla.ErrReadLimit):
		return websocket.CloseMessageTooBig, fmt.Sprintf("%s: a message exceeded %d bytes", websocket.ReasonMessageTooBig, opts.MaxMessageSize)
	case opts.PingInterval > 0 && errors.As(err, &ne) && ne.Timeout():
		return CloseAbnormal, fmt.Sprintf("%s: no pong or message within %s", websocket.ReasonKeepaliveTimeout,
			opts.PingInterval+opts.PongTimeout)
	default:
		return CloseAbnormal, fmt.Sprintf("%s: %v", websocket.ReasonConnectionLost, err)
	}
}

// readMessage returns the next message and its kind, extending the keepalive deadline.
// Only the connection's owner goroutine may call it.
func readMessage(c *websocket.Conn) (Message, error) {
	binary, data, err := c.ReadMessage()
	if err != nil {
		return Message{}, err
	}
	return Message{Binary: binary, Data: data}, nil
}
