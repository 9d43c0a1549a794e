package fakepeer

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// Wait bounds how long a test waits for a message that should come.
const Wait = 5 * time.Second

// Conn is the router's end of a fake connection: a peer.Peer that reads what its Client
// writes and records what the router sends.
type Conn struct {
	serializer string
	in         chan []byte // client → router
	done       chan struct{}
	closeOnce  sync.Once

	mu      sync.Mutex
	out     [][]byte // router → client, in order
	notify  chan struct{}
	closed  bool
	code    int
	reason  string
	limit   int // most frames queued at once (0: no bound)
	onSend  func(frame []byte)
	session *session.Session
	served  chan struct{} // closed when ServePeer returned: the session has left its realm
}

var _ peer.Peer = (*Conn)(nil)

// Serializer is the codec's name.
func (c *Conn) Serializer() string { return c.serializer }

// Read returns what the client wrote, until the client hangs up.
func (c *Conn) Read() ([]byte, error) {
	select {
	case f := <-c.in:
		return f, nil
	case <-c.done:
		return nil, peer.ErrClosed
	}
}

func (c *Conn) push(frame []byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return peer.ErrClosed
	}
	if c.limit > 0 && len(c.out) >= c.limit {
		c.mu.Unlock()
		return peer.ErrQueueFull
	}
	c.out = append(c.out, frame)
	select {
	case c.notify <- struct{}{}:
	default:
	}
	c.mu.Unlock()
	if c.onSend != nil {
		c.onSend(frame) // outside the lock: it may take its time, as a slow sender would
	}
	return nil
}

// SendNow records a reply.
func (c *Conn) SendNow(frame []byte) error { return c.push(frame) }

// SendFanout records an event.
func (c *Conn) SendFanout(frame []byte, _ peer.Peer) error { return c.push(frame) }

// Queued is what the client has not read yet.
func (c *Conn) Queued() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.out {
		n += len(f)
	}
	return len(c.out), n
}

// Close ends the connection; what was sent before stays readable.
func (c *Conn) Close(code int, reason string) { c.end(code, reason) }

// Abort ends the connection.
func (c *Conn) Abort(code int, reason string) { c.end(code, reason) }

func (c *Conn) end(code int, reason string) {
	c.mu.Lock()
	if !c.closed {
		c.closed, c.code, c.reason = true, code, reason
	}
	select {
	case c.notify <- struct{}{}:
	default:
	}
	c.mu.Unlock()
	c.hangUp()
}

func (c *Conn) hangUp() { c.closeOnce.Do(func() { close(c.done) }) }

// Details: transport "fake".
func (c *Conn) Details() peer.Details {
	return peer.Details{Transport: "fake", RemoteAddr: addr{}}
}

type addr struct{}

func (addr) Network() string { return "fake" }
func (addr) String() string  { return "fake" }

var _ net.Addr = addr{}

// Server serves fake connections with a session.Host.
type Server struct {
	*session.Host
	t  testing.TB
	wg sync.WaitGroup

	mu    sync.Mutex
	conns []*Conn
}

// Serve starts a session host admitting sessions through gate; it is shut down when the
// test ends.
func Serve(t testing.TB, gate session.Gate) *Server {
	srv := &Server{t: t, Host: session.NewHost(gate, session.HostOptions{HelloTimeout: Wait, AuthTimeout: Wait})}
	t.Cleanup(func() {
		if !srv.DropAll() {
			return // stuck sessions were reported; waiting for them would hang the test
		}
		srv.Shutdown(time.Second)
		srv.wg.Wait()
	})
	return srv
}

// DropAll hangs up every client, as lost connections, and waits until their sessions have
// left. A session that does not leave within Wait (its handler is stuck: a lock left held)
// fails the test, and DropAll reports false.
func (srv *Server) DropAll() bool {
	srv.mu.Lock()
	conns := srv.conns
	srv.conns = nil
	srv.mu.Unlock()
	for _, c := range conns {
		c.hangUp()
	}
	deadline := time.After(Wait)
	for _, c := range conns {
		select {
		case <-c.served:
		case <-deadline:
			srv.t.Errorf("fakepeer: a session did not end within %v after its connection was lost: its handler is stuck (a lock left held?)", Wait)
			return false
		}
	}
	return true
}

// Options of a new client.
type Options struct {
	// Serializer is "json" (default) or "msgpack".
	Serializer string
	// Details are sent in HELLO; roles default to all four with every feature the router
	// side looks at (Roles).
	Details wamp.Dict
	// QueueLimit bounds the frames the router may queue unread (0: no bound).
	QueueLimit int
	// OnSend, when set, sees each frame the router sends right after it was queued, on the
	// sending goroutine (which it may delay, to widen a race window).
	OnSend func(frame []byte)
}

// Roles announce the four client roles with the features routers look at.
func Roles() wamp.Dict {
	f := func(names ...string) wamp.Dict {
		d := wamp.Dict{}
		for _, n := range names {
			d[n] = true
		}
		return wamp.Dict{"features": d}
	}
	return wamp.Dict{
		"publisher":  f("publisher_exclusion", "publisher_identification", "subscriber_blackwhite_listing", "payload_passthru_mode"),
		"subscriber": f("pattern_based_subscription", "publisher_identification", "event_history"),
		"caller":     f("call_canceling", "progressive_call_results", "call_timeout", "caller_identification"),
		"callee":     f("call_canceling", "progressive_call_results", "progressive_call_invocations", "call_timeout", "caller_identification", "shared_registration", "pattern_based_registration"),
	}
}

// Client is the peer's side of a fake connection.
type Client struct {
	t     testing.TB
	Conn  *Conn
	Codec wamp.Codec
	// ID is the session ID the router announced in WELCOME.
	ID wamp.ID
	// Welcome is WELCOME's details.
	Welcome wamp.Dict
	read    int // frames of Conn.out already read
	req     wamp.ID
}

// Connect opens a fake connection and sends HELLO, without waiting for the answer.
func (srv *Server) Connect(t testing.TB, realm wamp.URI, opts Options) *Client {
	t.Helper()
	if opts.Serializer == "" {
		opts.Serializer = "json"
	}
	codec, ok := wamp.CodecNamed(opts.Serializer)
	if !ok {
		t.Fatalf("no codec %q", opts.Serializer)
	}
	details := wamp.Dict{}
	for k, v := range opts.Details {
		details[k] = v
	}
	if _, ok := details["roles"]; !ok {
		details["roles"] = Roles()
	}
	c := &Conn{serializer: opts.Serializer, in: make(chan []byte, 1024), done: make(chan struct{}),
		notify: make(chan struct{}, 1), limit: opts.QueueLimit, onSend: opts.OnSend, served: make(chan struct{})}
	srv.mu.Lock()
	srv.conns = append(srv.conns, c)
	srv.mu.Unlock()
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		defer close(c.served)
		srv.ServePeer(c)
	}()
	cl := &Client{t: t, Conn: c, Codec: codec}
	t.Cleanup(func() { c.hangUp() })
	cl.Send(&wamp.Hello{Realm: realm, Details: details})
	return cl
}

// Join connects and expects WELCOME.
func (srv *Server) Join(t testing.TB, realm wamp.URI, opts Options) *Client {
	t.Helper()
	c := srv.Connect(t, realm, opts)
	w := Expect[*wamp.Welcome](t, c)
	c.ID, c.Welcome = w.Session, w.Details
	return c
}

// Session is the router-side session, when the gate recorded it (Gate does).
func (c *Client) Session() *session.Session {
	c.Conn.mu.Lock()
	defer c.Conn.mu.Unlock()
	return c.Conn.session
}

// NextID returns a fresh request ID.
func (c *Client) NextID() wamp.ID {
	c.req++
	return c.req
}

// Send writes a message to the router.
func (c *Client) Send(m wamp.Message) {
	c.t.Helper()
	frame, err := c.Codec.Encode(nil, m)
	if err != nil {
		c.t.Fatalf("encode %s: %v", m.Type(), err)
	}
	select {
	case c.Conn.in <- frame:
	case <-c.Conn.done:
	case <-time.After(Wait):
		c.t.Fatalf("router does not read %s", m.Type())
	}
}

// ErrClosed is returned by TryRecv once the router closed the connection and every frame
// sent before was read.
var ErrClosed = errors.New("fakepeer: connection closed by the router")

// TryRecv returns the next message the router sent, waiting at most d; nil, nil when none
// came in time.
func (c *Client) TryRecv(d time.Duration) (wamp.Message, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.Conn.mu.Lock()
		if c.read < len(c.Conn.out) {
			frame := c.Conn.out[c.read]
			c.Conn.out[c.read] = nil
			c.read++
			if c.read == len(c.Conn.out) {
				c.Conn.out, c.read = c.Conn.out[:0], 0
			}
			c.Conn.mu.Unlock()
			m, err := c.Codec.Decode(frame)
			if err != nil {
				return nil, fmt.Errorf("decode %s: %w", frame, err)
			}
			return m, nil
		}
		closed := c.Conn.closed
		c.Conn.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-c.Conn.notify:
		case <-timer.C:
			return nil, nil
		}
	}
}

// Recv returns the next message, failing the test when none comes within Wait.
func (c *Client) Recv() wamp.Message {
	c.t.Helper()
	m, err := c.TryRecv(Wait)
	if err != nil {
		c.t.Fatal(err)
	}
	if m == nil {
		c.t.Fatalf("session %d: no message within %v", c.ID, Wait)
	}
	return m
}

// Expect returns the next message, which must be an M.
func Expect[M wamp.Message](t testing.TB, c *Client) M {
	t.Helper()
	m := c.Recv()
	got, ok := m.(M)
	if !ok {
		var zero M
		t.Fatalf("session %d: expected %T, got %s %+v", c.ID, zero, m.Type(), m)
	}
	return got
}

// Closed reports whether the router closed the connection, and with what code and reason.
func (c *Client) Closed() (bool, int, string) {
	c.Conn.mu.Lock()
	defer c.Conn.mu.Unlock()
	return c.Conn.closed, c.Conn.code, c.Conn.reason
}

// Drop hangs up without GOODBYE, as a lost connection, and waits until the session has left.
func (c *Client) Drop() {
	c.t.Helper()
	c.Conn.hangUp()
	c.waitLeft()
}

// Leave says GOODBYE and expects the router's GOODBYE.
func (c *Client) Leave() {
	c.t.Helper()
	c.Send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseRealm})
	for {
		m := c.Recv()
		if _, ok := m.(*wamp.Goodbye); ok {
			break
		}
	}
	c.waitLeft()
}

func (c *Client) waitLeft() {
	c.t.Helper()
	select {
	case <-c.Conn.served:
	case <-time.After(Wait):
		c.t.Fatalf("session %d did not leave", c.ID)
	}
}

// Gate admits every session into one realm served by the given handlers: a test router
// around a broker or dealer under test. Each session's authid and authrole are those its
// HELLO asks for ("anonymous" by default).
type Gate struct {
	// Routes route an established session's messages.
	Routes session.Handlers
	// OnLeave releases a session that ended (Broker.Leave, Dealer.Leave).
	OnLeave func(s *session.Session)
}

// Join admits s.
func (g *Gate) Join(s *session.Session) (session.Domain, wamp.Dict, error) {
	s.ID = wamp.GlobalID()
	s.AuthID, _ = s.Details.String("authid")
	s.AuthRole, _ = s.Details.String("authrole")
	if s.AuthRole == "" {
		s.AuthRole = "anonymous"
	}
	s.AuthMethod = "anonymous"
	if c, ok := s.Peer().(*Conn); ok {
		c.mu.Lock()
		c.session = s
		c.mu.Unlock()
	}
	return g, wamp.Dict{"authid": s.AuthID, "authrole": s.AuthRole, "roles": wamp.Dict{"broker": wamp.Dict{}, "dealer": wamp.Dict{}}}, nil
}

// Handlers is the dispatch table.
func (g *Gate) Handlers() *session.Handlers { return &g.Routes }

// Leave calls OnLeave.
func (g *Gate) Leave(s *session.Session) {
	if g.OnLeave != nil {
		g.OnLeave(s)
	}
}
