package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// Options configure a Go client session. The zero value joins anonymously over JSON.
type Options struct {
	// Serializer is "json" (default), "msgpack" or "cbor".
	Serializer string
	// AuthID is sent in HELLO (optional; ticket, wampcra and wamp-scram need one).
	AuthID string
	// AuthMethods are offered in HELLO, in order of preference. Empty: the methods
	// Credentials hold a secret for (cryptosign, wamp-scram, wampcra, ticket), or none, which
	// the router takes as anonymous.
	AuthMethods []string
	// AuthExtra is sent as HELLO.Details.authextra; the client adds the cryptosign pubkey,
	// the wamp-scram nonce and the channel binding type itself.
	AuthExtra wamp.Dict
	// Credentials answer the router's CHALLENGEs.
	Credentials Credentials
	// OnChallenge, when set, answers every CHALLENGE instead of Credentials (for methods
	// the client does not know, or secrets kept elsewhere).
	OnChallenge ChallengeHandler
	// TLSConfig configures wss:// connections (trusted roots, client certificates).
	TLSConfig *tls.Config
	// HelloDetails are merged into HELLO.Details (roles are always set by the client).
	HelloDetails wamp.Dict
	// Header is sent with the WebSocket upgrade request (cookies, authorization).
	Header http.Header
	// Transport limits for the connection (max message size, keepalive, queue bounds).
	// Transport.Deflate.Enabled offers permessage-deflate on ws:// and wss:// (off by
	// default, as in Autobahn|Python: a backend usually sits next to its router, where
	// compression costs CPU on both ends and saves little); MinSize and Level then apply to
	// what the client sends.
	Transport websocket.Options
	// EventQueue bounds the events waiting for their handlers (default 1024). When it is
	// full the client stops reading, and a router that cannot deliver either cuts it off.
	EventQueue int
	// Logger receives the client's logs (default slog.Default()).
	Logger *slog.Logger
	// Reconnect, when set, makes a client made by Dial dial and join again after the
	// connection is lost or the router shuts down, and restore its subscriptions and
	// registrations (see ReconnectPolicy in reconnect.go). nil: a lost connection
	// ends the session.
	Reconnect *ReconnectPolicy

	// redial opens a new connection like the first one (set by Dial; Join over a connection
	// of the caller's has none, so it cannot reconnect).
	redial func(ctx context.Context) (peer.Client, error)
}

// goodbyeGrace is how long the client waits for the router to answer its GOODBYE (and for a
// killed call's answer), as the router waits for a peer's.
const goodbyeGrace = 3 * time.Second

// ErrClosed is returned by requests on a client whose session has ended.
var ErrClosed = errors.New("session closed")

// Client is a WAMP session seen from the peer's side: it publishes, subscribes, calls and
// registers. Its methods are safe for concurrent use.
type Client struct {
	// conn, id and welcome change when the client reconnects: the reader goroutine, which
	// alone swaps them, reads them freely; anyone else goes through connMu.
	connMu  sync.RWMutex
	conn    peer.Client
	codec   wamp.Codec
	id      wamp.ID
	welcome wamp.Dict
	rc      *reconnector // with Options.Reconnect (reconnect.go)
	log     *slog.Logger
	reqIDs  wamp.IDGen

	mu             sync.Mutex
	pending        map[wamp.ID]*pendingRequest
	running        map[wamp.ID]*running // invocations being served
	lastInvocation wamp.ID              // highest INVOCATION request ID seen
	subscriptions  map[wamp.ID][]*Subscription
	registrations  map[wamp.ID]*Registration
	leaving        bool  // Close said GOODBYE
	closed         bool  // the session has ended
	closeErr       error // why the session ended
	endReason      error // why the router ended it, recorded until the connection closes

	events     chan func()
	ctx        context.Context // canceled when the session ends; procedure handlers get it
	cancel     context.CancelFunc
	goodbye    chan struct{} // closed when the router answers our GOODBYE
	readerDone chan struct{}
	eventsDone chan struct{}
}

// clientHandlers is the client's dispatch table: what the client does with each message the
// router may send to an established session other than replies to its own requests.
var clientHandlers = func() *dispatch.Table[*Client] {
	d := &dispatch.Table[*Client]{}
	dispatch.On(d, (*Client).onEvent)
	dispatch.On(d, (*Client).onInvocation)
	dispatch.On(d, (*Client).onInterrupt)
	dispatch.On(d, (*Client).onGoodbye)
	dispatch.On(d, (*Client).onAbort)
	return d
}()

// clientRoles are the roles and features the Go client announces in HELLO.
var clientRoles = wamp.Dict{
	"publisher": wamp.Dict{"features": wamp.Dict{"publisher_exclusion": true, "publisher_identification": true,
		"subscriber_blackwhite_listing": true, "payload_passthru_mode": true}},
	"subscriber": wamp.Dict{"features": wamp.Dict{"pattern_based_subscription": true, "publisher_identification": true,
		"payload_passthru_mode": true}},
	"caller": wamp.Dict{"features": wamp.Dict{"progressive_call_results": true, "progressive_call_invocations": true,
		"call_canceling": true, "call_timeout": true, "caller_identification": true}},
	"callee": wamp.Dict{"features": wamp.Dict{"progressive_call_results": true, "progressive_call_invocations": true,
		"call_canceling": true, "caller_identification": true, "pattern_based_registration": true,
		"shared_registration": true}},
}

// Dial connects to a router at url and joins realm. The URL's scheme picks the transport:
// ws:// and wss:// WebSocket; rs:// and tcp:// RawSocket over TCP, rss:// and tcps:// over
// TLS, unix:///path over a Unix socket.
func Dial(ctx context.Context, url string, realm wamp.URI, opts Options) (*Client, error) {
	serializer := opts.Serializer
	if serializer == "" {
		serializer = wamp.JSON.Name()
	}
	if _, ok := wamp.CodecNamed(serializer); !ok {
		return nil, fmt.Errorf("unknown serializer %q", opts.Serializer)
	}
	if opts.TLSConfig != nil {
		opts.Transport.TLSConfig = opts.TLSConfig
	}
	dial := func(ctx context.Context) (peer.Client, error) {
		if rawsocket.IsURL(url) {
			return rawsocket.Dial(ctx, url, serializer, rawSocketOptions(opts.Transport))
		}
		return websocket.Dial(ctx, url, websocket.SubprotocolsFor(serializer), opts.Header, opts.Transport)
	}
	conn, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	opts.redial = dial
	return Join(ctx, conn, realm, opts)
}

// rawSocketOptions are the RawSocket dialer's share of a client's transport options.
func rawSocketOptions(o websocket.Options) rawsocket.Options {
	return rawsocket.Options{MaxMessageSize: int(min(o.MaxMessageSize, rawsocket.MaxLength)), PingInterval: o.PingInterval,
		PongTimeout: o.PongTimeout, WriteTimeout: o.WriteTimeout, QueueMessages: o.QueueMessages,
		QueueBytes: o.QueueBytes, ReadBufferSize: o.ReadBufferSize, TLSConfig: o.TLSConfig,
		NetDialContext: o.NetDialContext}
}

// Join joins realm over a connection that is already open, of any transport (Dial opens a
// WebSocket; Router.LocalClient an in-memory connection). The client owns conn from then on,
// also when joining fails.
func Join(ctx context.Context, conn peer.Client, realm wamp.URI, opts Options) (*Client, error) {
	codec, ok := wamp.CodecNamed(conn.Serializer())
	if !ok {
		conn.Abort(peer.CloseNormal, "")
		conn.Done()
		return nil, fmt.Errorf("join %s: the connection carries an unknown serializer %q", realm, conn.Serializer())
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.EventQueue <= 0 {
		opts.EventQueue = 1024
	}
	c := &Client{conn: conn, codec: codec, log: opts.Logger,
		pending:       make(map[wamp.ID]*pendingRequest),
		running:       make(map[wamp.ID]*running),
		subscriptions: make(map[wamp.ID][]*Subscription),
		registrations: make(map[wamp.ID]*Registration),
		events:        make(chan func(), opts.EventQueue),
		goodbye:       make(chan struct{}),
		readerDone:    make(chan struct{}),
		eventsDone:    make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.rc = newReconnector(realm, opts)
	if err := c.join(ctx, realm, opts); err != nil {
		conn.Abort(peer.CloseNormal, "")
		conn.Done()
		c.cancel()
		return nil, err
	}
	go c.readLoop()
	go c.eventLoop()
	return c, nil
}

// join sends HELLO, answers the router's CHALLENGEs and waits for WELCOME.
func (c *Client) join(ctx context.Context, realm wamp.URI, opts Options) error {
	details := wamp.Dict{}
	for k, v := range opts.HelloDetails {
		details[k] = v
	}
	details["roles"] = clientRoles
	details["agent"] = "pawl-go-client/0.1"
	auth := newClientAuth(opts, c.conn)
	auth.hello(details)
	if err := c.send(&wamp.Hello{Realm: realm, Details: details}); err != nil {
		return fmt.Errorf("send HELLO: %w", err)
	}
	for {
		m, err := c.readHandshake(ctx, realm)
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *wamp.Welcome:
			if err := auth.welcome(m.Details); err != nil {
				c.send(&wamp.Abort{Details: wamp.Dict{"message": err.Error()}, Reason: ErrCannotAuthenticate})
				return fmt.Errorf("join %s: %w", realm, err)
			}
			c.id, c.welcome = m.Session, m.Details
			c.log = c.log.With("session", m.Session)
			return nil
		case *wamp.Abort:
			msg, _ := m.Details.String("message")
			return &wamp.ApplicationError{URI: m.Reason, Args: wamp.List{msg}, Details: m.Details}
		case *wamp.Challenge:
			sig, extra, err := auth.challenge(ctx, m)
			if err != nil {
				c.send(&wamp.Abort{Details: wamp.Dict{"message": err.Error()}, Reason: ErrCannotAuthenticate})
				return fmt.Errorf("join %s: answering the %s challenge: %w", realm, m.AuthMethod, err)
			}
			if extra == nil {
				extra = wamp.Dict{}
			}
			if err := c.send(&wamp.Authenticate{Signature: sig, Extra: extra}); err != nil {
				return fmt.Errorf("send AUTHENTICATE: %w", err)
			}
		default:
			return fmt.Errorf("join %s: expected WELCOME, got %s", realm, m.Type())
		}
	}
}

// readHandshake reads one message during the handshake, giving up when ctx ends.
func (c *Client) readHandshake(ctx context.Context, realm wamp.URI) (wamp.Message, error) {
	type reply struct {
		m   wamp.Message
		err error
	}
	got := make(chan reply, 1)
	go func() {
		data, err := c.conn.Read()
		if err != nil {
			got <- reply{err: fmt.Errorf("waiting for WELCOME: %w", err)}
			return
		}
		m, err := c.codec.Decode(data)
		got <- reply{m, err}
	}()
	select {
	case r := <-got:
		return r.m, r.err
	case <-ctx.Done():
		c.conn.Abort(peer.CloseNormal, "")
		<-got
		return nil, fmt.Errorf("join %s: %w", realm, ctx.Err())
	}
}

// ID is the session ID the router assigned.
func (c *Client) ID() wamp.ID {
	c.connMu.RLock()
	defer c.connMu.RUnlock()
	return c.id
}

// Welcome is the WELCOME's details: the router's roles and features, authid, authrole.
func (c *Client) Welcome() wamp.Dict {
	c.connMu.RLock()
	defer c.connMu.RUnlock()
	return c.welcome
}

// connection is the current connection.
func (c *Client) connection() peer.Client {
	c.connMu.RLock()
	defer c.connMu.RUnlock()
	return c.conn
}

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.eventsDone }

// Err says why the session ended (nil while it runs, or after Close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// send encodes and queues m, waiting for room when the connection's queue is full.
func (c *Client) send(m wamp.Message) error {
	frame, err := c.codec.Encode(nil, m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	if err := c.connection().SendWait(c.ctx, frame); err != nil {
		if errors.Is(err, peer.ErrClosed) {
			err = c.closedErr() // ErrClosed, and why (reconnecting, or why the session ended)
		}
		return fmt.Errorf("send %s: %w", m.Type(), err)
	}
	return nil
}

// pendingRequest is a request waiting for the router's answer. progress, when set, receives
// progressive results before the final one.
type pendingRequest struct {
	ch       chan wamp.Message
	progress func(wamp.Message)
	// onReply, when set, sees the final answer on the read loop before the waiter gets it, so
	// that what follows the answer on the wire (an EVENT after SUBSCRIBED) finds its effect.
	onReply func(wamp.Message)
}

// request sends m (whose request ID is req) and waits for the router's answer.
func (c *Client) request(ctx context.Context, req wamp.ID, m wamp.Message, progress func(wamp.Message)) (wamp.Message, error) {
	p, err := c.start(req, m, progress)
	if err != nil {
		return nil, err
	}
	return c.wait(ctx, req, p)
}

// start records a pending request and sends m.
func (c *Client) start(req wamp.ID, m wamp.Message, progress func(wamp.Message)) (*pendingRequest, error) {
	p := &pendingRequest{ch: make(chan wamp.Message, 1), progress: progress}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	c.pending[req] = p
	c.mu.Unlock()
	if err := c.send(m); err != nil {
		c.forget(req)
		return nil, err
	}
	return p, nil
}

// wait waits for a started request's final answer; an ERROR becomes an ApplicationError.
func (c *Client) wait(ctx context.Context, req wamp.ID, p *pendingRequest) (wamp.Message, error) {
	select {
	case reply, ok := <-p.ch:
		if !ok {
			return nil, c.closedErr()
		}
		if e, isErr := reply.(*wamp.Error); isErr {
			return nil, errorFrom(e)
		}
		return reply, nil
	case <-ctx.Done():
		c.forget(req)
		return nil, ctx.Err()
	}
}

func (c *Client) forget(req wamp.ID) {
	c.mu.Lock()
	delete(c.pending, req)
	c.mu.Unlock()
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeErr != nil {
		return fmt.Errorf("%w: %w", ErrClosed, c.closeErr)
	}
	return ErrClosed
}

// errorFrom turns an ERROR message into the Go error a caller sees.
func errorFrom(e *wamp.Error) error {
	args, kwargs, err := e.Payload.Values()
	if err != nil {
		return fmt.Errorf("%s (undecodable payload: %w)", e.Error, err)
	}
	return &wamp.ApplicationError{URI: e.Error, Args: args, Kwargs: kwargs, Details: e.Details}
}

// Close leaves the realm with GOODBYE and closes the connection, waiting for the router's
// answer for at most a few seconds.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.leaving || c.closed
	c.leaving = true
	c.mu.Unlock()
	c.rc.stop() // no reconnecting from here on
	if !already {
		if err := c.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal}); err == nil {
			select {
			case <-c.goodbye:
			case <-c.readerDone:
			case <-time.After(goodbyeGrace):
			}
		}
	}
	c.connection().Close(peer.CloseNormal, "")
	<-c.readerDone
	<-c.eventsDone
	return nil
}

// readLoop reads and dispatches messages until the session ends, reconnecting in between
// when a ReconnectPolicy says so. It alone ends the session (shutdown), so no event is ever
// queued after the event queue closes.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	for {
		err := c.readConn(c.conn)
		if !c.rejoin(err) {
			c.rc.wait() // a rejoin's restoring ends before the event queue closes
			c.shutdown(err)
			return
		}
	}
}

// readConn reads and dispatches conn's messages until it ends.
func (c *Client) readConn(conn peer.Client) error {
	defer conn.Done()
	for {
		data, err := conn.Read()
		if err != nil {
			if reason := closeReason(conn); reason != nil {
				c.endWith(reason)
			}
			return fmt.Errorf("connection lost: %w", err)
		}
		m, err := c.codec.Decode(data)
		if err != nil {
			c.log.Warn("malformed message from router", "err", err)
			c.send(&wamp.Abort{Details: wamp.Dict{"message": err.Error()}, Reason: wamp.ErrProtocolViolation})
			c.endWith(fmt.Errorf("router sent a malformed message: %w", err))
			conn.Close(peer.CloseProtocolError, "malformed message")
			continue // read until the close completes
		}
		if c.deliverReply(m) {
			continue
		}
		h, ok := clientHandlers.Lookup(m.Type())
		if !ok {
			c.log.Warn("unexpected message from router", "type", m.Type())
			continue
		}
		h(c, m)
	}
}

// endWith records why the router ended the session; shutdown reports it.
func (c *Client) endWith(reason error) {
	c.mu.Lock()
	if c.endReason == nil {
		c.endReason = reason
	}
	c.mu.Unlock()
}

func (c *Client) onAbort(m *wamp.Abort) {
	c.endWith(&wamp.ApplicationError{URI: m.Reason, Details: m.Details})
	c.conn.Close(peer.CloseNormal, "")
}

// deliverReply hands a reply to the request waiting for it.
func (c *Client) deliverReply(m wamp.Message) bool {
	var req wamp.ID
	switch m := m.(type) {
	case *wamp.Subscribed:
		req = m.Request
	case *wamp.Unsubscribed:
		req = m.Request
	case *wamp.Published:
		req = m.Request
	case *wamp.Registered:
		req = m.Request
	case *wamp.Unregistered:
		req = m.Request
	case *wamp.Result:
		req = m.Request
	case *wamp.Error:
		req = m.Request
	default:
		return false
	}
	// A progressive result is never the final answer, even for a request that no longer
	// wants progress (a call being canceled with mode kill waits for its final answer).
	progress := false
	if r, isResult := m.(*wamp.Result); isResult {
		progress, _ = r.Details.Bool("progress")
	}
	c.mu.Lock()
	p, ok := c.pending[req]
	if !progress {
		delete(c.pending, req)
	}
	c.mu.Unlock()
	switch {
	case !ok:
	case progress:
		if p.progress != nil {
			p.progress(m)
		}
	default:
		if p.onReply != nil {
			p.onReply(m)
		}
		p.ch <- m
	}
	return true
}

func (c *Client) onGoodbye(m *wamp.Goodbye) {
	c.mu.Lock()
	leaving := c.leaving
	c.mu.Unlock()
	if leaving {
		close(c.goodbye) // the router answered our GOODBYE
	} else {
		// The router ends the session: answer, as the spec asks.
		c.endWith(&wamp.ApplicationError{URI: m.Reason, Details: m.Details})
		c.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut})
	}
	c.conn.Close(peer.CloseNormal, "")
}

// shutdown marks the session ended: pending requests fail, handlers stop. Only readLoop calls it.
func (c *Client) shutdown(connErr error) {
	c.mu.Lock()
	c.closed = true
	switch {
	case c.endReason != nil:
		c.closeErr = c.endReason
	case !c.leaving:
		c.closeErr = connErr
	}
	pending := c.pending
	c.pending = map[wamp.ID]*pendingRequest{}
	serving := c.running
	c.running = map[wamp.ID]*running{}
	c.mu.Unlock()
	for _, p := range pending {
		close(p.ch)
	}
	for _, r := range serving {
		r.cancel()
	}
	c.cancel()
	close(c.events)
}
