package cluster

import (
	"strconv"
	"strings"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/pawl-wamp/pawl/wamp"
)

// A dead node's subscriptions, in the meta API.
//
// Each node announces in the "ps" Directory, besides its patterns, which of its sessions holds
// which subscription (one entry per session and subscription, sent without waiting, so a
// SUBSCRIBE costs one more core NATS message per node and never a round trip). When a node is
// called down the Directory drops its entries on every survivor; each survivor notes the dropped
// session entries, and then — in its OnNodeDown callback, which runs after the Directory's — the
// heir (the live node with the least name, as for the testaments) publishes
// wamp.subscription.on_unsubscribe for each, and wamp.subscription.on_delete for each
// subscription no node holds any more. So each event is published once cluster-wide.

type subscriberEntry struct {
	Pattern string `msgpack:"p"`
	Match   string `msgpack:"m"`
}

// goneSubscriber is a dead node's session's subscription.
type goneSubscriber struct {
	realm        wamp.URI
	session, sub wamp.ID
	subscriberEntry
}

func subscriberPrefix(realm wamp.URI) string { return "u\x00" + string(realm) + "\x00" }

func subscriberKey(realm wamp.URI, session, sub wamp.ID) string {
	return subscriberPrefix(realm) + strconv.FormatUint(uint64(session), 10) + "\x00" + strconv.FormatUint(uint64(sub), 10)
}

func parseSubscriberKey(key string) (realm wamp.URI, session, sub wamp.ID, ok bool) {
	parts := strings.Split(key, "\x00")
	if len(parts) != 4 || parts[0] != "u" {
		return "", 0, 0, false
	}
	s, err1 := strconv.ParseUint(parts[2], 10, 64)
	u, err2 := strconv.ParseUint(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return wamp.URI(parts[1]), wamp.ID(s), wamp.ID(u), true
}

// Subscribed announces a session's subscription (pubsub.BusSubscribers).
func (rb *RealmBus) Subscribed(session, sub wamp.ID, pattern wamp.URI, match string) {
	v, _ := msgpack.Marshal(&subscriberEntry{Pattern: string(pattern), Match: match})
	if err := rb.ps.dir.Put(subscriberKey(rb.realm, session, sub), v, false); err != nil {
		rb.ps.n.log.Warn("cluster: subscriber not announced", "realm", rb.realm, "session", session, "err", err)
	}
}

// Unsubscribed withdraws it (pubsub.BusSubscribers).
func (rb *RealmBus) Unsubscribed(session, sub wamp.ID) {
	_ = rb.ps.dir.Delete(subscriberKey(rb.realm, session, sub), false)
}

// subscriberGone notes a dead node's subscriber entry (a Directory change with NodeDown).
func (ps *PubSub) subscriberGone(c Change, old []byte) {
	realm, session, sub, ok := parseSubscriberKey(c.Key)
	if !ok {
		return
	}
	var e subscriberEntry
	if msgpack.Unmarshal(old, &e) != nil {
		return
	}
	ps.goneMu.Lock()
	ps.gone[c.Node] = append(ps.gone[c.Node], goneSubscriber{realm: realm, session: session, sub: sub, subscriberEntry: e})
	ps.goneMu.Unlock()
}

// nodeDown publishes the meta events of the dead node's subscriptions, on the heir only.
func (ps *PubSub) nodeDown(p Peer) {
	ps.goneMu.Lock()
	gone := ps.gone[p.Name]
	delete(ps.gone, p.Name)
	ps.goneMu.Unlock()
	if len(gone) == 0 || !heir(ps.n) {
		return
	}
	deleted := map[wamp.ID]bool{}
	for i, g := range gone {
		ps.mu.RLock()
		rb := ps.realms[g.realm]
		ps.mu.RUnlock()
		if rb == nil {
			continue
		}
		b := rb.broker.Load()
		if b == nil {
			continue
		}
		ps.MetaEvents.Add(1)
		b.MetaEvent("wamp.subscription.on_unsubscribe", g.session, g.sub)
		pattern := wamp.URI(g.Pattern)
		last := true // the subscription's last subscriber among the dead node's
		for _, o := range gone[i+1:] {
			if o.realm == g.realm && o.sub == g.sub {
				last = false
				break
			}
		}
		if !last || deleted[g.sub] || b.HasSubscription(pattern, g.Match) {
			continue
		}
		if _, elsewhere := rb.RemotePattern(pattern, g.Match); elsewhere {
			continue
		}
		deleted[g.sub] = true
		ps.MetaEvents.Add(1)
		b.MetaEvent("wamp.subscription.on_delete", g.session, g.sub)
	}
}

// heir reports whether n speaks for the dead: the least name among the live nodes.
func heir(n *Node) bool {
	for _, p := range n.Peers() {
		if p.Name < n.Name() {
			return false
		}
	}
	return true
}
