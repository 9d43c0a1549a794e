package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// ReconnectPolicy makes a Client survive lost connections and router restarts: it dials and
// joins again, with exponential backoff and jitter, then subscribes and registers again
// everything it had (handlers stay in place; the router gives new IDs), and replays from the
// event history what a Resume subscription missed. Meanwhile, requests fail with ErrClosed
// (wrapping why the connection was lost) and running invocations are canceled.
//
// The client reconnects after a connection loss, and after the router closed the session
// with wamp.close.system_shutdown; not after Close, a kill (wamp.close.killed), an ABORT or
// a protocol error. The first Dial is not retried, and a client made by Join over a
// connection of the caller's does not reconnect (it cannot open another). The zero value retries forever, from
// half a second up to 30 s apart.
type ReconnectPolicy struct {
	// InitialDelay is the wait before the first attempt (default 500ms).
	InitialDelay time.Duration
	// MaxDelay caps the wait between attempts (default 30s).
	MaxDelay time.Duration
	// Multiplier grows the wait after each failed attempt (default 2).
	Multiplier float64
	// Jitter spreads each wait randomly by up to this fraction either way (default 0.2;
	// negative: none), so that clients cut off together do not come back together.
	Jitter float64
	// MaxAttempts is how many attempts in a row may fail before the client gives up and its
	// session ends (0: never).
	MaxAttempts int
	// AttemptTimeout bounds one attempt's dial and join (default 30s).
	AttemptTimeout time.Duration
	// OnDisconnect, when set, is told (on the client's reader goroutine) that the connection
	// was lost and why, before the first attempt.
	OnDisconnect func(err error)
	// OnRejoin, when set, is called once the client has joined again and restored its
	// subscriptions and registrations (on a goroutine of its own).
	OnRejoin func(c *Client)
}

func (p ReconnectPolicy) withDefaults() ReconnectPolicy {
	if p.InitialDelay <= 0 {
		p.InitialDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	if p.Jitter == 0 {
		p.Jitter = 0.2
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	return p
}

// delay is the wait before attempt n (1-based).
func (p ReconnectPolicy) delay(n int) time.Duration {
	d := float64(p.InitialDelay)
	for i := 1; i < n && d < float64(p.MaxDelay); i++ {
		d *= p.Multiplier
	}
	d = min(d, float64(p.MaxDelay))
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// reconnector is a client's way back: where it dialed, with what, and the restoring of a
// rejoin under way.
type reconnector struct {
	policy ReconnectPolicy
	realm  wamp.URI
	opts   Options // opts.redial opens a connection

	ctx      context.Context // canceled by stop: no more attempts
	cancel   context.CancelFunc
	restores sync.WaitGroup
}

func newReconnector(realm wamp.URI, opts Options) *reconnector {
	if opts.Reconnect == nil || opts.redial == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &reconnector{policy: opts.Reconnect.withDefaults(), realm: realm, opts: opts, ctx: ctx, cancel: cancel}
}

// stop ends reconnecting (Client.Close). Safe on a nil reconnector.
func (rc *reconnector) stop() {
	if rc != nil {
		rc.cancel()
	}
}

// wait waits for a restore under way. Safe on a nil reconnector.
func (rc *reconnector) wait() {
	if rc != nil {
		rc.cancel()
		rc.restores.Wait()
	}
}

// retriable reports whether the way the session ended allows reconnecting.
func retriable(reason error) bool {
	if reason == nil {
		return true // the connection was lost
	}
	ae, ok := reason.(*wamp.ApplicationError)
	return ok && ae.URI == wamp.CloseSystemShutdown
}

// rejoin runs on the reader goroutine once a connection has ended: it reports false when the
// session is over, or dials and joins again and reports true, with c.conn the new connection
// and the restoring of subscriptions and registrations started.
func (c *Client) rejoin(lost error) bool {
	rc := c.rc
	if rc == nil || rc.ctx.Err() != nil {
		return false
	}
	c.mu.Lock()
	if c.leaving || !retriable(c.endReason) {
		c.mu.Unlock()
		return false
	}
	reason := c.endReason // restored if the client gives up
	if reason != nil {
		lost = fmt.Errorf("%w (%w)", lost, reason)
	}
	// The session is over: what waited on it fails, what it served stops, and what it had
	// is kept to be restored.
	c.endReason = nil
	c.closeErr = fmt.Errorf("reconnecting: %w", lost)
	pending, serving := c.pending, c.running
	c.pending, c.running = map[wamp.ID]*pendingRequest{}, map[wamp.ID]*running{}
	subs, regs := c.subscriptions, c.registrations
	c.subscriptions, c.registrations = map[wamp.ID][]*Subscription{}, map[wamp.ID]*Registration{}
	c.lastInvocation = 0 // a new session numbers its invocations afresh
	for _, group := range subs {
		for _, s := range group {
			if s.resume != nil {
				s.resume.hold() // before SUBSCRIBE goes out: its events wait for the replay
			}
		}
	}
	c.mu.Unlock()
	for _, p := range pending {
		close(p.ch)
	}
	for _, r := range serving {
		r.cancel()
	}
	c.log.Warn("connection lost; reconnecting", "err", lost)
	if rc.policy.OnDisconnect != nil {
		rc.policy.OnDisconnect(lost)
	}

	for attempt := 1; rc.policy.MaxAttempts == 0 || attempt <= rc.policy.MaxAttempts; attempt++ {
		t := time.NewTimer(rc.policy.delay(attempt))
		select {
		case <-t.C:
		case <-rc.ctx.Done(): // Close: the session ends as if it had not been lost
			t.Stop()
			c.mu.Lock()
			c.closeErr = nil
			c.mu.Unlock()
			return false
		}
		fresh, err := c.dialAgain()
		if err != nil {
			c.log.Info("reconnect attempt failed", "attempt", attempt, "err", err)
			continue
		}
		c.connMu.Lock()
		c.conn, c.id, c.welcome = fresh.conn, fresh.id, fresh.welcome
		c.connMu.Unlock()
		c.mu.Lock()
		c.closeErr = nil
		c.mu.Unlock()
		c.log.Info("rejoined", "new_session", fresh.id, "attempt", attempt)
		rc.restores.Add(1)
		go func() {
			defer rc.restores.Done()
			c.restore(subs, regs)
		}()
		return true
	}
	c.log.Warn("giving up reconnecting", "attempts", rc.policy.MaxAttempts)
	c.endWith(reason)
	return false
}

// dialAgain dials and joins with the client's original settings. The handshake runs on a
// client of its own, whose connection, session ID and WELCOME the caller takes over.
func (c *Client) dialAgain() (*Client, error) {
	rc := c.rc
	ctx, cancel := context.WithTimeout(rc.ctx, rc.policy.AttemptTimeout)
	defer cancel()
	conn, err := rc.opts.redial(ctx)
	if err != nil {
		return nil, err
	}
	fresh := &Client{conn: conn, codec: c.codec, log: rc.opts.Logger, ctx: ctx}
	if err := fresh.join(ctx, rc.realm, rc.opts); err != nil {
		conn.Abort(peer.CloseNormal, "")
		conn.Done()
		return nil, err
	}
	return fresh, nil
}

// restore subscribes and registers again what the client had before it rejoined, and starts
// the replay of what Resume subscriptions missed.
func (c *Client) restore(subs map[wamp.ID][]*Subscription, regs map[wamp.ID]*Registration) {
	ctx, cancel := context.WithTimeout(c.rc.ctx, c.rc.policy.AttemptTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, group := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.resubscribe(ctx, group); err != nil {
				c.log.Warn("subscription not restored", "topic", group[0].Topic, "err", err)
			}
		}()
	}
	for _, reg := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.reregister(ctx, reg); err != nil {
				c.log.Warn("registration not restored", "procedure", reg.Procedure, "err", err)
			}
		}()
	}
	wg.Wait()
	if f := c.rc.policy.OnRejoin; f != nil && ctx.Err() == nil {
		f(c)
	}
}

// requestThen sends m and waits for the answer; onReply sees it first, on the reader
// goroutine, so that what follows the answer on the wire finds its effect.
func (c *Client) requestThen(ctx context.Context, req wamp.ID, m wamp.Message, onReply func(wamp.Message)) (wamp.Message, error) {
	p := &pendingRequest{ch: make(chan wamp.Message, 1), onReply: onReply}
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
	return c.wait(ctx, req, p)
}

// resubscribe subscribes again for a group of local subscriptions that shared one router
// subscription, and has each Resume subscription's history replayed.
func (c *Client) resubscribe(ctx context.Context, group []*Subscription) error {
	c.mu.Lock()
	live := make([]*Subscription, 0, len(group))
	for _, s := range group {
		if !s.dropped {
			live = append(live, s)
		}
	}
	c.mu.Unlock()
	if len(live) == 0 {
		return nil
	}
	req := c.reqIDs.Next()
	_, err := c.requestThen(ctx, req, &wamp.Subscribe{Request: req, Options: live[0].options, Topic: live[0].Topic}, func(m wamp.Message) {
		ack, ok := m.(*wamp.Subscribed)
		if !ok {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range live {
			if !s.dropped {
				s.ID = ack.Subscription
				c.subscriptions[s.ID] = append(c.subscriptions[s.ID], s)
			}
		}
	})
	if err != nil {
		for _, s := range live {
			if s.resume != nil {
				c.replay(s, nil) // deliver what was held
			}
		}
		return err
	}
	for _, s := range live {
		if s.resume != nil {
			c.fetchMissed(ctx, s)
		}
	}
	return nil
}

// fetchMissed reads, from the event history, what s missed since the last event its handler
// got, and queues the replay. The CALL's answer is handled on the reader goroutine, so the
// replay is queued in order with the events around it.
func (c *Client) fetchMissed(ctx context.Context, s *Subscription) {
	c.mu.Lock()
	id := s.ID
	c.mu.Unlock()
	q := s.resume.query()
	req := c.reqIDs.Next()
	call := &wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: "wamp.subscription.get_events",
		Payload: wamp.Payload{Args: wamp.List{id}, Kwargs: q.Kwargs()}}
	_, err := c.requestThen(ctx, req, call, func(m wamp.Message) {
		var missed []*Event
		if r, ok := m.(*wamp.Result); ok {
			if res, err := resultOf(r); err == nil {
				if hist, err := historyEvents(res); err == nil {
					for _, h := range hist {
						missed = append(missed, &Event{Subscription: id, Publication: h.Publication, Args: h.Args,
							Kwargs: h.Kwargs, Opaque: h.Opaque, Details: h.Details, topic: s.Topic})
					}
				}
			}
		}
		c.replay(s, missed)
	})
	if err != nil {
		c.log.Warn("missed events not replayed", "topic", s.Topic, "err", err)
	}
}

// replay queues, on the event goroutine, the delivery of missed events followed by the
// events held meanwhile. The event queue is open: the reader goroutine closes it only after
// the restoring has ended (rc.wait).
func (c *Client) replay(s *Subscription, missed []*Event) {
	st := s.resume
	c.events <- func() { st.replay(missed) }
}

// reregister registers a procedure again with its handler and options.
func (c *Client) reregister(ctx context.Context, reg *Registration) error {
	req := c.reqIDs.Next()
	_, err := c.requestThen(ctx, req, &wamp.Register{Request: req, Options: reg.options, Procedure: reg.Procedure}, func(m wamp.Message) {
		if ack, ok := m.(*wamp.Registered); ok {
			c.mu.Lock()
			reg.ID = ack.Registration
			c.registrations[reg.ID] = reg
			c.mu.Unlock()
		}
	})
	return err
}

// subscribeResumable subscribes with a handler that remembers the last publication it got,
// and holds newer events back while a replay from the history is due.
func (c *Client) subscribeResumable(ctx context.Context, topic wamp.URI, handler EventHandler, options wamp.Dict) (*Subscription, error) {
	st := &resumeState{user: handler, since: time.Now()}
	sub, err := c.Subscribe(ctx, topic, st.handle, options)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	sub.resume = st
	c.mu.Unlock()
	return sub, nil
}

// resumeState is what a Resume subscription knows of its events. handle and replay run on
// the client's event goroutine; hold and query on others, hence the lock.
type resumeState struct {
	user  EventHandler
	since time.Time // when it subscribed: the replay's start while no event was seen

	mu        sync.Mutex
	last      wamp.ID // the last publication the handler got
	replaying bool    // a replay is due: events wait in held
	held      []*Event
}

func (st *resumeState) handle(ev *Event) {
	st.mu.Lock()
	if st.replaying {
		st.held = append(st.held, ev)
		st.mu.Unlock()
		return
	}
	st.mu.Unlock()
	st.deliver(ev)
}

func (st *resumeState) deliver(ev *Event) {
	st.mu.Lock()
	st.last = ev.Publication
	st.mu.Unlock()
	st.user(ev)
}

func (st *resumeState) hold() {
	st.mu.Lock()
	st.replaying = true
	st.mu.Unlock()
}

// query selects what was missed: the events after the last one seen, or, with none seen,
// since the subscription was made.
func (st *resumeState) query() HistoryQuery {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.last != 0 {
		return HistoryQuery{AfterPublication: st.last}
	}
	return HistoryQuery{FromTime: st.since}
}

// replay delivers the missed events, then the held ones the history did not already hold
// (a retained copy of an event seen before is not delivered twice).
func (st *resumeState) replay(missed []*Event) {
	seen := make(map[wamp.ID]bool, len(missed))
	for _, ev := range missed {
		seen[ev.Publication] = true
		st.deliver(ev)
	}
	st.mu.Lock()
	held := st.held
	st.held, st.replaying = nil, false
	last := st.last
	st.mu.Unlock()
	for _, ev := range held {
		if seen[ev.Publication] || ev.Retained() && ev.Publication == last {
			continue
		}
		st.deliver(ev)
	}
}

// closeReason is why the router closed the connection, when its close frame says so with a
// WAMP close URI (a router that stops closes with 1001 and wamp.close.system_shutdown rather
// than saying GOODBYE): the session's error then names that reason.
func closeReason(conn peer.Client) error {
	pc, ok := conn.(interface{ PeerClose() (int, string) }) // a WebSocket connection
	if !ok {
		return nil
	}
	code, text := pc.PeerClose()
	if code == 0 || !strings.HasPrefix(text, "wamp.") {
		return nil
	}
	return &wamp.ApplicationError{URI: wamp.URI(text), Details: wamp.Dict{"close_code": code}}
}
