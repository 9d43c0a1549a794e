package pubsub

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// subscription is one topic's subscriber set. Subscribers are read without a lock by
// publishers (copy-on-write slice) and changed under the broker's mutex.
type subscription struct {
	id          wamp.ID
	topic       wamp.URI
	match       string
	created     time.Time
	subscribers atomic.Pointer[[]*session.Session]
}

func (sub *subscription) list() []*session.Session {
	if p := sub.subscribers.Load(); p != nil {
		return *p
	}
	return nil
}

// Local is the in-process broker.
type Local struct {
	log *slog.Logger
	// Strict makes topic URIs follow the strict rules ([0-9a-z_] components).
	strict bool

	exact sync.Map // wamp.URI -> *subscription: read lock-free on publish

	mu        sync.Mutex // serializes subscription changes
	byID      map[wamp.ID]*subscription
	bySession map[*session.Session]map[wamp.ID]*subscription
	ids       wamp.IDGen

	// Dropped counts events that could not be encoded for a recipient's codec.
	Dropped atomic.Int64
}

// NewLocal returns an empty in-process broker.
func NewLocal(log *slog.Logger, strictURIs bool) *Local {
	if log == nil {
		log = slog.Default()
	}
	return &Local{log: log, strict: strictURIs,
		byID:      make(map[wamp.ID]*subscription),
		bySession: make(map[*session.Session]map[wamp.ID]*subscription)}
}

// Features of this broker.
func (b *Local) Features() wamp.Dict {
	return wamp.Dict{
		"publisher_exclusion": true,
	}
}

// Subscribe adds s to the topic's subscription, creating it on first use; subscribing twice
// returns the same subscription.
func (b *Local) Subscribe(s *session.Session, m *wamp.Subscribe) {
	match, _ := m.Options.String("match")
	if match != "" && match != wamp.MatchExact {
		s.SendError(wamp.TypeSubscribe, m.Request, wamp.ErrOptionNotAllowed,
			"match policy "+match+" is not supported")
		return
	}
	if !wamp.ValidURI(m.Topic, b.strict, false) {
		s.SendError(wamp.TypeSubscribe, m.Request, wamp.ErrInvalidURI, "invalid topic URI: "+string(m.Topic))
		return
	}
	b.mu.Lock()
	var sub *subscription
	if v, ok := b.exact.Load(m.Topic); ok {
		sub = v.(*subscription)
	} else {
		sub = &subscription{id: b.ids.Next(), topic: m.Topic, match: wamp.MatchExact, created: time.Now()}
		b.byID[sub.id] = sub
		b.exact.Store(m.Topic, sub)
	}
	old := sub.list()
	if !slices.Contains(old, s) {
		next := make([]*session.Session, len(old), len(old)+1)
		copy(next, old)
		next = append(next, s)
		sub.subscribers.Store(&next)
		mine := b.bySession[s]
		if mine == nil {
			mine = make(map[wamp.ID]*subscription)
			b.bySession[s] = mine
		}
		mine[sub.id] = sub
	}
	b.mu.Unlock()
	s.Send(&wamp.Subscribed{Request: m.Request, Subscription: sub.id})
}

// Unsubscribe removes s from a subscription it holds.
func (b *Local) Unsubscribe(s *session.Session, m *wamp.Unsubscribe) {
	b.mu.Lock()
	sub, ok := b.bySession[s][m.Subscription]
	if ok {
		b.remove(s, sub)
	}
	b.mu.Unlock()
	if !ok {
		s.SendError(wamp.TypeUnsubscribe, m.Request, wamp.ErrNoSuchSubscription)
		return
	}
	s.Send(&wamp.Unsubscribed{Request: m.Request})
}

// Leave drops all of a session's subscriptions.
func (b *Local) Leave(s *session.Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range b.bySession[s] {
		b.remove(s, sub)
	}
}

// remove takes s out of sub, deleting sub when it empties. Caller holds b.mu.
func (b *Local) remove(s *session.Session, sub *subscription) {
	old := sub.list()
	next := make([]*session.Session, 0, len(old))
	for _, x := range old {
		if x != s {
			next = append(next, x)
		}
	}
	sub.subscribers.Store(&next)
	if mine := b.bySession[s]; mine != nil {
		delete(mine, sub.id)
		if len(mine) == 0 {
			delete(b.bySession, s)
		}
	}
	if len(next) == 0 {
		delete(b.byID, sub.id)
		b.exact.Delete(sub.topic)
	}
}

// Publish delivers an EVENT to every subscriber of the topic. The event is encoded once per
// codec in use and the same frame is queued for every recipient of that codec. A nil s is the
// router itself (meta events).
func (b *Local) Publish(s *session.Session, m *wamp.Publish) {
	ack, _ := m.Options.Bool("acknowledge")
	if !wamp.ValidURI(m.Topic, b.strict, false) {
		if ack {
			s.SendError(wamp.TypePublish, m.Request, wamp.ErrInvalidURI, "invalid topic URI: "+string(m.Topic))
		}
		return
	}
	excludeMe := true
	if v, ok := m.Options.Bool("exclude_me"); ok {
		excludeMe = v
	}
	pubID := wamp.GlobalID()
	if v, ok := b.exact.Load(m.Topic); ok {
		sub := v.(*subscription)
		event := &wamp.Event{Subscription: sub.id, Publication: pubID, Details: wamp.Dict{}, Payload: m.Payload}
		var frames FrameCache
		for _, rcpt := range sub.list() {
			if rcpt == s && excludeMe {
				continue
			}
			frame, err := frames.Frame(rcpt.Codec, event)
			if err != nil {
				b.Dropped.Add(1)
				b.log.Warn("event not delivered: cannot encode for subscriber's serializer",
					"topic", m.Topic, "subscriber", rcpt.ID, "serializer", rcpt.Codec.Name(), "err", err)
				continue
			}
			rcpt.SendFrame(frame)
		}
	}
	if ack && s != nil {
		s.Send(&wamp.Published{Request: m.Request, Publication: pubID})
	}
}
