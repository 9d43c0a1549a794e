package pubsub

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/internal/uriindex"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// subscription is one topic pattern's subscriber set. Subscribers are read without a lock by
// publishers (copy-on-write slice) and changed under the broker's mutex.
type subscription struct {
	id          wamp.ID
	topic       wamp.URI
	match       string
	created     time.Time
	subscribers atomic.Pointer[[]*subscriber]
}

func (sub *subscription) list() []*subscriber {
	if p := sub.subscribers.Load(); p != nil {
		return *p
	}
	return nil
}

func (sub *subscription) has(s *session.Session) bool {
	return slices.ContainsFunc(sub.list(), func(e *subscriber) bool { return e.s == s })
}

// subscriber is one session on a subscription. A new subscriber becomes visible to
// publishers before its SUBSCRIBED is queued, so that no publication processed after
// SUBSCRIBED can miss it; until SUBSCRIBED (and any retained event) is queued it is not
// ready, and a publisher that meets it waits on its mutex — held by Subscribe for those few
// non-blocking sends — so that no EVENT overtakes SUBSCRIBED.
type subscriber struct {
	s     *session.Session
	since int64 // when it subscribed (unix nanoseconds): the meta API lists subscribers in that order
	ready atomic.Bool
	mu    sync.Mutex // held by Subscribe until ready
}

// send queues an encoded EVENT for the subscriber, never waiting for its peer; via is the
// publisher, when publishing from its PUBLISH handler (on the publisher's reading goroutine).
// It reports whether the event was queued.
func (e *subscriber) send(frame []byte, via *session.Session) bool {
	if e.ready.Load() {
		return e.s.SendFrame(frame, via)
	}
	// Subscribe holds the mutex while it queues SUBSCRIBED (a moment): the event goes after.
	e.mu.Lock()
	ok := e.s.SendFrame(frame, via)
	e.mu.Unlock()
	return ok
}

// details describes the subscription as the meta API does.
func (sub *subscription) details() wamp.Dict {
	return wamp.Dict{"id": sub.id, "created": timestamp(sub.created), "uri": string(sub.topic), "match": sub.match}
}

// Local is the in-process broker.
//
// Exact topics live in a sync.Map, so a publish finds its exact subscription without a lock.
// Prefix and wildcard subscriptions live in a uriindex.Index under an RWMutex that a publish
// takes (shared) only while at least one pattern subscription exists.
type Local struct {
	opts    Options
	log     *slog.Logger
	history *history // nil without event history

	exact    sync.Map     // wamp.URI -> *subscription (exact match): read lock-free on publish
	patterns atomic.Int64 // prefix and wildcard subscriptions in index
	retained sync.Map     // wamp.URI -> *retainedEvent
	// interestMu serializes what the broker tells its Bus (Options.Bus) about its patterns.
	interestMu sync.Mutex
	// retainMu guards changes to retained and its totals, bounded by the options.
	retainMu                    sync.Mutex
	retainedCount, retainedSize int64

	mu        sync.RWMutex // guards index, byID, bySession and subscription changes
	index     *uriindex.Index[*subscription]
	byID      map[wamp.ID]*subscription
	bySession map[*session.Session]map[wamp.ID]*subscription
	ids       wamp.IDGen

	// Dropped counts events that could not be encoded for a recipient's codec.
	Dropped atomic.Int64

	counts counters // publications and deliveries, for metrics (counters.go)
}

// NewLocal returns an empty in-process broker.
func NewLocal(opts Options) *Local {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Local{opts: opts, log: opts.Logger,
		index:     uriindex.New[*subscription](),
		byID:      make(map[wamp.ID]*subscription),
		bySession: make(map[*session.Session]map[wamp.ID]*subscription)}
	if len(opts.History.Topics) > 0 {
		if opts.HistoryStore == nil {
			b.log.Error("event history configured but no history store: history disabled", "topics", len(opts.History.Topics))
		} else {
			b.history = newHistory(opts.History, opts.HistoryStore, opts.Realm, b.log)
		}
	}
	return b
}

// Features of this broker, under their spec names.
func (b *Local) Features() wamp.Dict {
	f := wamp.Dict{
		"pattern_based_subscription":    true,
		"subscriber_blackwhite_listing": true,
		"publisher_exclusion":           true,
		"publisher_identification":      true,
		"event_retention":               true,
		"payload_passthru_mode":         true,
		"subscription_meta_api":         true,
	}
	if b.history != nil {
		f["event_history"] = true
	}
	return f
}

// ErrNoHistory: the broker was built without an event history (no rules, or no store), so
// rules cannot be given to it later.
var ErrNoHistory = errors.New("the broker keeps no event history: it needs a restart with history rules and a store")

// SetHistoryRules replaces the history rules of a broker built with an event history: the
// publications from now on are kept by the new rules, and history queries see the events of
// the rules that remain, with their new retention.
func (b *Local) SetHistoryRules(cfg HistoryConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if b.history == nil {
		if len(cfg.Topics) == 0 {
			return nil
		}
		return ErrNoHistory
	}
	b.history.setRules(cfg)
	return nil
}

// Close stops the history writer after it has stored what it holds.
func (b *Local) Close() {
	if d, ok := b.opts.Bus.(interface{ Detach(*Local) }); ok {
		d.Detach(b) // the bus stops bringing other nodes' state to this broker
	}
	if b.history != nil {
		b.history.close()
	}
}

func (b *Local) publishMeta(topic wamp.URI, args ...any) {
	if b.opts.PublishMeta != nil {
		b.opts.PublishMeta(topic, wamp.List(args), nil)
	}
}

// Subscribe adds s to the subscription of a topic pattern, creating it on first use;
// subscribing twice returns the same subscription. Every publication processed after
// SUBSCRIBED was queued reaches the new subscriber, and none overtakes SUBSCRIBED (see
// subscriber).
func (b *Local) Subscribe(s *session.Session, m *wamp.Subscribe) {
	match, _ := m.Options.String("match")
	if match == "" {
		match = wamp.MatchExact
	}
	if !wamp.ValidPattern(m.Topic, match, b.opts.StrictURIs) || m.Topic == "" && match == wamp.MatchWildcard {
		s.SendError(wamp.TypeSubscribe, m.Request, wamp.ErrInvalidURI, "invalid topic URI: "+string(m.Topic))
		return
	}
	getRetained, _ := m.Options.Bool("get_retained")

	b.mu.Lock()
	sub, _ := b.index.Get(m.Topic, match)
	if max := b.opts.MaxSubscriptionsPerSession; max > 0 && (sub == nil || !sub.has(s)) && len(b.bySession[s]) >= max {
		b.mu.Unlock()
		if n := LimitStats.SubscriptionLimit.Add(1); n&(n-1) == 0 { // logged at 1, 2, 4, ...: no log flood
			b.log.Warn("limit: subscriptions per session", "session", s.ID, "authid", s.AuthID,
				"max_subscriptions_per_session", max, "refused_so_far", n)
		}
		s.SendError(wamp.TypeSubscribe, m.Request, wamp.ErrNotAuthorized,
			fmt.Sprintf("a session may hold at most %d subscriptions (max_subscriptions_per_session)", max))
		return
	}
	created := sub == nil
	if created {
		sub = &subscription{id: b.newSubscriptionID(m.Topic, match), topic: m.Topic, match: match, created: time.Now()}
	}
	old := sub.list()
	added := !sub.has(s)
	var e *subscriber
	if added {
		e = &subscriber{s: s, since: time.Now().UnixNano()}
		e.mu.Lock() // held until SUBSCRIBED (and the retained events) are queued
	}
	if created {
		b.index.Put(sub.topic, match, sub)
		b.byID[sub.id] = sub
		if match == wamp.MatchExact {
			b.exact.Store(sub.topic, sub)
		} else {
			b.patterns.Add(1)
		}
	}
	if added {
		next := make([]*subscriber, len(old), len(old)+1)
		copy(next, old)
		next = append(next, e)
		sub.subscribers.Store(&next)
		mine := b.bySession[s]
		if mine == nil {
			mine = make(map[wamp.ID]*subscription)
			b.bySession[s] = mine
		}
		mine[sub.id] = sub
	}
	b.mu.Unlock()

	if b.opts.Bus != nil {
		// Before SUBSCRIBED: the other nodes forward to this one. A subscriber joining a
		// subscription whose announcement is still under way waits for it too.
		b.syncInterest(sub.topic, match)
	}
	s.Send(&wamp.Subscribed{Request: m.Request, Subscription: sub.id})
	if getRetained {
		b.sendRetained(s, sub)
	}
	if added {
		e.ready.Store(true)
		e.mu.Unlock()
	}
	if created {
		b.publishMeta("wamp.subscription.on_create", s.ID, sub.details())
	}
	if added {
		if bs, ok := b.opts.Bus.(BusSubscribers); ok {
			bs.Subscribed(s.ID, sub.id, sub.topic, sub.match)
		}
		b.publishMeta("wamp.subscription.on_subscribe", s.ID, sub.id)
	}
}

// Unsubscribe removes s from a subscription it holds.
func (b *Local) Unsubscribe(s *session.Session, m *wamp.Unsubscribe) {
	b.mu.Lock()
	sub, ok := b.bySession[s][m.Subscription]
	deleted := false
	if ok {
		deleted = b.remove(s, sub)
	}
	b.mu.Unlock()
	if !ok {
		s.SendError(wamp.TypeUnsubscribe, m.Request, wamp.ErrNoSuchSubscription)
		return
	}
	if deleted && b.opts.Bus != nil {
		b.syncInterest(sub.topic, sub.match)
		b.settle()
	}
	s.Send(&wamp.Unsubscribed{Request: m.Request})
	if bs, ok := b.opts.Bus.(BusSubscribers); ok {
		bs.Unsubscribed(s.ID, sub.id)
	}
	b.publishMeta("wamp.subscription.on_unsubscribe", s.ID, sub.id)
	if deleted {
		b.publishMeta("wamp.subscription.on_delete", s.ID, sub.id)
	}
}

// Leave drops all of a session's subscriptions.
func (b *Local) Leave(s *session.Session) {
	type change struct {
		id      wamp.ID
		deleted bool
		sub     *subscription
	}
	b.mu.Lock()
	var changes []change
	for _, sub := range b.bySession[s] {
		changes = append(changes, change{sub.id, b.remove(s, sub), sub})
	}
	b.mu.Unlock()
	withdrawn := false
	for _, c := range changes {
		if c.deleted && b.opts.Bus != nil {
			b.syncInterest(c.sub.topic, c.sub.match)
			withdrawn = true
		}
	}
	if withdrawn {
		b.settle()
	}
	bs, _ := b.opts.Bus.(BusSubscribers)
	for _, c := range changes {
		if bs != nil {
			bs.Unsubscribed(s.ID, c.id)
		}
		b.publishMeta("wamp.subscription.on_unsubscribe", s.ID, c.id)
		if c.deleted {
			b.publishMeta("wamp.subscription.on_delete", s.ID, c.id)
		}
	}
}

// remove takes s out of sub, deleting sub when it empties (reported). Caller holds b.mu.
func (b *Local) remove(s *session.Session, sub *subscription) bool {
	old := sub.list()
	next := make([]*subscriber, 0, len(old))
	for _, x := range old {
		if x.s != s {
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
	if len(next) > 0 {
		return false
	}
	delete(b.byID, sub.id)
	b.index.Delete(sub.topic, sub.match)
	if sub.match == wamp.MatchExact {
		b.exact.CompareAndDelete(sub.topic, sub)
	} else {
		b.patterns.Add(-1)
	}
	return true
}

// publication is what a PUBLISH asks for, shared by every subscription it reaches.
type publication struct {
	publisher *session.Session // nil: the router
	excludeMe bool
	listing   listing
	// details are the EVENT details every recipient gets: publisher identification and
	// payload passthru options. Pattern subscriptions add "topic" to a copy.
	details wamp.Dict
	// via is the publisher when publishing from its PUBLISH handler, on its reading goroutine:
	// its transport may batch the events of one read per recipient. Else nil.
	via *session.Session
}

// skip reports whether rcpt must not receive the publication.
func (p *publication) skip(rcpt *session.Session) bool {
	if rcpt == p.publisher && p.excludeMe && rcpt != nil {
		return true
	}
	return !p.listing.allows(rcpt)
}

// pptKeys are the payload passthru options forwarded from PUBLISH to EVENT untouched.
var pptKeys = []string{"ppt_scheme", "ppt_serializer", "ppt_cipher", "ppt_keyid"}

// Publish delivers an EVENT to every subscription matching the topic: one EVENT per
// subscription, encoded once per codec in use by its recipients. A nil s is the router
// itself (meta events). Recipients are never waited for.
func (b *Local) Publish(s *session.Session, m *wamp.Publish) { b.publish(s, m, nil) }

// HandlePublish is Publish as the PUBLISH handler, on the publisher's reader goroutine: the
// events are sent via the publisher (Session.SendFrame), so that its transport may batch
// what one read gives each recipient.
func (b *Local) HandlePublish(s *session.Session, m *wamp.Publish) { b.publish(s, m, s) }

func (b *Local) publish(s *session.Session, m *wamp.Publish, via *session.Session) {
	ack, _ := m.Options.Bool("acknowledge")
	ack = ack && s != nil
	if !wamp.ValidURI(m.Topic, b.opts.StrictURIs, false) {
		if ack {
			s.SendError(wamp.TypePublish, m.Request, wamp.ErrInvalidURI, "invalid topic URI: "+string(m.Topic))
		}
		return
	}
	if s != nil && wamp.Reserved(m.Topic, wamp.MatchExact) {
		// Only the router speaks under wamp. and pawl.: a client could otherwise forge meta
		// events (a wamp.session.on_join with authrole "trusted"). Refused as Crossbar.io
		// does, with invalid_uri; testaments are publications of their session, so included.
		if n := LimitStats.ReservedTopic.Add(1); n&(n-1) == 0 {
			b.log.Warn("refused a publication in the router's namespace", "session", s.ID, "authid", s.AuthID,
				"topic", m.Topic, "refused_so_far", n)
		}
		if ack {
			s.SendError(wamp.TypePublish, m.Request, wamp.ErrInvalidURI,
				"topics under wamp. and pawl. are reserved for the router: "+string(m.Topic))
		}
		return
	}
	p := publication{publisher: s, excludeMe: true, details: wamp.Dict{}, via: via}
	if v, ok := m.Options.Bool("exclude_me"); ok {
		p.excludeMe = v
	}
	if hasListing(m.Options) {
		p.listing = parseListing(m.Options)
	}
	if disclose, _ := m.Options.Bool("disclose_me"); disclose && s != nil {
		p.details["publisher"] = s.ID
		p.details["publisher_authid"] = s.AuthID
		p.details["publisher_authrole"] = s.AuthRole
	}
	if scheme, _ := m.Options.String("ppt_scheme"); scheme != "" {
		if s != nil && !s.HasFeature("publisher", "payload_passthru_mode") {
			s.Abort(wamp.ErrProtocolViolation, "PUBLISH uses payload passthru mode (ppt_scheme) that the publisher did not announce")
			return
		}
		for _, k := range pptKeys {
			if v, ok := m.Options[k]; ok {
				p.details[k] = v
			}
		}
	}
	pubID := wamp.GlobalID()
	retain, _ := m.Options.Bool("retain")
	var rule HistoryRule
	record := false
	if b.history != nil && !p.listing.bySession() {
		rule, record = b.history.rule(m.Topic)
	}
	if record {
		// The history store keeps the values: decode the payload now.
		if _, _, err := m.Payload.Values(); err != nil {
			if ack {
				s.SendError(wamp.TypePublish, m.Request, wamp.ErrInvalidArgument, "undecodable payload: "+err.Error())
			}
			return
		}
	}
	if retain {
		// Retained before it is delivered, so that a publication the retained bounds refuse
		// reaches nobody, as any refused publication.
		r, err := newRetained(m, &p, pubID, s)
		if err == nil {
			err = b.storeRetained(r, s)
		}
		if err != nil {
			if ack {
				var ae *wamp.ApplicationError
				if !errors.As(err, &ae) {
					ae = wamp.NewError(wamp.ErrInvalidArgument, err.Error())
				}
				s.SendError(wamp.TypePublish, m.Request, ae.URI, ae.Args...)
			}
			return
		}
	}

	if s != nil { // the router's own meta events are not the peers' publications
		b.counts.publications.Add(1)
	}
	if b.opts.Bus != nil {
		// To the other nodes first: a publication the cluster cannot take reaches nobody.
		if err := b.forward(m, &p, pubID, retain); err != nil {
			if ack {
				s.SendError(wamp.TypePublish, m.Request, ErrURIClusterUnavailable, err.Error())
			}
			return
		}
	}
	// One EVENT value, reused for each subscription in turn: its frames are encoded (and a
	// payload from another codec decoded) before it moves on to the next subscription.
	b.route(m.Topic, &wamp.Event{Publication: pubID, Details: p.details, Payload: m.Payload}, &p)

	durable := ack && record && rule.durable()
	if record {
		var stored func(error)
		if durable {
			// PUBLISHED means kept: sent by the history writer once the batch holding the
			// event is committed. A publication the store does not keep was still delivered;
			// its publisher hears that it is not in the history.
			req := m.Request
			stored = func(err error) {
				if err == nil {
					s.Send(&wamp.Published{Request: req, Publication: pubID})
					return
				}
				LimitStats.HistoryNotKept.Add(1) // logged by the history as "writer behind" or a store error
				s.SendError(wamp.TypePublish, req, wamp.ErrUnavailable,
					"the event was delivered but not kept in the event history: "+err.Error())
			}
		}
		b.history.record(b.historyEvent(m, &p, pubID, rule), int64(m.Payload.Size()), stored)
	}
	if ack && !durable {
		s.Send(&wamp.Published{Request: m.Request, Publication: pubID})
	}
}

// route delivers event to every local subscription matching topic.
func (b *Local) route(topic wamp.URI, event *wamp.Event, p *publication) {
	if v, ok := b.exact.Load(topic); ok {
		b.deliver(v.(*subscription), event, p)
	}
	if b.patterns.Load() > 0 {
		var found [8]*subscription
		subs := b.matchPatterns(topic, found[:0])
		if len(subs) > 0 {
			event.Details = withTopic(p.details, topic)
			for _, sub := range subs {
				b.deliver(sub, event, p)
			}
		}
	}
}

func hasListing(opts wamp.Dict) bool {
	for _, k := range [...]string{"eligible", "exclude", "eligible_authid", "exclude_authid", "eligible_authrole", "exclude_authrole"} {
		if _, ok := opts[k]; ok {
			return true
		}
	}
	return false
}

func publisherID(s *session.Session) wamp.ID {
	if s == nil {
		return 0
	}
	return s.ID
}

// withTopic copies details and adds the concrete topic, for pattern subscriptions.
func withTopic(details wamp.Dict, topic wamp.URI) wamp.Dict {
	d := make(wamp.Dict, len(details)+1)
	for k, v := range details {
		d[k] = v
	}
	d["topic"] = string(topic)
	return d
}

// matchPatterns appends the prefix and wildcard subscriptions matching topic: an index
// lookup (prefix lengths in use, a trie walk for wildcards), never a scan.
func (b *Local) matchPatterns(topic wamp.URI, dst []*subscription) []*subscription {
	b.mu.RLock()
	b.index.Each(topic, func(sub *subscription, _ wamp.URI, match string) {
		if match != wamp.MatchExact {
			dst = append(dst, sub)
		}
	})
	b.mu.RUnlock()
	return dst
}

// deliver sends the event to the subscription's recipients, encoding it once per codec.
func (b *Local) deliver(sub *subscription, event *wamp.Event, p *publication) {
	event.Subscription = sub.id
	var frames FrameCache
	sent, bytes := 0, 0 // counted once per subscription, not per recipient
	for _, e := range sub.list() {
		rcpt := e.s
		if p.skip(rcpt) {
			continue
		}
		frame, err := frames.Frame(rcpt.Codec, event)
		if err != nil {
			b.Dropped.Add(1)
			b.log.Warn("event not delivered: cannot encode for subscriber's serializer",
				"subscription", sub.id, "subscriber", rcpt.ID, "serializer", rcpt.Codec.Name(), "err", err)
			continue
		}
		if e.send(frame, p.via) {
			sent++
			bytes += len(frame)
		}
	}
	b.counts.delivered(b.opts.Traffic, sent, bytes)
}

func (b *Local) historyEvent(m *wamp.Publish, p *publication, pubID wamp.ID, rule HistoryRule) *HistoryEvent {
	args, kwargs, _ := m.Payload.Values() // decoded above
	return &HistoryEvent{
		Log:              rule.key(),
		Time:             time.Now(),
		Topic:            m.Topic,
		Publication:      pubID,
		Details:          p.details,
		Args:             args,
		Kwargs:           kwargs,
		Opaque:           m.Payload.Opaque,
		EligibleAuthID:   p.listing.eligibleAuthID,
		ExcludeAuthID:    p.listing.excludeAuthID,
		EligibleAuthRole: p.listing.eligibleAuthRole,
		ExcludeAuthRole:  p.listing.excludeAuthRole,
		Keep:             Retention{Limit: rule.Limit, MaxAge: rule.MaxAge},
	}
}
