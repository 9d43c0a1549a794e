package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/pawl-wamp/pawl/internal/uriindex"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/wamp"
)

// PubSub carries publications between the brokers of the cluster's nodes: the NATS side of
// pubsub.Bus, one per node, with a RealmBus per realm.
//
// Routing. Every node announces its subscription patterns (exact, prefix, wildcard; one
// entry per pattern, not per subscriber) in the "ps" Directory, and keeps the other nodes'
// patterns in one uriindex per realm. A publication looks its topic up there, as the local
// broker does, and sends one NATS message to each node with a matching pattern, on that
// node's own subject <cluster>.ps.n.<node>. So a publication costs one message per
// interested node, however many of its subscribers match and however many patterns
// overlap, and nothing when no other node is interested.
//
// Topics never become NATS subjects: they travel in the message. A WAMP prefix subscription
// is a plain string prefix ("a.b" matches "a.bc"), which NATS's token-wise '>' cannot say,
// and a node with two overlapping NATS subscriptions would get two copies. Subjects carry
// only node names ([A-Za-z0-9_-], checked by Config), so no URI — with '.', empty components,
// '*', '>', spaces or any Unicode — can be mistaken for another.
//
// Order: a publisher's publications leave its node on one NATS connection, in order, and
// every node delivers what it receives on one goroutine, so they reach each subscriber in
// the order published.
type PubSub struct {
	n     *Node
	dir   *Directory
	sub   *nats.Subscription
	query *nats.Subscription // other nodes' meta API questions

	mu     sync.RWMutex
	realms map[wamp.URI]*RealmBus

	goneMu sync.Mutex
	gone   map[string][]goneSubscriber // a dead node's subscribers, until its OnNodeDown (deadsubs.go)

	kvMu     sync.Mutex
	retained jetstream.KeyValue // the retained events (retained.go), opened on first use

	// Messages counts the NATS messages sent for publications; Received those delivered here.
	Messages, Received atomic.Int64
	// SentBytes and ReceivedBytes are those messages' bytes.
	SentBytes, ReceivedBytes atomic.Int64
	// MetaEvents counts the subscription meta events published here for dead nodes' sessions.
	MetaEvents atomic.Int64
}

// NewPubSub starts the node's pub/sub bus.
func NewPubSub(n *Node) (*PubSub, error) {
	ps := &PubSub{n: n, realms: make(map[wamp.URI]*RealmBus), gone: map[string][]goneSubscriber{}}
	var err error
	if ps.dir, err = NewDirectory(n, "ps"); err != nil {
		return nil, err
	}
	n.OnNodeDown(ps.nodeDown) // after the Directory's: its entries are dropped by then
	ps.dir.OnChange(ps.interestChanged)
	if ps.sub, err = n.Conn().Subscribe(n.Subject("ps", "n", n.Name()), ps.received); err != nil {
		ps.dir.Close()
		return nil, fmt.Errorf("cluster pubsub: %w", err)
	}
	// Deliveries are never dropped for a slow handler short of memory: the broker never waits.
	_ = ps.sub.SetPendingLimits(-1, -1)
	if ps.query, err = n.Conn().Subscribe(n.Subject("ps", "q", n.Name()), ps.answer); err != nil {
		ps.Close()
		return nil, fmt.Errorf("cluster pubsub: %w", err)
	}
	return ps, nil
}

// Close stops the bus.
func (ps *PubSub) Close() {
	for _, sub := range []*nats.Subscription{ps.sub, ps.query} {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
	}
	ps.mu.Lock()
	var watches []*retainedWatch
	for _, rb := range ps.realms {
		if rb.watch != nil {
			watches = append(watches, rb.watch)
			rb.watch = nil
		}
	}
	ps.mu.Unlock()
	for _, w := range watches {
		w.stop()
	}
	ps.dir.Close()
}

// RealmBus is one realm's pubsub.Bus. Attach it to the realm's broker.
type RealmBus struct {
	ps    *PubSub
	realm wamp.URI

	mu       sync.RWMutex
	remote   *uriindex.Index[map[string]time.Time] // other nodes' patterns: pattern -> node -> created
	patterns int                                   // remote entries, for the meta API
	broker   atomic.Pointer[pubsub.Local]
	watch    *retainedWatch // guarded by ps.mu

	amu       sync.Mutex
	announced map[string]bool // this node's patterns, as told to the others
}

// Realm returns the bus of a realm, made on first use.
func (ps *PubSub) Realm(name wamp.URI) *RealmBus {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	rb := ps.realms[name]
	if rb == nil {
		rb = &RealmBus{ps: ps, realm: name, remote: uriindex.New[map[string]time.Time](), announced: map[string]bool{}}
		ps.realms[name] = rb
		// Patterns of this realm already known (the realm was added after its peers spoke).
		ps.dir.Each(interestPrefix(name), func(node, key string, v []byte) {
			if node != ps.n.Name() {
				if _, match, pattern, ok := parseInterest(key); ok {
					rb.add(node, pattern, match, createdAt(v))
				}
			}
		})
	}
	return rb
}

// Attach makes b the broker that publications from other nodes are delivered to, and brings
// in the retained events of the cluster (retained.go).
func (rb *RealmBus) Attach(b *pubsub.Local) {
	rb.broker.Store(b)
	rb.watchRetained(b)
}

// Detach stops delivering to b (its realm is closing) and following the retained events for it.
func (rb *RealmBus) Detach(b *pubsub.Local) {
	if !rb.broker.CompareAndSwap(b, nil) {
		return
	}
	rb.ps.mu.Lock()
	w := rb.watch
	rb.watch = nil
	rb.ps.mu.Unlock()
	if w != nil {
		w.stop()
	}
}

// interestKey is a pattern's directory key: realm, match and pattern, NUL-separated (no URI
// holds a NUL: wamp's URI checks refuse control characters... and a NUL would merely make
// a key no realm reads).
func interestKey(realm wamp.URI, match string, pattern wamp.URI) string {
	return interestPrefix(realm) + match + "\x00" + string(pattern)
}

func interestPrefix(realm wamp.URI) string { return "i\x00" + string(realm) + "\x00" }

func parseInterest(key string) (realm wamp.URI, match string, pattern wamp.URI, ok bool) {
	parts := strings.SplitN(key, "\x00", 4)
	if len(parts) != 4 || parts[0] != "i" {
		return "", "", "", false
	}
	return wamp.URI(parts[1]), parts[2], wamp.URI(parts[3]), true
}

// Interest announces (or withdraws) one of this node's patterns and waits until every live
// peer has it, so that a SUBSCRIBED sent after it is never followed by a publication on
// another node that misses this one.
func (rb *RealmBus) Interest(pattern wamp.URI, match string, on bool) error {
	key := interestKey(rb.realm, match, pattern)
	// The broker calls this serialized, and for every subscriber: only changes go out.
	rb.amu.Lock()
	defer rb.amu.Unlock()
	if rb.announced[key] == on {
		return nil
	}
	if on {
		rb.announced[key] = true
	} else {
		delete(rb.announced, key)
	}
	if on {
		return rb.ps.dir.Put(key, binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano())), true)
	}
	// Not waited for one by one: a session that leaves with many patterns would wait a round
	// trip for each (holding up the broker's other subscribers). The broker calls Settle once
	// after its withdrawals instead.
	return rb.ps.dir.Delete(key, false)
}

// Settle waits until every live peer has applied this node's withdrawals (pubsub.BusSettler),
// so that once UNSUBSCRIBED is sent, or a session has left, no node's meta API names its
// patterns any more.
func (rb *RealmBus) Settle() error { return rb.ps.dir.Settle() }

func (ps *PubSub) interestChanged(c Change) {
	if strings.HasPrefix(c.Key, "u\x00") {
		if c.Deleted && c.NodeDown {
			ps.subscriberGone(c, c.Value)
		}
		return
	}
	realm, match, pattern, ok := parseInterest(c.Key)
	if !ok {
		return
	}
	ps.mu.RLock()
	rb := ps.realms[realm]
	ps.mu.RUnlock()
	if rb == nil {
		return // read by Realm when the realm comes
	}
	if c.Deleted {
		rb.remove(c.Node, pattern, match)
	} else {
		rb.add(c.Node, pattern, match, createdAt(c.Value))
	}
}

func createdAt(v []byte) time.Time {
	if len(v) != 8 {
		return time.Now()
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v)))
}

func (rb *RealmBus) add(node string, pattern wamp.URI, match string, created time.Time) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	nodes, _ := rb.remote.Get(pattern, match)
	if nodes == nil {
		nodes = map[string]time.Time{}
		rb.remote.Put(pattern, match, nodes)
	}
	if _, had := nodes[node]; !had {
		rb.patterns++
	}
	nodes[node] = created
}

func (rb *RealmBus) remove(node string, pattern wamp.URI, match string) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	nodes, _ := rb.remote.Get(pattern, match)
	if _, had := nodes[node]; !had {
		return
	}
	delete(nodes, node)
	rb.patterns--
	if len(nodes) == 0 {
		rb.remote.Delete(pattern, match)
	}
}

// interested appends the nodes with a pattern matching topic, each once.
func (rb *RealmBus) interested(topic wamp.URI, dst []string) []string {
	rb.mu.RLock()
	defer rb.mu.RUnlock()
	rb.remote.Each(topic, func(nodes map[string]time.Time, _ wamp.URI, _ string) {
		for n := range nodes {
			found := false
			for _, d := range dst {
				if d == n {
					found = true
					break
				}
			}
			if !found {
				dst = append(dst, n)
			}
		}
	})
	return dst
}

// errNotServing wraps what Forward answers when the node cannot reach its cluster.
var errNotServing = errors.New("not forwarded")

// Forward sends the publication to every node interested in its topic (every live node for
// a retained one), one NATS message each, the envelope encoded once.
func (rb *RealmBus) Forward(f *pubsub.Forwarded) error {
	if err := rb.ps.n.Err(); err != nil {
		return fmt.Errorf("%w: %w", errNotServing, err)
	}
	var buf [8]string
	var nodes []string
	if f.Retain {
		nodes = buf[:0]
		for _, p := range rb.ps.n.Peers() {
			nodes = append(nodes, p.Name)
		}
	} else {
		nodes = rb.interested(f.Topic, buf[:0])
	}
	if len(nodes) == 0 && !f.Retain {
		return nil
	}
	data, err := encodeForwarded(rb.realm, f)
	if err != nil {
		return err
	}
	if f.Retain {
		if err := rb.putRetained(f.Topic, data); err != nil {
			return err
		}
		return rb.forwardRetained(nodes, data)
	}
	nc := rb.ps.n.Conn()
	for _, node := range nodes {
		if err := nc.Publish(rb.ps.n.Subject("ps", "n", node), data); err != nil {
			return fmt.Errorf("%w: %w", errNotServing, err)
		}
	}
	rb.ps.Messages.Add(int64(len(nodes)))
	rb.ps.SentBytes.Add(int64(len(nodes) * len(data)))
	return nil
}

// forwardRetained sends a retained publication to every live node and waits until each has
// kept it (or NodeTimeout passed), so that a subscriber asking for it anywhere after the
// publisher heard PUBLISHED gets it. Retained publications are state, published rarely: the
// round trip is worth it.
func (rb *RealmBus) forwardRetained(nodes []string, data []byte) error {
	nc := rb.ps.n.Conn()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotServing, err)
	}
	defer sub.Unsubscribe()
	for _, node := range nodes {
		if err := nc.PublishMsg(&nats.Msg{Subject: rb.ps.n.Subject("ps", "n", node), Reply: inbox, Data: data}); err != nil {
			return fmt.Errorf("%w: %w", errNotServing, err)
		}
	}
	rb.ps.Messages.Add(int64(len(nodes)))
	rb.ps.SentBytes.Add(int64(len(nodes) * len(data)))
	deadline := time.Now().Add(rb.ps.n.cfg.NodeTimeout)
	for range nodes {
		if _, err := sub.NextMsg(time.Until(deadline)); err != nil {
			break // a node that does not answer is being called down
		}
	}
	return nil
}

func (ps *PubSub) received(m *nats.Msg) {
	realm, f, err := decodeForwarded(m.Data)
	if err != nil {
		ps.n.log.Warn("cluster: undecodable publication from another node", "err", err)
		return
	}
	ps.mu.RLock()
	rb := ps.realms[realm]
	ps.mu.RUnlock()
	if rb == nil {
		return
	}
	if b := rb.broker.Load(); b != nil {
		ps.Received.Add(1)
		ps.ReceivedBytes.Add(int64(len(m.Data)))
		b.Deliver(f)
	}
	if m.Reply != "" {
		_ = m.Respond(nil) // a retained one is kept here now
	}
}

// envelope is a publication on the wire (MessagePack).
type envelope struct {
	Realm            string   `msgpack:"r"`
	Topic            string   `msgpack:"t"`
	Publication      uint64   `msgpack:"p"`
	Details          []byte   `msgpack:"d"` // MessagePack of the details dict, as wamp encodes values
	Codec            string   `msgpack:"c"`
	Args             []byte   `msgpack:"a"`
	Kwargs           []byte   `msgpack:"k"`
	Publisher        uint64   `msgpack:"pb"`
	ExcludeMe        bool     `msgpack:"x"`
	Retain           bool     `msgpack:"rt"`
	Eligible         []uint64 `msgpack:"el,omitempty"`
	Exclude          []uint64 `msgpack:"ex,omitempty"`
	EligibleAuthID   []string `msgpack:"eli,omitempty"`
	ExcludeAuthID    []string `msgpack:"exi,omitempty"`
	EligibleAuthRole []string `msgpack:"elr,omitempty"`
	ExcludeAuthRole  []string `msgpack:"exr,omitempty"`
	Lists            uint8    `msgpack:"l"` // bit per list present (an empty list differs from none)
}

const (
	hasEligible = 1 << iota
	hasExclude
	hasEligibleAuthID
	hasExcludeAuthID
	hasEligibleAuthRole
	hasExcludeAuthRole
)

func ids(l []wamp.ID) []uint64 {
	if l == nil {
		return nil
	}
	out := make([]uint64, len(l))
	for i, v := range l {
		out[i] = uint64(v)
	}
	return out
}

func wampIDs(l []uint64, present bool) []wamp.ID {
	if !present {
		return nil
	}
	out := make([]wamp.ID, len(l))
	for i, v := range l {
		out[i] = wamp.ID(v)
	}
	return out
}

func strs(l []string, present bool) []string {
	if !present {
		return nil
	}
	if l == nil {
		return []string{}
	}
	return l
}

func encodeForwarded(realm wamp.URI, f *pubsub.Forwarded) ([]byte, error) {
	e := envelope{Realm: string(realm), Topic: string(f.Topic), Publication: uint64(f.Publication),
		Args: f.Payload.Raw.Args, Kwargs: f.Payload.Raw.Kwargs, Publisher: uint64(f.Publisher),
		ExcludeMe: f.ExcludeMe, Retain: f.Retain,
		Eligible: ids(f.Eligible), Exclude: ids(f.Exclude), EligibleAuthID: f.EligibleAuthID,
		ExcludeAuthID: f.ExcludeAuthID, EligibleAuthRole: f.EligibleAuthRole, ExcludeAuthRole: f.ExcludeAuthRole}
	if c := f.Payload.Raw.Codec; c != nil {
		e.Codec = c.Name()
	}
	for bit, present := range map[uint8]bool{hasEligible: f.Eligible != nil, hasExclude: f.Exclude != nil,
		hasEligibleAuthID: f.EligibleAuthID != nil, hasExcludeAuthID: f.ExcludeAuthID != nil,
		hasEligibleAuthRole: f.EligibleAuthRole != nil, hasExcludeAuthRole: f.ExcludeAuthRole != nil} {
		if present {
			e.Lists |= bit
		}
	}
	if len(f.Details) > 0 {
		var err error
		if e.Details, err = wamp.MsgPack.(wamp.ValueEncoder).EncodeValue(nil, f.Details); err != nil {
			return nil, fmt.Errorf("encode details: %w", err)
		}
	}
	return msgpack.Marshal(&e)
}

func decodeForwarded(data []byte) (wamp.URI, *pubsub.Forwarded, error) {
	var e envelope
	if err := msgpack.Unmarshal(data, &e); err != nil {
		return "", nil, err
	}
	f := &pubsub.Forwarded{Topic: wamp.URI(e.Topic), Publication: wamp.ID(e.Publication),
		Publisher: wamp.ID(e.Publisher), ExcludeMe: e.ExcludeMe, Retain: e.Retain,
		Eligible: wampIDs(e.Eligible, e.Lists&hasEligible != 0), Exclude: wampIDs(e.Exclude, e.Lists&hasExclude != 0),
		EligibleAuthID: strs(e.EligibleAuthID, e.Lists&hasEligibleAuthID != 0), ExcludeAuthID: strs(e.ExcludeAuthID, e.Lists&hasExcludeAuthID != 0),
		EligibleAuthRole: strs(e.EligibleAuthRole, e.Lists&hasEligibleAuthRole != 0), ExcludeAuthRole: strs(e.ExcludeAuthRole, e.Lists&hasExcludeAuthRole != 0)}
	if e.Codec != "" {
		c, ok := wamp.CodecNamed(e.Codec)
		if !ok {
			return "", nil, fmt.Errorf("unknown codec %q", e.Codec)
		}
		f.Payload = wamp.Payload{Raw: wamp.RawPayload{Codec: c, Args: e.Args, Kwargs: e.Kwargs}}
	}
	if len(e.Details) > 0 {
		v, err := wamp.MsgPack.DecodeValue(e.Details)
		if err != nil {
			return "", nil, fmt.Errorf("decode details: %w", err)
		}
		d, ok := v.(wamp.Dict)
		if !ok {
			return "", nil, fmt.Errorf("details are a %T", v)
		}
		f.Details = d
	}
	return wamp.URI(e.Realm), f, nil
}

// SubscriptionID gives a pattern the same subscription ID on every node: a hash of its match
// policy and URI in 1..2^53, so that the meta API names one subscription cluster-wide.
func SubscriptionID(pattern wamp.URI, match string) wamp.ID {
	h := fnv.New64a()
	h.Write([]byte(match))
	h.Write([]byte{0})
	h.Write([]byte(pattern))
	id := h.Sum64() & (1<<53 - 1)
	if id == 0 {
		id = 1
	}
	return wamp.ID(id)
}

// RemotePatterns calls f for each pattern another node subscribes (pubsub.BusMeta).
func (rb *RealmBus) RemotePatterns(f func(pattern wamp.URI, match string, created time.Time)) {
	rb.mu.RLock()
	defer rb.mu.RUnlock()
	rb.remote.All(func(nodes map[string]time.Time, pattern wamp.URI, match string) {
		f(pattern, match, earliest(nodes))
	})
}

func earliest(nodes map[string]time.Time) time.Time {
	var t time.Time
	for _, c := range nodes {
		if t.IsZero() || c.Before(t) {
			t = c
		}
	}
	return t
}

// RemotePattern reports whether another node subscribes the pattern (pubsub.BusMeta).
func (rb *RealmBus) RemotePattern(pattern wamp.URI, match string) (time.Time, bool) {
	rb.mu.RLock()
	defer rb.mu.RUnlock()
	nodes, ok := rb.remote.Get(pattern, match)
	if !ok || len(nodes) == 0 {
		return time.Time{}, false
	}
	return earliest(nodes), true
}

// RemoteMatches calls f for other nodes' patterns matching topic (pubsub.BusMeta).
func (rb *RealmBus) RemoteMatches(topic wamp.URI, f func(pattern wamp.URI, match string)) {
	rb.mu.RLock()
	defer rb.mu.RUnlock()
	rb.remote.Each(topic, func(_ map[string]time.Time, pattern wamp.URI, match string) { f(pattern, match) })
}

type subscribersQuery struct {
	Realm   string `msgpack:"r"`
	Pattern string `msgpack:"p"`
	Match   string `msgpack:"m"`
}

// RemoteSubscribers asks each node holding the pattern for its subscribers (pubsub.BusMeta).
func (rb *RealmBus) RemoteSubscribers(ctx context.Context, pattern wamp.URI, match string) ([]pubsub.Subscriber, error) {
	rb.mu.RLock()
	nodes, _ := rb.remote.Get(pattern, match)
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	rb.mu.RUnlock()
	if len(names) == 0 {
		return nil, nil
	}
	q, _ := msgpack.Marshal(&subscribersQuery{Realm: string(rb.realm), Pattern: string(pattern), Match: match})
	ctx, cancel := context.WithTimeout(ctx, rb.ps.n.cfg.NodeTimeout)
	defer cancel()
	var out []pubsub.Subscriber
	for _, node := range names {
		m, err := rb.ps.n.Conn().RequestWithContext(ctx, rb.ps.n.Subject("ps", "q", node), q)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", node, err)
		}
		var subs []pubsub.Subscriber
		if err := msgpack.Unmarshal(m.Data, &subs); err != nil {
			return nil, fmt.Errorf("node %s: %w", node, err)
		}
		out = append(out, subs...)
	}
	return out, nil
}

func (ps *PubSub) answer(m *nats.Msg) {
	var q subscribersQuery
	if msgpack.Unmarshal(m.Data, &q) != nil {
		return
	}
	var subs []pubsub.Subscriber
	ps.mu.RLock()
	rb := ps.realms[wamp.URI(q.Realm)]
	ps.mu.RUnlock()
	if rb != nil {
		if b := rb.broker.Load(); b != nil {
			subs = b.LocalSubscribers(wamp.URI(q.Pattern), q.Match)
		}
	}
	data, _ := msgpack.Marshal(subs)
	_ = m.Respond(data)
}
