package pubsub

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// MetaProcedures returns the subscription meta API, and the event history procedures when
// the broker keeps a history.
func (b *Local) MetaProcedures() map[wamp.URI]session.LocalProcedure {
	procs := map[wamp.URI]session.LocalProcedure{
		"wamp.subscription.list":              b.metaList,
		"wamp.subscription.lookup":            b.metaLookup,
		"wamp.subscription.match":             b.metaMatch,
		"wamp.subscription.get":               b.metaGet,
		"wamp.subscription.list_subscribers":  b.metaListSubscribers,
		"wamp.subscription.count_subscribers": b.metaCountSubscribers,
	}
	if b.history != nil {
		procs["wamp.subscription.get_events"] = b.metaGetEvents
		procs[TopicEventsProcedure] = b.metaTopicEvents
	}
	return procs
}

// TopicEventsProcedure reads the event history of a topic or topic pattern without a
// subscription: [topic|uri, options|dict{match}], with the keyword arguments of
// wamp.subscription.get_events.
const TopicEventsProcedure wamp.URI = "pawl.topic.get_events"

func (b *Local) metaList(_ *session.Session, _ wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	lists := map[string][]wamp.ID{wamp.MatchExact: {}, wamp.MatchPrefix: {}, wamp.MatchWildcard: {}}
	b.mu.RLock()
	for _, sub := range b.byID {
		lists[sub.match] = append(lists[sub.match], sub.id)
	}
	b.mu.RUnlock()
	if m := b.busMeta(); m != nil {
		m.RemotePatterns(func(pattern wamp.URI, match string, _ time.Time) {
			id := b.opts.SubscriptionID(pattern, match)
			if !slices.Contains(lists[match], id) {
				lists[match] = append(lists[match], id)
			}
		})
	}
	out := wamp.Dict{}
	for match, ids := range lists {
		slices.Sort(ids)
		out[match] = idsList(ids)
	}
	return wamp.List{out}, nil, nil
}

func idsList(ids []wamp.ID) wamp.List {
	l := make(wamp.List, len(ids))
	for i, id := range ids {
		l[i] = id
	}
	return l
}

// uriArg reads the first positional argument as a URI.
func uriArg(args wamp.List) (wamp.URI, error) {
	if len(args) < 1 {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "missing topic URI argument")
	}
	u, ok := args[0].(string)
	if !ok {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "topic URI must be a string")
	}
	return wamp.URI(u), nil
}

// idArg reads the first positional argument as an ID.
func idArg(args wamp.List) (wamp.ID, error) {
	if len(args) < 1 {
		return 0, wamp.NewError(wamp.ErrInvalidArgument, "missing subscription ID argument")
	}
	id, ok := wamp.AsID(args[0])
	if !ok {
		return 0, wamp.NewError(wamp.ErrInvalidArgument, "subscription ID must be an integer in 1..2^53")
	}
	return id, nil
}

// matchOption reads options.match of the second positional argument.
func matchOption(args wamp.List) (string, error) {
	if len(args) < 2 || args[1] == nil {
		return wamp.MatchExact, nil
	}
	opts, ok := args[1].(wamp.Dict)
	if !ok {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "options must be a dict")
	}
	m, ok := opts["match"]
	if !ok {
		return wamp.MatchExact, nil
	}
	switch m {
	case wamp.MatchExact, wamp.MatchPrefix, wamp.MatchWildcard:
		return m.(string), nil
	}
	return "", wamp.NewError(wamp.ErrInvalidArgument, "options.match must be exact, prefix or wildcard")
}

// metaLookup: [topic, options{match}] → the subscription ID for exactly that pattern, or null.
func (b *Local) metaLookup(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, err := uriArg(args)
	if err != nil {
		return nil, nil, err
	}
	match, err := matchOption(args)
	if err != nil {
		return nil, nil, err
	}
	b.mu.RLock()
	sub, ok := b.index.Get(u, match)
	b.mu.RUnlock()
	if !ok {
		if m := b.busMeta(); m != nil {
			if _, there := m.RemotePattern(u, match); there {
				return wamp.List{b.opts.SubscriptionID(u, match)}, nil, nil
			}
		}
		return wamp.List{nil}, nil, nil
	}
	return wamp.List{sub.id}, nil, nil
}

// metaMatch: [topic] → the IDs of every subscription a publication to topic reaches, or null.
func (b *Local) metaMatch(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, err := uriArg(args)
	if err != nil {
		return nil, nil, err
	}
	var ids []wamp.ID
	b.mu.RLock()
	b.index.Each(u, func(sub *subscription, _ wamp.URI, _ string) { ids = append(ids, sub.id) })
	b.mu.RUnlock()
	if m := b.busMeta(); m != nil {
		m.RemoteMatches(u, func(pattern wamp.URI, match string) {
			if id := b.opts.SubscriptionID(pattern, match); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		})
	}
	if len(ids) == 0 {
		return wamp.List{nil}, nil, nil
	}
	slices.Sort(ids)
	return wamp.List{idsList(ids)}, nil, nil
}

func (b *Local) subscription(args wamp.List) (*subscription, error) {
	id, err := idArg(args)
	if err != nil {
		return nil, err
	}
	b.mu.RLock()
	sub := b.byID[id]
	b.mu.RUnlock()
	if sub == nil {
		if m := b.busMeta(); m != nil {
			// Another node's: the same pattern has the same ID on every node.
			m.RemotePatterns(func(pattern wamp.URI, match string, created time.Time) {
				if sub == nil && b.opts.SubscriptionID(pattern, match) == id {
					sub = &subscription{id: id, topic: pattern, match: match, created: created}
				}
			})
		}
	}
	if sub == nil {
		return nil, wamp.NewError(wamp.ErrNoSuchSubscription, "no subscription with that ID")
	}
	return sub, nil
}

// busMeta is the Bus's side of the meta API, or nil on a single node.
func (b *Local) busMeta() BusMeta {
	if b.opts.SubscriptionID == nil {
		return nil
	}
	m, _ := b.opts.Bus.(BusMeta)
	return m
}

// subscribers lists a subscription's subscribers on every node, in the order they subscribed.
func (b *Local) subscribers(caller *session.Session, sub *subscription) ([]Subscriber, error) {
	local := sub.list()
	out := make([]Subscriber, 0, len(local))
	for _, e := range local {
		out = append(out, Subscriber{Session: e.s.ID, Since: e.since})
	}
	if m := b.busMeta(); m != nil {
		ctx := context.Background()
		if caller != nil {
			ctx = caller.Context()
		}
		remote, err := m.RemoteSubscribers(ctx, sub.topic, sub.match)
		if err != nil {
			return nil, wamp.NewError(ErrURIClusterUnavailable, "the other nodes did not answer: "+err.Error())
		}
		out = append(out, remote...)
		slices.SortStableFunc(out, func(x, y Subscriber) int { return cmp.Compare(x.Since, y.Since) })
	}
	return out, nil
}

// LocalSubscribers lists this node's subscribers of a pattern, for another node's meta API.
func (b *Local) LocalSubscribers(pattern wamp.URI, match string) []Subscriber {
	b.mu.RLock()
	sub, ok := b.index.Get(pattern, match)
	b.mu.RUnlock()
	if !ok {
		return nil
	}
	var out []Subscriber
	for _, e := range sub.list() {
		out = append(out, Subscriber{Session: e.s.ID, Since: e.since})
	}
	return out
}

func (b *Local) metaGet(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	sub, err := b.subscription(args)
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{sub.details()}, nil, nil
}

func (b *Local) metaListSubscribers(caller *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	sub, err := b.subscription(args)
	if err != nil {
		return nil, nil, err
	}
	list, err := b.subscribers(caller, sub)
	if err != nil {
		return nil, nil, err
	}
	ids := make(wamp.List, len(list))
	for i, e := range list {
		ids[i] = e.Session
	}
	return wamp.List{ids}, nil, nil
}

func (b *Local) metaCountSubscribers(caller *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	sub, err := b.subscription(args)
	if err != nil {
		return nil, nil, err
	}
	list, err := b.subscribers(caller, sub)
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{int64(len(list))}, nil, nil
}

// historyTimeout bounds one history query (flush of queued events and the store's read).
const historyTimeout = 10 * time.Second

// metaGetEvents: wamp.subscription.get_events [subscription|id, limit|int?] with the spec's
// keyword arguments (reverse, limit, from_time, after_time, before_time, until_time, topic,
// from_publication, after_publication, before_publication, until_publication). The limit may
// be given positionally, as Crossbar.io's original signature has it.
func (b *Local) metaGetEvents(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	sub, err := b.subscription(args)
	if err != nil {
		return nil, nil, err
	}
	if len(args) > 1 && args[1] != nil {
		if kwargs == nil {
			kwargs = wamp.Dict{}
		}
		if _, set := kwargs["limit"]; !set {
			kwargs["limit"] = args[1]
		}
	}
	return b.historyCall(caller, sub.topic, sub.match, sub.id, kwargs)
}

// metaTopicEvents: pawl.topic.get_events [topic|uri, options|dict{match}?] with the keyword
// arguments of wamp.subscription.get_events.
func (b *Local) metaTopicEvents(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, err := uriArg(args)
	if err != nil {
		return nil, nil, err
	}
	match, err := matchOption(args)
	if err != nil {
		return nil, nil, err
	}
	if !wamp.ValidPattern(u, match, false) {
		return nil, nil, wamp.NewError(wamp.ErrInvalidURI, "invalid topic URI: "+string(u))
	}
	return b.historyCall(caller, u, match, 0, kwargs)
}

func (b *Local) historyCall(caller *session.Session, pattern wamp.URI, match string, subID wamp.ID, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	q, err := parseHistoryQuery(kwargs)
	if err != nil {
		return nil, nil, err
	}
	q.matches = func(topic wamp.URI) bool { return Matches(pattern, match, topic) }
	parent := context.Background()
	if caller != nil {
		q.authID, q.authRole = caller.AuthID, caller.AuthRole
		parent = caller.Context() // a caller gone needs no answer
	}
	ctx, cancel := context.WithTimeout(parent, historyTimeout)
	defer cancel()
	events, err := b.history.query(ctx, q)
	if err != nil {
		b.log.Error("event history query failed", "topic", pattern, "match", match, "err", err)
		return nil, nil, wamp.NewError(wamp.ErrUnavailable, "event history unavailable")
	}
	out := make(wamp.List, len(events))
	for i, ev := range events {
		out[i] = historyResult(ev, subID)
	}
	return wamp.List{out}, nil, nil
}
