package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/transport"
	"github.com/pawl-wamp/pawl/wamp"
)

// ClientOptions configure a Go client session. The zero value joins anonymously over JSON.
type ClientOptions struct {
	// Serializer is "json" (default) or "msgpack".
	Serializer string
	// AuthID is sent in HELLO (optional).
	AuthID string
	// HelloDetails are merged into HELLO.Details (roles are always set by the client).
	HelloDetails wamp.Dict
	// Header is sent with the WebSocket upgrade request (cookies, authorization).
	Header http.Header
	// Transport limits for the connection (max message size, keepalive, queue bounds).
	Transport transport.Options
	// EventQueue bounds the events waiting for their handlers (default 1024). When it is
	// full the client stops reading, and a router that cannot deliver either cuts it off.
	EventQueue int
	// Logger receives the client's logs (default slog.Default()).
	Logger *slog.Logger
}

// ErrClosed is returned by requests on a client whose session has ended.
var ErrClosed = errors.New("session closed")

// Event is one event delivered to a subscription handler.
type Event struct {
	Subscription wamp.ID
	Publication  wamp.ID
	Args         wamp.List
	Kwargs       wamp.Dict
	Details      wamp.Dict
}

// EventHandler receives the events of a subscription, in order, one at a time.
type EventHandler func(e *Event)

// Invocation is one call of a registered procedure.
type Invocation struct {
	Registration wamp.ID
	Args         wamp.List
	Kwargs       wamp.Dict
	Details      wamp.Dict
}

// Result is what a procedure returns and what Call gets back.
type Result struct {
	Args    wamp.List
	Kwargs  wamp.Dict
	Details wamp.Dict
}

// ProcedureHandler implements a registered procedure. Return a *wamp.ApplicationError to fail
// the call with a URI and payload; any other error becomes wamp.error.runtime_error.
// Each invocation runs on its own goroutine; ctx ends when the client closes.
type ProcedureHandler func(ctx context.Context, inv *Invocation) (*Result, error)

// Subscription is an active subscription.
type Subscription struct {
	ID      wamp.ID
	Topic   wamp.URI
	handler EventHandler
}

// Registration is an active registration.
type Registration struct {
	ID        wamp.ID
	Procedure wamp.URI
	handler   ProcedureHandler
}

// Client is a WAMP session seen from the peer's side: it publishes, subscribes, calls and
// registers. Its methods are safe for concurrent use.
type Client struct {
	conn    *transport.Conn
	codec   wamp.Codec
	id      wamp.ID
	welcome wamp.Dict
	log     *slog.Logger
	reqIDs  wamp.IDGen

	mu            sync.Mutex
	pending       map[wamp.ID]chan wamp.Message
	subscriptions map[wamp.ID][]*Subscription
	registrations map[wamp.ID]*Registration
	leaving       bool  // Close said GOODBYE
	closed        bool  // the session has ended
	closeErr      error // why the session ended
	endReason     error // why the router ended it, recorded until the connection closes

	events     chan func()
	ctx        context.Context // canceled when the session ends; procedure handlers get it
	cancel     context.CancelFunc
	goodbye    chan struct{} // closed when the router answers our GOODBYE
	readerDone chan struct{}
	eventsDone chan struct{}
}

// clientHandlers is the client's dispatch table: what the client does with each message the
// router may send to an established session other than replies to its own requests.
var clientHandlers = func() *Dispatch[*Client] {
	d := &Dispatch[*Client]{}
	On(d, (*Client).onEvent)
	On(d, (*Client).onInvocation)
	On(d, (*Client).onInterrupt)
	On(d, (*Client).onGoodbye)
	On(d, (*Client).onAbort)
	return d
}()

// Dial connects to a router at url (ws:// or wss://) and joins realm.
func Dial(ctx context.Context, url string, realm wamp.URI, opts ClientOptions) (*Client, error) {
	codec := wamp.JSON
	if opts.Serializer != "" {
		var ok bool
		if codec, ok = wamp.CodecNamed(opts.Serializer); !ok {
			return nil, fmt.Errorf("unknown serializer %q", opts.Serializer)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.EventQueue <= 0 {
		opts.EventQueue = 1024
	}
	conn, err := transport.Dial(ctx, url, []string{codec.Subprotocol()}, opts.Header, opts.Transport)
	if err != nil {
		return nil, err
	}
	conn.SetBinary(codec.Binary())
	c := &Client{conn: conn, codec: codec, log: opts.Logger,
		pending:       make(map[wamp.ID]chan wamp.Message),
		subscriptions: make(map[wamp.ID][]*Subscription),
		registrations: make(map[wamp.ID]*Registration),
		events:        make(chan func(), opts.EventQueue),
		goodbye:       make(chan struct{}),
		readerDone:    make(chan struct{}),
		eventsDone:    make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.join(ctx, realm, opts); err != nil {
		conn.Abort(transport.CloseNormal, "")
		conn.Done()
		c.cancel()
		return nil, err
	}
	go c.readLoop()
	go c.eventLoop()
	return c, nil
}

// join sends HELLO and waits for WELCOME.
func (c *Client) join(ctx context.Context, realm wamp.URI, opts ClientOptions) error {
	details := wamp.Dict{}
	for k, v := range opts.HelloDetails {
		details[k] = v
	}
	details["roles"] = wamp.Dict{
		"publisher":  wamp.Dict{"features": wamp.Dict{"publisher_exclusion": true}},
		"subscriber": wamp.Dict{"features": wamp.Dict{}},
		"caller":     wamp.Dict{"features": wamp.Dict{}},
		"callee":     wamp.Dict{"features": wamp.Dict{}},
	}
	details["agent"] = "pawl-go-client/0.1"
	if opts.AuthID != "" {
		details["authid"] = opts.AuthID
	}
	if err := c.send(&wamp.Hello{Realm: realm, Details: details}); err != nil {
		return fmt.Errorf("send HELLO: %w", err)
	}
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
	var r reply
	select {
	case r = <-got:
	case <-ctx.Done():
		c.conn.Abort(transport.CloseNormal, "")
		<-got
		return fmt.Errorf("join %s: %w", realm, ctx.Err())
	}
	if r.err != nil {
		return r.err
	}
	switch m := r.m.(type) {
	case *wamp.Welcome:
		c.id, c.welcome = m.Session, m.Details
		c.log = c.log.With("session", m.Session)
		return nil
	case *wamp.Abort:
		msg, _ := m.Details.String("message")
		return &wamp.ApplicationError{URI: m.Reason, Args: wamp.List{msg}, Details: m.Details}
	default:
		return fmt.Errorf("join %s: expected WELCOME, got %s", realm, r.m.Type())
	}
}

// ID is the session ID the router assigned.
func (c *Client) ID() wamp.ID { return c.id }

// Welcome is the WELCOME's details: the router's roles and features, authid, authrole.
func (c *Client) Welcome() wamp.Dict { return c.welcome }

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
	if err := c.conn.SendWait(c.ctx, frame); err != nil {
		return fmt.Errorf("send %s: %w", m.Type(), err)
	}
	return nil
}

// request sends m (whose request ID is req) and waits for the router's answer.
func (c *Client) request(ctx context.Context, req wamp.ID, m wamp.Message) (wamp.Message, error) {
	ch := make(chan wamp.Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	c.pending[req] = ch
	c.mu.Unlock()
	if err := c.send(m); err != nil {
		c.forget(req)
		return nil, err
	}
	select {
	case reply, ok := <-ch:
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

// Subscribe subscribes to topic; handler receives its events in order. options may be nil.
func (c *Client) Subscribe(ctx context.Context, topic wamp.URI, handler EventHandler, options wamp.Dict) (*Subscription, error) {
	if options == nil {
		options = wamp.Dict{}
	}
	req := c.reqIDs.Next()
	reply, err := c.request(ctx, req, &wamp.Subscribe{Request: req, Options: options, Topic: topic})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	ack, ok := reply.(*wamp.Subscribed)
	if !ok {
		return nil, fmt.Errorf("subscribe %s: unexpected %s", topic, reply.Type())
	}
	sub := &Subscription{ID: ack.Subscription, Topic: topic, handler: handler}
	c.mu.Lock()
	c.subscriptions[sub.ID] = append(c.subscriptions[sub.ID], sub)
	c.mu.Unlock()
	return sub, nil
}

// Unsubscribe ends a subscription. The router is told when the last local handler of the
// subscription goes.
func (c *Client) Unsubscribe(ctx context.Context, sub *Subscription) error {
	c.mu.Lock()
	list := c.subscriptions[sub.ID]
	rest := list[:0:0]
	for _, x := range list {
		if x != sub {
			rest = append(rest, x)
		}
	}
	if len(rest) > 0 {
		c.subscriptions[sub.ID] = rest
	} else {
		delete(c.subscriptions, sub.ID)
	}
	c.mu.Unlock()
	if len(rest) > 0 {
		return nil
	}
	req := c.reqIDs.Next()
	if _, err := c.request(ctx, req, &wamp.Unsubscribe{Request: req, Subscription: sub.ID}); err != nil {
		return fmt.Errorf("unsubscribe %s: %w", sub.Topic, err)
	}
	return nil
}

// Publish publishes an event. With options {"acknowledge": true} it waits for the router's
// confirmation and reports its error; otherwise it returns once the event is queued.
func (c *Client) Publish(ctx context.Context, topic wamp.URI, options wamp.Dict, args wamp.List, kwargs wamp.Dict) error {
	if options == nil {
		options = wamp.Dict{}
	}
	req := c.reqIDs.Next()
	m := &wamp.Publish{Request: req, Options: options, Topic: topic, Payload: wamp.Payload{Args: args, Kwargs: kwargs}}
	if ack, _ := options.Bool("acknowledge"); !ack {
		if err := c.send(m); err != nil {
			return fmt.Errorf("publish %s: %w", topic, err)
		}
		return nil
	}
	if _, err := c.request(ctx, req, m); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// Register makes handler the implementation of procedure. options may be nil.
func (c *Client) Register(ctx context.Context, procedure wamp.URI, handler ProcedureHandler, options wamp.Dict) (*Registration, error) {
	if options == nil {
		options = wamp.Dict{}
	}
	req := c.reqIDs.Next()
	reply, err := c.request(ctx, req, &wamp.Register{Request: req, Options: options, Procedure: procedure})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", procedure, err)
	}
	ack, ok := reply.(*wamp.Registered)
	if !ok {
		return nil, fmt.Errorf("register %s: unexpected %s", procedure, reply.Type())
	}
	reg := &Registration{ID: ack.Registration, Procedure: procedure, handler: handler}
	c.mu.Lock()
	c.registrations[reg.ID] = reg
	c.mu.Unlock()
	return reg, nil
}

// Unregister removes a registration.
func (c *Client) Unregister(ctx context.Context, reg *Registration) error {
	req := c.reqIDs.Next()
	if _, err := c.request(ctx, req, &wamp.Unregister{Request: req, Registration: reg.ID}); err != nil {
		return fmt.Errorf("unregister %s: %w", reg.Procedure, err)
	}
	c.mu.Lock()
	delete(c.registrations, reg.ID)
	c.mu.Unlock()
	return nil
}

// Call calls a procedure and waits for its result. A failed call returns a
// *wamp.ApplicationError carrying the error URI and payload. When ctx ends first, Call
// returns ctx.Err() and a late result is dropped.
func (c *Client) Call(ctx context.Context, procedure wamp.URI, options wamp.Dict, args wamp.List, kwargs wamp.Dict) (*Result, error) {
	if options == nil {
		options = wamp.Dict{}
	}
	if deadline, ok := ctx.Deadline(); ok {
		if _, set := options["timeout"]; !set {
			if ms := time.Until(deadline).Milliseconds(); ms > 0 {
				options = withKey(options, "timeout", ms)
			}
		}
	}
	req := c.reqIDs.Next()
	reply, err := c.request(ctx, req, &wamp.Call{Request: req, Options: options, Procedure: procedure,
		Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", procedure, err)
	}
	res, ok := reply.(*wamp.Result)
	if !ok {
		return nil, fmt.Errorf("call %s: unexpected %s", procedure, reply.Type())
	}
	a, kw, err := res.Payload.Values()
	if err != nil {
		return nil, fmt.Errorf("call %s: result: %w", procedure, err)
	}
	return &Result{Args: a, Kwargs: kw, Details: res.Details}, nil
}

func withKey(d wamp.Dict, k string, v any) wamp.Dict {
	out := make(wamp.Dict, len(d)+1)
	for key, val := range d {
		out[key] = val
	}
	out[k] = v
	return out
}

// Close leaves the realm with GOODBYE and closes the connection, waiting for the router's
// answer for at most a few seconds.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.leaving || c.closed
	c.leaving = true
	c.mu.Unlock()
	if !already {
		if err := c.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal}); err == nil {
			select {
			case <-c.goodbye:
			case <-c.readerDone:
			case <-time.After(goodbyeGrace):
			}
		}
	}
	c.conn.Close(transport.CloseNormal, "")
	<-c.readerDone
	<-c.eventsDone
	return nil
}

// readLoop reads and dispatches messages until the connection ends. It alone ends the session
// (shutdown), so no event is ever queued after the event queue closes.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	defer c.conn.Done()
	for {
		data, err := c.conn.Read()
		if err != nil {
			c.shutdown(fmt.Errorf("connection lost: %w", err))
			return
		}
		m, err := c.codec.Decode(data)
		if err != nil {
			c.log.Warn("malformed message from router", "err", err)
			c.send(&wamp.Abort{Details: wamp.Dict{"message": err.Error()}, Reason: wamp.ErrProtocolViolation})
			c.endWith(fmt.Errorf("router sent a malformed message: %w", err))
			c.conn.Close(transport.CloseProtocolError, "malformed message")
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
	c.conn.Close(transport.CloseNormal, "")
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
	c.mu.Lock()
	ch, ok := c.pending[req]
	delete(c.pending, req)
	c.mu.Unlock()
	if ok {
		ch <- m
	}
	return true
}

func (c *Client) onEvent(m *wamp.Event) {
	c.mu.Lock()
	subs := c.subscriptions[m.Subscription]
	c.mu.Unlock()
	if len(subs) == 0 {
		return // unsubscribed meanwhile
	}
	args, kwargs, err := m.Payload.Values()
	if err != nil {
		c.log.Warn("event with undecodable payload dropped", "subscription", m.Subscription, "err", err)
		return
	}
	ev := &Event{Subscription: m.Subscription, Publication: m.Publication, Args: args, Kwargs: kwargs, Details: m.Details}
	c.events <- func() {
		for _, s := range subs {
			s.handler(ev)
		}
	}
}

func (c *Client) eventLoop() {
	defer close(c.eventsDone)
	for f := range c.events {
		f()
	}
}

func (c *Client) onInvocation(m *wamp.Invocation) {
	c.mu.Lock()
	reg := c.registrations[m.Registration]
	c.mu.Unlock()
	if reg == nil {
		c.send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: m.Request, Details: wamp.Dict{},
			Error: wamp.ErrNoSuchRegistration})
		return
	}
	args, kwargs, err := m.Payload.Values()
	if err != nil {
		c.send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: m.Request, Details: wamp.Dict{},
			Error: wamp.ErrInvalidArgument, Payload: wamp.WithArgs(err.Error())})
		return
	}
	inv := &Invocation{Registration: m.Registration, Args: args, Kwargs: kwargs, Details: m.Details}
	go c.invoke(reg, m.Request, inv)
}

// invoke runs a procedure and sends its YIELD or ERROR. A panic in the handler becomes an
// error for the caller instead of taking the client down.
func (c *Client) invoke(reg *Registration, req wamp.ID, inv *Invocation) {
	var (
		res *Result
		err error
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("procedure panicked: %v", p)
			}
		}()
		res, err = reg.handler(c.ctx, inv)
	}()
	if err != nil {
		var appErr *wamp.ApplicationError
		if !errors.As(err, &appErr) {
			appErr = &wamp.ApplicationError{URI: wamp.ErrRuntimeError, Args: wamp.List{err.Error()}}
		}
		details := appErr.Details
		if details == nil {
			details = wamp.Dict{}
		}
		c.send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: req, Details: details, Error: appErr.URI,
			Payload: wamp.Payload{Args: appErr.Args, Kwargs: appErr.Kwargs}})
		return
	}
	if res == nil {
		res = &Result{}
	}
	if err := c.send(&wamp.Yield{Request: req, Options: wamp.Dict{}, Payload: wamp.Payload{Args: res.Args, Kwargs: res.Kwargs}}); err != nil {
		c.log.Warn("result not sent", "procedure", reg.Procedure, "err", err)
	}
}

func (c *Client) onInterrupt(m *wamp.Interrupt) {
	// Interrupting a running invocation arrives with call canceling (a later feature); the
	// handler runs to completion and its late YIELD is dropped by the router.
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
	c.conn.Close(transport.CloseNormal, "")
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
	c.pending = map[wamp.ID]chan wamp.Message{}
	c.mu.Unlock()
	for _, ch := range pending {
		close(ch)
	}
	c.cancel()
	close(c.events)
}
