package session

import (
	"context"
	"fmt"

	"github.com/pawl-wamp/pawl/wamp"
)

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

// Subscription is an active subscription.
type Subscription struct {
	ID      wamp.ID
	Topic   wamp.URI
	handler EventHandler
}

// Subscribe subscribes to topic; handler receives its events in order. options may be nil.
func (c *Client) Subscribe(ctx context.Context, topic wamp.URI, handler EventHandler, options wamp.Dict) (*Subscription, error) {
	if options == nil {
		options = wamp.Dict{}
	}
	req := c.reqIDs.Next()
	reply, err := c.request(ctx, req, &wamp.Subscribe{Request: req, Options: options, Topic: topic}, nil)
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
	if _, err := c.request(ctx, req, &wamp.Unsubscribe{Request: req, Subscription: sub.ID}, nil); err != nil {
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
