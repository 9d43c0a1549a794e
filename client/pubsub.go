package client

import (
	"context"
	"fmt"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// Event is one event delivered to a subscription handler.
type Event struct {
	Subscription wamp.ID
	Publication  wamp.ID
	Args         wamp.List
	Kwargs       wamp.Dict
	// Opaque is the payload of a payload passthru event (ppt_* details): one binary value,
	// delivered untouched. Args and Kwargs are then empty.
	Opaque []byte
	// Details from the broker: topic (pattern subscriptions), publisher, publisher_authid,
	// publisher_authrole (publisher identification), retained, ppt_* options.
	Details wamp.Dict

	topic wamp.URI // the subscription's topic
}

// Topic is the topic the event was published to: details.topic for pattern subscriptions,
// else the subscription's topic.
func (e *Event) Topic() wamp.URI {
	if t, ok := e.Details.String("topic"); ok {
		return wamp.URI(t)
	}
	return e.topic
}

// Publisher is the publisher's session ID, when it disclosed itself (0 otherwise).
func (e *Event) Publisher() wamp.ID {
	id, _ := wamp.AsID(e.Details["publisher"])
	return id
}

// Retained reports whether this is a retained event delivered on subscribing (get_retained).
func (e *Event) Retained() bool {
	v, _ := e.Details.Bool("retained")
	return v
}

// EventHandler receives the events of a subscription, in order, one at a time.
type EventHandler func(e *Event)

// Subscription is an active subscription.
type Subscription struct {
	ID      wamp.ID // the router's ID; a reconnection gives the subscription a new one
	Topic   wamp.URI
	handler EventHandler
	dropped bool         // guarded by the client's mutex: the subscribe was given up
	options wamp.Dict    // as subscribed, to subscribe again after a reconnection
	resume  *resumeState // SubscribeOptions.Resume (reconnect.go); guarded by the client's mutex
}

// SubscribeOptions are the SUBSCRIBE options the broker understands; the zero value
// subscribes to exactly one topic.
type SubscribeOptions struct {
	// Match is "exact" (default), "prefix" or "wildcard" (empty URI components match any
	// component: "com.example..update").
	Match string
	// GetRetained asks for the topic's retained event (or, for a pattern, the retained
	// event of every matching topic), delivered right after SUBSCRIBED with Retained() true.
	GetRetained bool
	// Resume (the client's own, not sent to the router): after a reconnection
	// (Options.Reconnect), deliver from the router's event history the events
	// published while the client was away, after the last one the handler got, before any
	// newer one. The topic must be kept in the realm's history (history.topics).
	Resume bool
}

// Dict returns the options as SUBSCRIBE options.
func (o SubscribeOptions) Dict() wamp.Dict {
	d := wamp.Dict{}
	if o.Match != "" {
		d["match"] = o.Match
	}
	if o.GetRetained {
		d["get_retained"] = true
	}
	return d
}

// PublishOptions are the PUBLISH options the broker understands; the zero value publishes
// to every other subscriber without acknowledgement.
type PublishOptions struct {
	// Acknowledge makes Publish wait for the broker's PUBLISHED (or error).
	Acknowledge bool
	// ExcludeMe false delivers the event to the publisher too, when it is subscribed. nil
	// leaves the broker's default (true: excluded).
	ExcludeMe *bool
	// DiscloseMe sends the publisher's session ID, authid and authrole with the event.
	DiscloseMe bool
	// Retain keeps the event as the topic's retained event for later subscribers.
	Retain bool
	// Black- and whitelisting: a subscriber receives the event only if it is in every
	// eligible list given and in no exclude list given. A non-nil empty eligible list lets
	// nobody through.
	Exclude          []wamp.ID
	ExcludeAuthID    []string
	ExcludeAuthRole  []string
	Eligible         []wamp.ID
	EligibleAuthID   []string
	EligibleAuthRole []string
	// Payload passthru mode: the scheme (e.g. "mqtt", "wamp", "x_custom") and optional
	// serializer, cipher and key ID, forwarded with the event untouched. See PublishOpaque.
	PPTScheme, PPTSerializer, PPTCipher, PPTKeyID string
}

// Dict returns the options as PUBLISH options.
func (o PublishOptions) Dict() wamp.Dict {
	d := wamp.Dict{}
	if o.Acknowledge {
		d["acknowledge"] = true
	}
	if o.ExcludeMe != nil {
		d["exclude_me"] = *o.ExcludeMe
	}
	if o.DiscloseMe {
		d["disclose_me"] = true
	}
	if o.Retain {
		d["retain"] = true
	}
	ids := func(key string, l []wamp.ID) {
		if l != nil {
			out := make(wamp.List, len(l))
			for i, id := range l {
				out[i] = id
			}
			d[key] = out
		}
	}
	strs := func(key string, l []string) {
		if l != nil {
			out := make(wamp.List, len(l))
			for i, s := range l {
				out[i] = s
			}
			d[key] = out
		}
	}
	ids("exclude", o.Exclude)
	ids("eligible", o.Eligible)
	strs("exclude_authid", o.ExcludeAuthID)
	strs("exclude_authrole", o.ExcludeAuthRole)
	strs("eligible_authid", o.EligibleAuthID)
	strs("eligible_authrole", o.EligibleAuthRole)
	for key, v := range map[string]string{"ppt_scheme": o.PPTScheme, "ppt_serializer": o.PPTSerializer,
		"ppt_cipher": o.PPTCipher, "ppt_keyid": o.PPTKeyID} {
		if v != "" {
			d[key] = v
		}
	}
	return d
}

// Bool returns a pointer to v, for PublishOptions.ExcludeMe.
func Bool(v bool) *bool { return &v }

// Subscribe subscribes to topic; handler receives its events in order. options may be nil;
// see SubscribeOptions for the ones the broker understands. The handler is in place before
// anything that follows SUBSCRIBED is read, so a retained event is never missed.
func (c *Client) Subscribe(ctx context.Context, topic wamp.URI, handler EventHandler, options wamp.Dict) (*Subscription, error) {
	if options == nil {
		options = wamp.Dict{}
	}
	req := c.reqIDs.Next()
	sub := &Subscription{Topic: topic, handler: handler, options: options}
	p := &pendingRequest{ch: make(chan wamp.Message, 1), onReply: func(m wamp.Message) {
		if ack, ok := m.(*wamp.Subscribed); ok {
			c.mu.Lock()
			if !sub.dropped {
				sub.ID = ack.Subscription
				c.subscriptions[sub.ID] = append(c.subscriptions[sub.ID], sub)
			}
			c.mu.Unlock()
		}
	}}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("subscribe %s: %w", topic, c.closedErr())
	}
	c.pending[req] = p
	c.mu.Unlock()
	if err := c.send(&wamp.Subscribe{Request: req, Options: options, Topic: topic}); err != nil {
		c.forget(req)
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	reply, err := c.wait(ctx, req, p)
	if err != nil {
		// A SUBSCRIBED that raced with the cancellation leaves a handler nobody asked for.
		c.dropLocal(sub)
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	if _, ok := reply.(*wamp.Subscribed); !ok {
		return nil, fmt.Errorf("subscribe %s: unexpected %s", topic, reply.Type())
	}
	return sub, nil
}

// SubscribeWith subscribes with typed options.
func (c *Client) SubscribeWith(ctx context.Context, topic wamp.URI, handler EventHandler, options SubscribeOptions) (*Subscription, error) {
	if options.Resume {
		return c.subscribeResumable(ctx, topic, handler, options.Dict())
	}
	return c.Subscribe(ctx, topic, handler, options.Dict())
}

// dropLocal removes a subscription's handler and reports how many handlers the
// subscription still has here.
func (c *Client) dropLocal(sub *Subscription) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	sub.dropped = true
	if sub.ID == 0 {
		return 0
	}
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
	return len(rest)
}

// Unsubscribe ends a subscription. The router is told when the last local handler of the
// subscription goes.
func (c *Client) Unsubscribe(ctx context.Context, sub *Subscription) error {
	if c.dropLocal(sub) > 0 {
		return nil
	}
	req := c.reqIDs.Next()
	c.mu.Lock()
	id := sub.ID // a reconnection changes it
	c.mu.Unlock()
	if _, err := c.request(ctx, req, &wamp.Unsubscribe{Request: req, Subscription: id}, nil); err != nil {
		return fmt.Errorf("unsubscribe %s: %w", sub.Topic, err)
	}
	return nil
}

// Publish publishes an event. With options {"acknowledge": true} it waits for the router's
// confirmation and reports its error; otherwise it returns once the event is queued. See
// PublishOptions for the options the broker understands.
func (c *Client) Publish(ctx context.Context, topic wamp.URI, options wamp.Dict, args wamp.List, kwargs wamp.Dict) error {
	return c.publish(ctx, topic, options, wamp.Payload{Args: args, Kwargs: kwargs})
}

// PublishWith publishes with typed options.
func (c *Client) PublishWith(ctx context.Context, topic wamp.URI, options PublishOptions, args wamp.List, kwargs wamp.Dict) error {
	return c.publish(ctx, topic, options.Dict(), wamp.Payload{Args: args, Kwargs: kwargs})
}

// PublishOpaque publishes in payload passthru mode: data travels as one binary value that
// the router does not look into. options.PPTScheme is required.
func (c *Client) PublishOpaque(ctx context.Context, topic wamp.URI, options PublishOptions, data []byte) error {
	if options.PPTScheme == "" {
		return fmt.Errorf("publish %s: payload passthru needs a ppt_scheme", topic)
	}
	if data == nil {
		data = []byte{}
	}
	return c.publish(ctx, topic, options.Dict(), wamp.Payload{Opaque: data})
}

// PublishAcknowledged publishes with acknowledge set and returns the publication's ID from the
// router's PUBLISHED (the HTTP bridge answers it to the HTTP publisher).
func (c *Client) PublishAcknowledged(ctx context.Context, topic wamp.URI, options wamp.Dict, args wamp.List, kwargs wamp.Dict) (wamp.ID, error) {
	opts := wamp.Dict{}
	for k, v := range options {
		opts[k] = v
	}
	opts["acknowledge"] = true
	req := c.reqIDs.Next()
	reply, err := c.request(ctx, req, &wamp.Publish{Request: req, Options: opts, Topic: topic,
		Payload: wamp.Payload{Args: args, Kwargs: kwargs}}, nil)
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w", topic, err)
	}
	ack, ok := reply.(*wamp.Published)
	if !ok {
		return 0, fmt.Errorf("publish %s: unexpected %s", topic, reply.Type())
	}
	return ack.Publication, nil
}

func (c *Client) publish(ctx context.Context, topic wamp.URI, options wamp.Dict, payload wamp.Payload) error {
	if options == nil {
		options = wamp.Dict{}
	}
	req := c.reqIDs.Next()
	m := &wamp.Publish{Request: req, Options: options, Topic: topic, Payload: payload}
	if ack, _ := options.Bool("acknowledge"); !ack {
		if err := c.send(m); err != nil {
			return fmt.Errorf("publish %s: %w", topic, err)
		}
		return nil
	}
	if _, err := c.request(ctx, req, m, nil); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
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
	ev := &Event{Subscription: m.Subscription, Publication: m.Publication, Args: args, Kwargs: kwargs,
		Opaque: m.Payload.Opaque, Details: m.Details, topic: subs[0].Topic}
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

// HistoryQuery selects events from the event history (the keyword arguments of
// wamp.subscription.get_events); the zero value selects all, oldest first.
type HistoryQuery struct {
	Limit   int  // most events returned; 0: all
	Reverse bool // newest first
	// Time bounds (zero: none): From ≤ t, After < t, t < Before, t ≤ Until.
	FromTime, AfterTime, BeforeTime, UntilTime time.Time
	// Publication bounds (0: none), positions in the history: from/until include the
	// publication named, after/before exclude it.
	FromPublication, AfterPublication, BeforePublication, UntilPublication wamp.ID
	// Topic keeps only events published to this topic (for pattern subscriptions).
	Topic wamp.URI
}

// Kwargs returns the query as keyword arguments.
func (q HistoryQuery) Kwargs() wamp.Dict {
	d := wamp.Dict{}
	if q.Limit > 0 {
		d["limit"] = int64(q.Limit)
	}
	if q.Reverse {
		d["reverse"] = true
	}
	for key, t := range map[string]time.Time{"from_time": q.FromTime, "after_time": q.AfterTime,
		"before_time": q.BeforeTime, "until_time": q.UntilTime} {
		if !t.IsZero() {
			d[key] = t.UTC().Format(time.RFC3339Nano)
		}
	}
	for key, id := range map[string]wamp.ID{"from_publication": q.FromPublication, "after_publication": q.AfterPublication,
		"before_publication": q.BeforePublication, "until_publication": q.UntilPublication} {
		if id != 0 {
			d[key] = id
		}
	}
	if q.Topic != "" {
		d["topic"] = string(q.Topic)
	}
	return d
}

// HistoryEvent is one event from the event history.
type HistoryEvent struct {
	Time         time.Time
	Subscription wamp.ID // 0 for TopicEvents
	Publication  wamp.ID
	Topic        wamp.URI
	Details      wamp.Dict
	Args         wamp.List
	Kwargs       wamp.Dict
	Opaque       []byte // payload passthru events
}

// GetEvents reads a subscription's event history (wamp.subscription.get_events).
func (c *Client) GetEvents(ctx context.Context, subscription wamp.ID, q HistoryQuery) ([]HistoryEvent, error) {
	res, err := c.Call(ctx, "wamp.subscription.get_events", nil, wamp.List{subscription}, q.Kwargs())
	if err != nil {
		return nil, err
	}
	return historyEvents(res)
}

// TopicEvents reads the event history of a topic, or a topic pattern with match "prefix" or
// "wildcard", without subscribing (Pawl's pawl.topic.get_events).
func (c *Client) TopicEvents(ctx context.Context, topic wamp.URI, match string, q HistoryQuery) ([]HistoryEvent, error) {
	args := wamp.List{string(topic)}
	if match != "" {
		args = append(args, wamp.Dict{"match": match})
	}
	res, err := c.Call(ctx, "pawl.topic.get_events", nil, args, q.Kwargs())
	if err != nil {
		return nil, err
	}
	return historyEvents(res)
}

func historyEvents(res *Result) ([]HistoryEvent, error) {
	if len(res.Args) < 1 {
		return nil, fmt.Errorf("event history: empty result")
	}
	list, ok := res.Args[0].(wamp.List)
	if !ok {
		return nil, fmt.Errorf("event history: result is %T, not a list", res.Args[0])
	}
	out := make([]HistoryEvent, 0, len(list))
	for _, v := range list {
		d, ok := v.(wamp.Dict)
		if !ok {
			return nil, fmt.Errorf("event history: event is %T, not a dict", v)
		}
		var ev HistoryEvent
		if ts, ok := d.String("timestamp"); ok {
			ev.Time, _ = time.Parse(time.RFC3339Nano, ts)
		}
		ev.Subscription, _ = wamp.AsID(d["subscription"])
		ev.Publication, _ = wamp.AsID(d["publication"])
		topic, _ := d.String("topic")
		ev.Topic = wamp.URI(topic)
		ev.Details, _ = d.Dict("details")
		ev.Args, _ = d["args"].(wamp.List)
		ev.Kwargs, _ = d.Dict("kwargs")
		ev.Opaque, _ = d["payload"].([]byte)
		out = append(out, ev)
	}
	return out, nil
}
