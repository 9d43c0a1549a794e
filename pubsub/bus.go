package pubsub

import (
	"context"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// Bus carries publications between the brokers of a cluster's nodes. It is the narrow seam
// under the in-process broker, as centrifuge's Broker is: a topic, the payload as the
// publisher's codec encoded it, and the publisher's details go out; Deliver of the broker
// on each interested node brings them back in. It is not a second broker: each node's Local
// keeps its own subscriptions and applies the subscriber-side rules (black- and whitelists,
// exclude_me) to its own subscribers.
//
// A broker without a Bus (Options.Bus nil) is a single node's, and pays nothing for this.
type Bus interface {
	// Interest says that this node's broker now has (on) or no longer has a subscription
	// of the pattern, so that publications to matching topics come (or stop coming) to this
	// node. The broker calls it, serialized, after the change and before answering the
	// SUBSCRIBE, so that once SUBSCRIBED is sent the other nodes forward to this one.
	Interest(pattern wamp.URI, match string, on bool) error
	// Forward hands a publication made on this node to every other node with a matching
	// subscription (all nodes for a retained one), once each, in the order given per
	// publisher. It must not wait for the other nodes.
	Forward(f *Forwarded) error
}

// BusSettler is a Bus whose withdrawals (Interest off) take effect on the other nodes a moment
// later: Settle waits for all of them at once, after the broker's withdrawals of one
// UNSUBSCRIBE or one session's leaving.
type BusSettler interface {
	Settle() error
}

// BusSubscribers is a Bus that also learns each session's subscriptions, so that when a node
// dies another one can publish the subscription meta events (on_unsubscribe, on_delete) of
// its sessions. Subscribed and Unsubscribed must not wait for the other nodes.
type BusSubscribers interface {
	Subscribed(session, subscription wamp.ID, pattern wamp.URI, match string)
	Unsubscribed(session, subscription wamp.ID)
}

// MetaEvent publishes a subscription meta event on this broker's realm (wamp.subscription.*),
// for a node speaking for a dead one's sessions.
func (b *Local) MetaEvent(topic wamp.URI, args ...any) { b.publishMeta(topic, args...) }

// HasSubscription reports whether this node's broker has a subscription of the pattern.
func (b *Local) HasSubscription(pattern wamp.URI, match string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.index.Get(pattern, match)
	return ok
}

// BusMeta is what a Bus adds to the subscription meta API: the other nodes' side. Every node
// gives a pattern the same ID (Options.SubscriptionID), so a subscription known on several
// nodes is one subscription to the meta API.
type BusMeta interface {
	// RemotePatterns calls f for each pattern other nodes subscribe, with when it was created
	// (on the node that announced it first).
	RemotePatterns(f func(pattern wamp.URI, match string, created time.Time))
	// RemotePattern reports whether another node subscribes the pattern, and since when.
	RemotePattern(pattern wamp.URI, match string) (time.Time, bool)
	// RemoteMatches calls f for other nodes' patterns matching topic.
	RemoteMatches(topic wamp.URI, f func(pattern wamp.URI, match string))
	// RemoteSubscribers asks the other nodes holding the pattern for their subscribers
	// (Local.LocalSubscribers on each).
	RemoteSubscribers(ctx context.Context, pattern wamp.URI, match string) ([]Subscriber, error)
}

// Subscriber is one session subscribed to a pattern, with when it subscribed (unix
// nanoseconds), for the meta API across nodes.
type Subscriber struct {
	Session wamp.ID `msgpack:"s"`
	Since   int64   `msgpack:"t"`
}

// Forwarded is a publication on its way between nodes: everything the receiving node's
// broker needs to apply its subscribers' rules itself.
type Forwarded struct {
	Topic       wamp.URI
	Publication wamp.ID
	// Details are the EVENT details every recipient gets: publisher identification
	// (disclose_me) and payload passthru options.
	Details wamp.Dict
	// Payload is raw: the publisher's codec's bytes (or MessagePack for the router's own).
	Payload wamp.Payload
	// Publisher is the publishing session's ID (0: the router); with ExcludeMe the
	// publisher receives nothing, wherever it is subscribed.
	Publisher wamp.ID
	ExcludeMe bool
	// Retain: every node keeps the publication as its topic's retained event.
	Retain bool
	// The publication's black- and whitelists (nil: absent).
	Eligible, Exclude                 []wamp.ID
	EligibleAuthID, ExcludeAuthID     []string
	EligibleAuthRole, ExcludeAuthRole []string
}

// Deliver delivers a publication forwarded by another node to this node's subscribers, with
// this node's rules: black- and whitelists, and exclude_me for a publisher subscribed here.
// A retained one also becomes its topic's retained event here.
func (b *Local) Deliver(f *Forwarded) {
	p := publication{excludeMe: f.ExcludeMe, details: f.Details}
	if p.details == nil {
		p.details = wamp.Dict{}
	}
	l := listing{eligible: f.Eligible, exclude: f.Exclude, eligibleAuthID: f.EligibleAuthID,
		excludeAuthID: f.ExcludeAuthID, eligibleAuthRole: f.EligibleAuthRole, excludeAuthRole: f.ExcludeAuthRole}
	l.eligibleSet, l.excludeSet = setOf(l.eligible), setOf(l.exclude)
	l.eligibleAuthIDSet, l.excludeAuthIDSet = setOf(l.eligibleAuthID), setOf(l.excludeAuthID)
	l.eligibleAuthRoleSet, l.excludeAuthRoleSet = setOf(l.eligibleAuthRole), setOf(l.excludeAuthRole)
	p.listing = l
	if f.Retain {
		b.keepRetained(f, p.details, l)
	}
	event := &wamp.Event{Publication: f.Publication, Details: p.details, Payload: f.Payload}
	b.route(f.Topic, event, &p)
}

// KeepRetained makes a retained publication of the cluster its topic's retained event here,
// without delivering it: how a node that joins later (or missed it) learns the retained
// events published before. Within the realm's retained bounds, as any retained event.
func (b *Local) KeepRetained(f *Forwarded) {
	details := f.Details
	if details == nil {
		details = wamp.Dict{}
	}
	l := listing{eligible: f.Eligible, exclude: f.Exclude, eligibleAuthID: f.EligibleAuthID,
		excludeAuthID: f.ExcludeAuthID, eligibleAuthRole: f.EligibleAuthRole, excludeAuthRole: f.ExcludeAuthRole}
	l.eligibleSet, l.excludeSet = setOf(l.eligible), setOf(l.exclude)
	l.eligibleAuthIDSet, l.excludeAuthIDSet = setOf(l.eligibleAuthID), setOf(l.excludeAuthID)
	l.eligibleAuthRoleSet, l.excludeAuthRoleSet = setOf(l.eligibleAuthRole), setOf(l.excludeAuthRole)
	b.keepRetained(f, details, l)
}

func (b *Local) keepRetained(f *Forwarded, details wamp.Dict, l listing) {
	r := &retainedEvent{topic: f.Topic, publication: f.Publication, details: details, payload: f.Payload,
		size:    int64(f.Payload.Size()+len(f.Topic)) + retainedOverhead,
		listing: l, publisher: f.Publisher, excludeMe: f.ExcludeMe}
	if err := b.storeRetained(r, nil); err != nil {
		b.log.Warn("retained event from another node not kept here", "topic", f.Topic, "err", err)
	}
}

// ErrURIClusterUnavailable answers work that a node cut off from its cluster refuses.
const ErrURIClusterUnavailable wamp.URI = "pawl.error.cluster_unavailable"

// forward hands the publication to the Bus. Forward does not keep f, so the payload's bytes
// are lent, not copied (the router's own payloads are encoded for it).
func (b *Local) forward(m *wamp.Publish, p *publication, pubID wamp.ID, retain bool) error {
	payload := m.Payload
	if payload.Raw.Codec == nil {
		var err error
		if payload, err = rawCopy(m.Payload); err != nil {
			return err
		}
	}
	l := &p.listing
	f := &Forwarded{Topic: m.Topic, Publication: pubID, Details: p.details,
		Payload:   wamp.Payload{Raw: payload.Raw},
		Publisher: publisherID(p.publisher), ExcludeMe: p.excludeMe, Retain: retain,
		Eligible: l.eligible, Exclude: l.exclude, EligibleAuthID: l.eligibleAuthID, ExcludeAuthID: l.excludeAuthID,
		EligibleAuthRole: l.eligibleAuthRole, ExcludeAuthRole: l.excludeAuthRole}
	return b.opts.Bus.Forward(f)
}

// syncInterest tells the Bus whether the broker has a subscription of the pattern now,
// serialized, so that concurrent changes reach it in the order they took effect.
func (b *Local) syncInterest(pattern wamp.URI, match string) {
	b.interestMu.Lock()
	defer b.interestMu.Unlock()
	b.mu.RLock()
	_, on := b.index.Get(pattern, match)
	b.mu.RUnlock()
	if err := b.opts.Bus.Interest(pattern, match, on); err != nil {
		b.log.Error("cluster: subscription interest not announced", "topic", pattern, "match", match, "on", on, "err", err)
	}
}

// settle waits for the Bus's withdrawals to take effect everywhere, when it says they lag.
func (b *Local) settle() {
	if st, ok := b.opts.Bus.(BusSettler); ok {
		if err := st.Settle(); err != nil {
			b.log.Warn("cluster: withdrawals not confirmed by every node", "err", err)
		}
	}
}

// newSubscriptionID names a new subscription. Caller holds b.mu.
func (b *Local) newSubscriptionID(pattern wamp.URI, match string) wamp.ID {
	if b.opts.SubscriptionID != nil {
		if id := b.opts.SubscriptionID(pattern, match); id != 0 && b.byID[id] == nil {
			return id
		}
	}
	for {
		if id := b.ids.Next(); b.byID[id] == nil {
			return id
		}
	}
}
