package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// Invocation is one call of a registered procedure.
type Invocation struct {
	Registration wamp.ID
	Args         wamp.List
	Kwargs       wamp.Dict
	// Details from the dealer: procedure (the URI called, for pattern registrations), caller,
	// caller_authid, caller_authrole (caller identification), receive_progress, timeout.
	Details wamp.Dict

	client  *Client
	request wamp.ID
	inputs  chan Input // later chunks of a progressive call invocation; nil when not progressive
}

// Input is one chunk a caller streams into a progressive call invocation.
type Input struct {
	Args   wamp.List
	Kwargs wamp.Dict
	Final  bool // the caller's last chunk
}

// Procedure is the URI that was called: for pattern registrations it differs from the
// registered one.
func (inv *Invocation) Procedure() wamp.URI {
	if p, ok := inv.Details.String("procedure"); ok {
		return wamp.URI(p)
	}
	return ""
}

// Progress sends a progressive result to the caller, when the caller asked for them
// (receive_progress); otherwise it does nothing and reports false.
func (inv *Invocation) Progress(args wamp.List, kwargs wamp.Dict) (bool, error) {
	if want, _ := inv.Details.Bool("receive_progress"); !want {
		return false, nil
	}
	err := inv.client.send(&wamp.Yield{Request: inv.request, Options: wamp.Dict{"progress": true},
		Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
	return err == nil, err
}

// Inputs delivers the further chunks of a progressive call invocation, ending with the one
// marked Final; it is nil for an ordinary call. The first chunk is in Args and Kwargs.
func (inv *Invocation) Inputs() <-chan Input { return inv.inputs }

// Result is what a procedure returns and what Call gets back.
type Result struct {
	Args    wamp.List
	Kwargs  wamp.Dict
	Details wamp.Dict
}

// ProcedureHandler implements a registered procedure. Return a *wamp.ApplicationError to fail
// the call with a URI and payload; any other error becomes wamp.error.runtime_error.
// Each invocation runs on its own goroutine. ctx ends when the dealer interrupts the call
// (the caller canceled, or its timeout passed) or when the client closes.
type ProcedureHandler func(ctx context.Context, inv *Invocation) (*Result, error)

// Registration is an active registration.
type Registration struct {
	ID        wamp.ID // the router's ID; a reconnection gives the registration a new one
	Procedure wamp.URI
	handler   ProcedureHandler
	options   wamp.Dict // as registered, to register again after a reconnection
}

// RegisterOptions are the REGISTER options the dealer understands; the zero value registers
// an exact URI for a single callee.
type RegisterOptions struct {
	Match          string // "exact" (default), "prefix" or "wildcard"
	Invoke         string // "single" (default), "roundrobin", "random", "first", "last"
	Concurrency    int    // the most invocations this callee runs at once; 0 = no limit
	DiscloseCaller bool   // ask for the caller's identity in every invocation
	ForwardTimeout bool   // receive the caller's timeout and enforce it here, not in the dealer
}

// Dict returns the options as REGISTER options.
func (o RegisterOptions) Dict() wamp.Dict {
	d := wamp.Dict{}
	if o.Match != "" {
		d["match"] = o.Match
	}
	if o.Invoke != "" {
		d["invoke"] = o.Invoke
	}
	if o.Concurrency > 0 {
		d["concurrency"] = int64(o.Concurrency)
	}
	if o.DiscloseCaller {
		d["disclose_caller"] = true
	}
	if o.ForwardTimeout {
		d["forward_timeout"] = true
	}
	return d
}

// Register makes handler the implementation of procedure. options may be nil; see
// RegisterOptions for the ones the dealer understands.
func (c *Client) Register(ctx context.Context, procedure wamp.URI, handler ProcedureHandler, options wamp.Dict) (*Registration, error) {
	if options == nil {
		options = wamp.Dict{}
	}
	req := c.reqIDs.Next()
	reply, err := c.request(ctx, req, &wamp.Register{Request: req, Options: options, Procedure: procedure}, nil)
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", procedure, err)
	}
	ack, ok := reply.(*wamp.Registered)
	if !ok {
		return nil, fmt.Errorf("register %s: unexpected %s", procedure, reply.Type())
	}
	reg := &Registration{ID: ack.Registration, Procedure: procedure, handler: handler, options: options}
	c.mu.Lock()
	c.registrations[reg.ID] = reg
	c.mu.Unlock()
	return reg, nil
}

// Unregister removes a registration.
func (c *Client) Unregister(ctx context.Context, reg *Registration) error {
	req := c.reqIDs.Next()
	c.mu.Lock()
	id := reg.ID // a reconnection changes it
	c.mu.Unlock()
	if _, err := c.request(ctx, req, &wamp.Unregister{Request: req, Registration: id}, nil); err != nil {
		return fmt.Errorf("unregister %s: %w", reg.Procedure, err)
	}
	c.mu.Lock()
	delete(c.registrations, id)
	c.mu.Unlock()
	return nil
}

// CallOptions shape one call.
type CallOptions struct {
	// Options are sent as CALL options (disclose_me, timeout in ms, ...).
	Options wamp.Dict
	// OnProgress receives progressive results (the call asks for them when it is set). It runs
	// on the client's reader goroutine, before the final result is returned: keep it short.
	OnProgress func(*Result)
	// CancelMode is how a canceled context cancels the call: "killnowait" (default), "kill"
	// (wait for the callee's answer) or "skip".
	CancelMode string
}

// Call calls a procedure and waits for its result. A failed call returns a
// *wamp.ApplicationError carrying the error URI and payload. When ctx ends first, the call is
// canceled at the dealer (CANCEL) and Call returns ctx.Err(); a ctx deadline is also sent as
// the call's timeout.
func (c *Client) Call(ctx context.Context, procedure wamp.URI, options wamp.Dict, args wamp.List, kwargs wamp.Dict) (*Result, error) {
	return c.CallWith(ctx, procedure, args, kwargs, CallOptions{Options: options})
}

// CallWith is Call with progressive results and a cancel mode.
func (c *Client) CallWith(ctx context.Context, procedure wamp.URI, args wamp.List, kwargs wamp.Dict, opts CallOptions) (*Result, error) {
	options := callOptions(ctx, opts)
	req := c.reqIDs.Next()
	call := &wamp.Call{Request: req, Options: options, Procedure: procedure, Payload: wamp.Payload{Args: args, Kwargs: kwargs}}
	return c.awaitCall(ctx, req, call, opts)
}

func callOptions(ctx context.Context, opts CallOptions) wamp.Dict {
	options := wamp.Dict{}
	for k, v := range opts.Options {
		options[k] = v
	}
	if opts.OnProgress != nil {
		options["receive_progress"] = true
	}
	if deadline, ok := ctx.Deadline(); ok {
		if _, set := options["timeout"]; !set {
			if ms := time.Until(deadline).Milliseconds(); ms > 0 {
				options["timeout"] = ms
			}
		}
	}
	return options
}

// awaitCall sends a CALL and waits for its final answer, canceling it when ctx ends.
func (c *Client) awaitCall(ctx context.Context, req wamp.ID, call *wamp.Call, opts CallOptions) (*Result, error) {
	p, err := c.start(req, call, progressHandler(opts))
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", call.Procedure, err)
	}
	return c.finishCall(ctx, req, p, call.Procedure, opts)
}

func progressHandler(opts CallOptions) func(wamp.Message) {
	if opts.OnProgress == nil {
		return nil
	}
	return func(m wamp.Message) {
		if res, err := resultOf(m.(*wamp.Result)); err == nil {
			opts.OnProgress(res)
		}
	}
}

// finishCall waits for a started call's final answer, canceling it when ctx ends.
func (c *Client) finishCall(ctx context.Context, req wamp.ID, p *pendingRequest, procedure wamp.URI, opts CallOptions) (*Result, error) {
	reply, err := c.wait(ctx, req, p)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		reply, err = c.cancelCall(req, opts.CancelMode, err)
	}
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", procedure, err)
	}
	res, ok := reply.(*wamp.Result)
	if !ok {
		return nil, fmt.Errorf("call %s: unexpected %s", procedure, reply.Type())
	}
	out, err := resultOf(res)
	if err != nil {
		return nil, fmt.Errorf("call %s: result: %w", procedure, err)
	}
	return out, nil
}

// cancelCall tells the dealer a call's caller stopped waiting. With mode kill it waits (a
// little) for the callee's answer, which is then the call's outcome.
func (c *Client) cancelCall(req wamp.ID, mode string, ctxErr error) (wamp.Message, error) {
	if mode == "" {
		mode = "killnowait"
	}
	features, _ := c.welcome.Dict("roles")
	dealer, _ := features.Dict("dealer")
	feats, _ := dealer.Dict("features")
	if ok, _ := feats.Bool("call_canceling"); !ok {
		return nil, ctxErr
	}
	if mode != "kill" {
		c.send(&wamp.Cancel{Request: req, Options: wamp.Dict{"mode": mode}})
		return nil, ctxErr
	}
	wait, cancel := context.WithTimeout(context.Background(), goodbyeGrace)
	defer cancel()
	// The call's pending entry was dropped when ctx ended; the callee's answer needs a new one.
	return c.request(wait, req, &wamp.Cancel{Request: req, Options: wamp.Dict{"mode": mode}}, nil)
}

func resultOf(r *wamp.Result) (*Result, error) {
	a, kw, err := r.Payload.Values()
	if err != nil {
		return nil, err
	}
	return &Result{Args: a, Kwargs: kw, Details: r.Details}, nil
}

// CallStream is a progressive call invocation: the caller streams its input in chunks.
type CallStream struct {
	client    *Client
	ctx       context.Context
	procedure wamp.URI
	req       wamp.ID
	opts      CallOptions
	pending   *pendingRequest // set once the first chunk is sent
}

// StreamCall starts a progressive call invocation of procedure: Send each chunk, then Finish
// with the last one to get the result. The callee must support progressive call invocations.
// A CallStream is used from one goroutine.
func (c *Client) StreamCall(ctx context.Context, procedure wamp.URI, opts CallOptions) *CallStream {
	return &CallStream{client: c, ctx: ctx, procedure: procedure, req: c.reqIDs.Next(), opts: opts}
}

// Send sends one chunk that is not the last.
func (st *CallStream) Send(args wamp.List, kwargs wamp.Dict) error {
	return st.chunk(args, kwargs, true)
}

// Finish sends the last chunk and waits for the call's result.
func (st *CallStream) Finish(args wamp.List, kwargs wamp.Dict) (*Result, error) {
	if err := st.chunk(args, kwargs, false); err != nil {
		return nil, err
	}
	return st.client.finishCall(st.ctx, st.req, st.pending, st.procedure, st.opts)
}

func (st *CallStream) chunk(args wamp.List, kwargs wamp.Dict, more bool) error {
	options := wamp.Dict{}
	if st.pending == nil {
		options = callOptions(st.ctx, st.opts)
	}
	if more {
		options["progress"] = true
	}
	call := &wamp.Call{Request: st.req, Options: options, Procedure: st.procedure, Payload: wamp.Payload{Args: args, Kwargs: kwargs}}
	if st.pending != nil {
		if err := st.client.send(call); err != nil {
			return fmt.Errorf("call %s: %w", st.procedure, err)
		}
		return nil
	}
	p, err := st.client.start(st.req, call, progressHandler(st.opts))
	if err != nil {
		return fmt.Errorf("call %s: %w", st.procedure, err)
	}
	st.pending = p
	return nil
}

// running is an invocation being served, so INTERRUPT can cancel it and progressive inputs
// can reach it.
type running struct {
	ctx    context.Context
	cancel context.CancelFunc
	inputs chan Input // nil once the final chunk arrived
}

// continueInvocation hands a further chunk of a progressive invocation to its procedure,
// waiting while the procedure's input queue is full (unless the procedure has finished).
func (c *Client) continueInvocation(run *running, m *wamp.Invocation) {
	args, kwargs, err := m.Payload.Values()
	if err != nil || run.inputs == nil {
		return
	}
	more, _ := m.Details.Bool("progress")
	select {
	case run.inputs <- Input{Args: args, Kwargs: kwargs, Final: !more}:
	case <-run.ctx.Done():
	}
	if !more {
		close(run.inputs)
		run.inputs = nil
	}
}

func (c *Client) onInvocation(m *wamp.Invocation) {
	c.mu.Lock()
	run := c.running[m.Request]
	c.mu.Unlock()
	if run != nil {
		c.continueInvocation(run, m)
		return
	}
	c.mu.Lock()
	stale := m.Request <= c.lastInvocation
	if !stale {
		c.lastInvocation = m.Request
	}
	c.mu.Unlock()
	if stale {
		// A chunk of a progressive invocation that has already finished: routers number
		// invocations upwards, so an old ID is never a new call.
		return
	}
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
	inv := &Invocation{Registration: m.Registration, Args: args, Kwargs: kwargs, Details: m.Details,
		client: c, request: m.Request}
	ctx, cancel := context.WithCancel(c.ctx)
	run = &running{ctx: ctx, cancel: cancel}
	if more, _ := m.Details.Bool("progress"); more {
		run.inputs = make(chan Input, progressiveInputQueue)
		inv.inputs = run.inputs
	}
	c.mu.Lock()
	c.running[m.Request] = run
	c.mu.Unlock()
	go c.invoke(ctx, reg, inv)
}

// progressiveInputQueue bounds the chunks waiting for a procedure that reads its inputs.
const progressiveInputQueue = 64

// invoke runs a procedure and sends its YIELD or ERROR. A panic in the handler becomes an
// error for the caller instead of taking the client down.
func (c *Client) invoke(ctx context.Context, reg *Registration, inv *Invocation) {
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
		res, err = reg.handler(ctx, inv)
	}()
	c.mu.Lock()
	run := c.running[inv.request]
	delete(c.running, inv.request)
	c.mu.Unlock()
	if run != nil {
		run.cancel()
	}
	if err != nil {
		var appErr *wamp.ApplicationError
		switch {
		case errors.As(err, &appErr):
		case errors.Is(err, context.Canceled):
			appErr = wamp.NewError(wamp.ErrCanceled, "invocation interrupted")
		default:
			appErr = &wamp.ApplicationError{URI: wamp.ErrRuntimeError, Args: wamp.List{err.Error()}}
		}
		details := appErr.Details
		if details == nil {
			details = wamp.Dict{}
		}
		c.send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: inv.request, Details: details, Error: appErr.URI,
			Payload: wamp.Payload{Args: appErr.Args, Kwargs: appErr.Kwargs}})
		return
	}
	if res == nil {
		res = &Result{}
	}
	if err := c.send(&wamp.Yield{Request: inv.request, Options: wamp.Dict{}, Payload: wamp.Payload{Args: res.Args, Kwargs: res.Kwargs}}); err != nil {
		c.log.Warn("result not sent", "procedure", reg.Procedure, "err", err)
	}
}

// onInterrupt cancels the context of the invocation the dealer interrupts.
func (c *Client) onInterrupt(m *wamp.Interrupt) {
	c.mu.Lock()
	run := c.running[m.Request]
	c.mu.Unlock()
	if run != nil {
		run.cancel()
	}
}
