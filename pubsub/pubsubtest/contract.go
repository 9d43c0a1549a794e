package pubsubtest

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// Env is what the suite gives the broker it asks for.
type Env struct {
	// PublishMeta must become the broker's meta-event sink (Options.PublishMeta): it publishes
	// through the broker under test as the router itself, as a realm does.
	PublishMeta func(topic wamp.URI, args wamp.List, kwargs wamp.Dict)
	// History and HistoryStore, when set, configure the event history (Options.History,
	// Options.HistoryStore).
	History      pubsub.HistoryConfig
	HistoryStore pubsub.HistoryStore
}

// NewBroker builds a fresh, empty broker for one test. The suite closes it.
type NewBroker func(t testing.TB, env Env) pubsub.Broker

// router is a broker under test with a session server in front of it.
type router struct {
	t   testing.TB
	b   pubsub.Broker
	srv *fakepeer.Server
}

func start(t testing.TB, newBroker NewBroker, env Env) *router {
	t.Helper()
	leakcheck.Check(t) // registered first: checks after everything else has shut down
	r := &router{t: t}
	env.PublishMeta = func(topic wamp.URI, args wamp.List, kwargs wamp.Dict) {
		r.b.Publish(nil, &wamp.Publish{Options: wamp.Dict{}, Topic: topic, Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
	}
	r.b = newBroker(t, env)
	t.Cleanup(r.b.Close) // after the server's shutdown (cleanups run last-in first-out)
	g := &fakepeer.Gate{OnLeave: r.b.Leave}
	dispatch.On(&g.Routes, r.b.Subscribe)
	dispatch.On(&g.Routes, r.b.Unsubscribe)
	dispatch.On(&g.Routes, r.b.HandlePublish)
	r.srv = fakepeer.Serve(t, g)
	return r
}

// join admits a session with authid and authrole.
func (r *router) join(authid, authrole string, serializer ...string) *fakepeer.Client {
	r.t.Helper()
	opts := fakepeer.Options{Details: wamp.Dict{"authid": authid, "authrole": authrole}}
	if len(serializer) > 0 {
		opts.Serializer = serializer[0]
	}
	return r.srv.Join(r.t, "realm1", opts)
}

func subscribe(t testing.TB, c *fakepeer.Client, topic wamp.URI, opts wamp.Dict) wamp.ID {
	t.Helper()
	if opts == nil {
		opts = wamp.Dict{}
	}
	req := c.NextID()
	c.Send(&wamp.Subscribe{Request: req, Options: opts, Topic: topic})
	m := fakepeer.Expect[*wamp.Subscribed](t, c)
	if m.Request != req {
		t.Fatalf("SUBSCRIBED for request %d, want %d", m.Request, req)
	}
	return m.Subscription
}

// publish publishes with acknowledge (so that the broker has routed it when this returns) and
// returns the publication ID.
func publish(t testing.TB, c *fakepeer.Client, topic wamp.URI, opts wamp.Dict, args ...any) wamp.ID {
	t.Helper()
	o := wamp.Dict{"acknowledge": true}
	for k, v := range opts {
		o[k] = v
	}
	req := c.NextID()
	c.Send(&wamp.Publish{Request: req, Options: o, Topic: topic, Payload: wamp.WithArgs(args...)})
	for {
		m := c.Recv()
		switch m := m.(type) {
		case *wamp.Published:
			if m.Request != req {
				t.Fatalf("PUBLISHED for request %d, want %d", m.Request, req)
			}
			return m.Publication
		case *wamp.Event:
			t.Fatalf("publisher got an EVENT before PUBLISHED: %v", m.Args)
		default:
			t.Fatalf("publish %s: got %s %+v", topic, m.Type(), m)
		}
	}
}

// event expects the next message to be an EVENT and returns it.
func event(t testing.TB, c *fakepeer.Client) *wamp.Event {
	t.Helper()
	return fakepeer.Expect[*wamp.Event](t, c)
}

// arg0 is an event's first argument.
func arg0(t testing.TB, e *wamp.Event) any {
	t.Helper()
	args, _, err := e.Payload.Values()
	if err != nil || len(args) == 0 {
		t.Fatalf("event without arguments (%v)", err)
	}
	return args[0]
}

// next expects an EVENT whose first argument is want: with a marker published after an event
// that must not arrive, it proves that one was not delivered.
func next(t testing.TB, c *fakepeer.Client, want string) *wamp.Event {
	t.Helper()
	e := event(t, c)
	if got := arg0(t, e); got != want {
		t.Fatalf("session %d: got event %v, want %q", c.ID, got, want)
	}
	return e
}

func (r *router) meta(proc wamp.URI, caller *session.Session, args ...any) (wamp.List, error) {
	r.t.Helper()
	f, ok := r.b.MetaProcedures()[proc]
	if !ok {
		r.t.Fatalf("broker does not serve %s", proc)
	}
	res, _, err := f(caller, wamp.List(args), nil)
	return res, err
}

// BrokerContract runs the suite against brokers made by newBroker.
func BrokerContract(t *testing.T, newBroker NewBroker) {
	run := func(name string, f func(t *testing.T, r *router)) {
		t.Run(name, func(t *testing.T) { f(t, start(t, newBroker, Env{})) })
	}
	run("ExactMatch", testExact)
	run("PrefixMatch", testPrefix)
	run("WildcardMatch", testWildcard)
	run("SubscriptionShared", testShared)
	run("Unsubscribe", testUnsubscribe)
	run("InvalidURIs", testInvalidURIs)
	run("ExcludeMe", testExcludeMe)
	run("BlackWhiteListing", testListing)
	run("PublisherDisclosure", testDisclosure)
	run("Acknowledge", testAcknowledge)
	run("Codecs", testCodecs)
	run("Retained", testRetained)
	run("MetaEvents", testMetaEvents)
	run("MetaProcedures", testMetaProcedures)
	run("LeaveReleasesEverything", testLeave)
	run("SlowSubscriberIsCutOff", testSlowSubscriber)
	run("SubscribedBeforeEvents", testOrdering)
	t.Run("History", func(t *testing.T) {
		store, err := pubsub.OpenBoltStore(filepath.Join(t.TempDir(), "history.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		env := Env{HistoryStore: store, History: pubsub.HistoryConfig{Topics: []pubsub.HistoryRule{{Topic: "com.hist", Match: wamp.MatchPrefix, Limit: 2}}}}
		testHistory(t, start(t, newBroker, env))
	})
}

func testExact(t *testing.T, r *router) {
	sub, pub := r.join("alice", "user"), r.join("bob", "user")
	id := subscribe(t, sub, "com.x.a", nil)
	pubID := publish(t, pub, "com.x.a", nil, "one")
	e := next(t, sub, "one")
	if e.Subscription != id || e.Publication != pubID {
		t.Errorf("EVENT subscription %d publication %d, want %d %d", e.Subscription, e.Publication, id, pubID)
	}
	if _, ok := e.Details["topic"]; ok {
		t.Errorf("exact subscription's EVENT names the topic: %v", e.Details)
	}
	publish(t, pub, "com.x.ab", nil, "other topic")
	publish(t, pub, "com.x", nil, "parent topic")
	publish(t, pub, "com.x.a", nil, "two")
	next(t, sub, "two")
}

func testPrefix(t *testing.T, r *router) {
	sub, pub := r.join("alice", "user"), r.join("bob", "user")
	id := subscribe(t, sub, "com.p", wamp.Dict{"match": "prefix"})
	publish(t, pub, "com.p.x.y", nil, "deep")
	e := next(t, sub, "deep")
	if e.Subscription != id || e.Details["topic"] != "com.p.x.y" {
		t.Errorf("prefix EVENT: subscription %d (want %d), details %v", e.Subscription, id, e.Details)
	}
	publish(t, pub, "com.q.x", nil, "elsewhere")
	publish(t, pub, "com.p", nil, "itself")
	next(t, sub, "itself")
}

func testWildcard(t *testing.T, r *router) {
	sub, pub := r.join("alice", "user"), r.join("bob", "user")
	id := subscribe(t, sub, "com..z", wamp.Dict{"match": "wildcard"})
	publish(t, pub, "com.a.b", nil, "no")
	publish(t, pub, "com.a.z.more", nil, "too long")
	publish(t, pub, "com.a.z", nil, "yes")
	e := next(t, sub, "yes")
	if e.Subscription != id || e.Details["topic"] != "com.a.z" {
		t.Errorf("wildcard EVENT: subscription %d (want %d), details %v", e.Subscription, id, e.Details)
	}
}

// Subscribers of one topic pattern share its subscription; subscribing twice changes nothing;
// one publication reaches each matching subscription once.
func testShared(t *testing.T, r *router) {
	a, b, pub := r.join("a", "user"), r.join("b", "user"), r.join("p", "user")
	idA := subscribe(t, a, "com.s", nil)
	idB := subscribe(t, b, "com.s", nil)
	if idA != idB {
		t.Errorf("two subscribers of one topic got subscriptions %d and %d", idA, idB)
	}
	if again := subscribe(t, a, "com.s", nil); again != idA {
		t.Errorf("subscribing twice gave %d, then %d", idA, again)
	}
	prefixID := subscribe(t, a, "com", wamp.Dict{"match": "prefix"})
	if prefixID == idA {
		t.Error("a prefix subscription shares the exact one's ID")
	}
	publish(t, pub, "com.s", nil, "x")
	next(t, b, "x")
	got := map[wamp.ID]int{}
	for range 2 {
		got[event(t, a).Subscription]++
	}
	if got[idA] != 1 || got[prefixID] != 1 {
		t.Errorf("subscriber of two matching subscriptions got events %v, want one per subscription", got)
	}
	publish(t, pub, "com.s", nil, "y")
	next(t, b, "y") // a's second subscribe did not add a second delivery
	next(t, a, "y")
	next(t, a, "y")
	publish(t, pub, "com.t", nil, "z")
	next(t, a, "z")
}

func testUnsubscribe(t *testing.T, r *router) {
	a, b, pub := r.join("a", "user"), r.join("b", "user"), r.join("p", "user")
	id := subscribe(t, a, "com.u", nil)
	subscribe(t, b, "com.u", nil)
	req := a.NextID()
	a.Send(&wamp.Unsubscribe{Request: req, Subscription: id})
	if m := fakepeer.Expect[*wamp.Unsubscribed](t, a); m.Request != req {
		t.Errorf("UNSUBSCRIBED for %d, want %d", m.Request, req)
	}
	publish(t, pub, "com.u", nil, "after")
	next(t, b, "after") // b still subscribed
	subscribe(t, a, "com.marker", nil)
	publish(t, pub, "com.marker", nil, "marker")
	next(t, a, "marker")

	// Unsubscribing again, or from someone else's subscription, fails.
	for _, c := range []*fakepeer.Client{a, pub} {
		req := c.NextID()
		c.Send(&wamp.Unsubscribe{Request: req, Subscription: id})
		if m := fakepeer.Expect[*wamp.Error](t, c); m.Error != wamp.ErrNoSuchSubscription || m.Request != req {
			t.Errorf("unsubscribe of a subscription not held: %s for %d", m.Error, m.Request)
		}
	}
}

func testInvalidURIs(t *testing.T, r *router) {
	c := r.join("a", "user")
	for _, s := range []struct {
		topic wamp.URI
		match string
	}{{"com..x", "exact"}, {"com.#x", "exact"}, {"", "wildcard"}} {
		req := c.NextID()
		c.Send(&wamp.Subscribe{Request: req, Options: wamp.Dict{"match": s.match}, Topic: s.topic})
		if m := fakepeer.Expect[*wamp.Error](t, c); m.Error != wamp.ErrInvalidURI || m.Request != req {
			t.Errorf("subscribe %q (%s): %s, want %s", s.topic, s.match, m.Error, wamp.ErrInvalidURI)
		}
	}
	req := c.NextID()
	c.Send(&wamp.Publish{Request: req, Options: wamp.Dict{"acknowledge": true}, Topic: "com..bad"})
	if m := fakepeer.Expect[*wamp.Error](t, c); m.Error != wamp.ErrInvalidURI || m.Request != req {
		t.Errorf("publish to an invalid URI: %s", m.Error)
	}
}

func testExcludeMe(t *testing.T, r *router) {
	a, b := r.join("a", "user"), r.join("b", "user")
	subscribe(t, a, "com.e", nil)
	subscribe(t, b, "com.e", nil)
	publish(t, a, "com.e", nil, "default excludes")
	next(t, b, "default excludes")
	req := a.NextID()
	a.Send(&wamp.Publish{Request: req, Options: wamp.Dict{"acknowledge": true, "exclude_me": false}, Topic: "com.e", Payload: wamp.WithArgs("mine too")})
	// The publisher receives its own event (before or after PUBLISHED).
	gotEvent, gotAck := false, false
	for !gotEvent || !gotAck {
		switch m := a.Recv().(type) {
		case *wamp.Event:
			if arg0(t, m) != "mine too" {
				t.Fatalf("unexpected event %v", m.Args)
			}
			gotEvent = true
		case *wamp.Published:
			gotAck = true
		default:
			t.Fatalf("got %s", m.Type())
		}
	}
	next(t, b, "mine too")
}

func testListing(t *testing.T, r *router) {
	pub := r.join("pub", "admin")
	a, b, c := r.join("alice", "user"), r.join("bob", "user"), r.join("carol", "admin")
	for _, s := range []*fakepeer.Client{a, b, c} {
		subscribe(t, s, "com.l", nil)
	}
	cases := []struct {
		opts wamp.Dict
		want []*fakepeer.Client
	}{
		{wamp.Dict{"exclude": wamp.List{a.ID}}, []*fakepeer.Client{b, c}},
		{wamp.Dict{"eligible": wamp.List{a.ID, c.ID}}, []*fakepeer.Client{a, c}},
		{wamp.Dict{"eligible": wamp.List{a.ID, b.ID}, "exclude": wamp.List{b.ID}}, []*fakepeer.Client{a}},
		{wamp.Dict{"exclude_authid": wamp.List{"bob"}}, []*fakepeer.Client{a, c}},
		{wamp.Dict{"eligible_authid": wamp.List{"bob", "carol"}}, []*fakepeer.Client{b, c}},
		{wamp.Dict{"exclude_authrole": wamp.List{"user"}}, []*fakepeer.Client{c}},
		{wamp.Dict{"eligible_authrole": wamp.List{"user"}}, []*fakepeer.Client{a, b}},
		{wamp.Dict{"eligible_authrole": wamp.List{"user"}, "exclude_authid": wamp.List{"alice"}}, []*fakepeer.Client{b}},
	}
	for i, tc := range cases {
		label := fmt.Sprintf("case %d", i)
		publish(t, pub, "com.l", tc.opts, label)
		publish(t, pub, "com.l", nil, "marker")
		for _, s := range []*fakepeer.Client{a, b, c} {
			e := event(t, s)
			got := arg0(t, e)
			wanted := false
			for _, w := range tc.want {
				wanted = wanted || w == s
			}
			if wanted {
				if got != label {
					t.Errorf("%s %v: %s did not receive it (got %v)", label, tc.opts, s.Welcome["authid"], got)
					continue
				}
				next(t, s, "marker")
			} else if got != "marker" {
				t.Errorf("%s %v: %s received it", label, tc.opts, s.Welcome["authid"])
				next(t, s, "marker")
			}
		}
	}
}

func testDisclosure(t *testing.T, r *router) {
	pub, sub := r.join("pubber", "writer"), r.join("s", "user")
	id := subscribe(t, sub, "com.d", nil)
	publish(t, pub, "com.d", nil, "anonymous")
	e := next(t, sub, "anonymous")
	for _, k := range []string{"publisher", "publisher_authid", "publisher_authrole"} {
		if _, ok := e.Details[k]; ok {
			t.Errorf("undisclosed publication's EVENT has %s: %v", k, e.Details)
		}
	}
	publish(t, pub, "com.d", wamp.Dict{"disclose_me": true}, "disclosed")
	e = next(t, sub, "disclosed")
	if fmt.Sprint(e.Details["publisher"]) != fmt.Sprint(pub.ID) || e.Details["publisher_authid"] != "pubber" ||
		e.Details["publisher_authrole"] != "writer" || e.Subscription != id {
		t.Errorf("disclosed EVENT details %v, want publisher %d pubber writer", e.Details, pub.ID)
	}
}

func testAcknowledge(t *testing.T, r *router) {
	pub, sub := r.join("p", "user"), r.join("s", "user")
	subscribe(t, sub, "com.ack", nil)
	id1 := publish(t, pub, "com.ack", nil, "1")
	id2 := publish(t, pub, "com.ack", nil, "2")
	if id1 == id2 || next(t, sub, "1").Publication != id1 || next(t, sub, "2").Publication != id2 {
		t.Errorf("publication IDs %d %d: not distinct or not those of the events", id1, id2)
	}
	// Without acknowledge the publisher gets nothing back: its next message is the PUBLISHED of
	// a later acknowledged publication.
	pub.Send(&wamp.Publish{Request: pub.NextID(), Options: wamp.Dict{}, Topic: "com.ack", Payload: wamp.WithArgs("quiet")})
	pub.Send(&wamp.Publish{Request: pub.NextID(), Options: wamp.Dict{}, Topic: "com..bad", Payload: wamp.WithArgs("bad")})
	publish(t, pub, "com.ack", nil, "3")
	next(t, sub, "quiet")
	next(t, sub, "3")
}

func testCodecs(t *testing.T, r *router) {
	pub := r.join("p", "user", "msgpack")
	j, m := r.join("j", "user", "json"), r.join("m", "user", "msgpack")
	subscribe(t, j, "com.c", nil)
	subscribe(t, m, "com.c", wamp.Dict{"match": "prefix"})
	publish(t, pub, "com.c", nil, "hello", int64(42))
	for _, c := range []*fakepeer.Client{j, m} {
		e := next(t, c, "hello")
		args, _, _ := e.Payload.Values()
		if len(args) != 2 || fmt.Sprint(args[1]) != "42" {
			t.Errorf("%s subscriber got %v", c.Codec.Name(), args)
		}
	}
}

func testRetained(t *testing.T, r *router) {
	pub := r.join("p", "user")
	publish(t, pub, "com.r", wamp.Dict{"retain": true}, "old")
	publish(t, pub, "com.r", wamp.Dict{"retain": true}, "kept")
	publish(t, pub, "com.r.other", wamp.Dict{"retain": true, "eligible_authid": wamp.List{"nobody"}}, "not for you")
	publish(t, pub, "com.r.plain", nil, "not retained")

	late := r.join("late", "user")
	id := subscribe(t, late, "com.r", wamp.Dict{"get_retained": true})
	e := next(t, late, "kept")
	if e.Subscription != id || e.Details["retained"] != true {
		t.Errorf("retained EVENT: subscription %d (want %d), details %v", e.Subscription, id, e.Details)
	}
	// A pattern subscription gets every retained topic it matches, that it is eligible for.
	pid := subscribe(t, late, "com.r", wamp.Dict{"match": "prefix", "get_retained": true})
	e = next(t, late, "kept")
	if e.Subscription != pid || e.Details["topic"] != "com.r" {
		t.Errorf("retained EVENT for a prefix subscription: %d %v", e.Subscription, e.Details)
	}
	// Without get_retained, nothing retained is sent.
	other := r.join("other", "user")
	subscribe(t, other, "com.r", nil)
	publish(t, pub, "com.r", nil, "live")
	next(t, other, "live")
}

func testMetaEvents(t *testing.T, r *router) {
	watcher, a := r.join("w", "user"), r.join("a", "user")
	// The watcher's own subscribing is announced to it as well, interleaved with its
	// SUBSCRIBEDs: the marker's EVENT ends what it brings.
	topics := []wamp.URI{"wamp.subscription.on_create", "wamp.subscription.on_subscribe",
		"wamp.subscription.on_unsubscribe", "wamp.subscription.on_delete", "com.marker"}
	for i, topic := range topics {
		watcher.Send(&wamp.Subscribe{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Topic: topic})
	}
	for acked := 0; acked < len(topics); {
		if _, ok := watcher.Recv().(*wamp.Subscribed); ok {
			acked++
		}
	}
	publish(t, a, "com.marker", nil, "marker")
	for {
		e := event(t, watcher)
		if args, _, _ := e.Payload.Values(); len(args) > 0 && args[0] == "marker" {
			break
		}
	}
	expectMeta := func() wamp.List {
		t.Helper()
		e := event(t, watcher)
		args, _, _ := e.Payload.Values()
		// The watcher's own subscribing may still be announced after the marker when the
		// broker spans nodes (the marker came from another node): skip those.
		for len(args) > 0 && fmt.Sprint(args[0]) == fmt.Sprint(watcher.ID) {
			e = event(t, watcher)
			args, _, _ = e.Payload.Values()
		}
		if len(args) < 2 {
			t.Fatalf("meta event with arguments %v", args)
		}
		if fmt.Sprint(args[0]) != fmt.Sprint(a.ID) {
			t.Errorf("meta event names session %v, want %d", args[0], a.ID)
		}
		return args
	}
	id := subscribe(t, a, "com.meta", wamp.Dict{"match": "prefix"})
	args := expectMeta() // on_create with the subscription's details
	d, _ := args[1].(wamp.Dict)
	if d == nil || d["uri"] != "com.meta" || d["match"] != "prefix" || fmt.Sprint(d["id"]) != fmt.Sprint(id) {
		t.Errorf("on_create details %v", args[1])
	}
	args = expectMeta() // on_subscribe
	if fmt.Sprint(args[1]) != fmt.Sprint(id) {
		t.Errorf("on_subscribe names %v, want %d", args[1], id)
	}
	a.Send(&wamp.Unsubscribe{Request: a.NextID(), Subscription: id})
	fakepeer.Expect[*wamp.Unsubscribed](t, a)
	for _, what := range []string{"on_unsubscribe", "on_delete"} {
		if args := expectMeta(); fmt.Sprint(args[1]) != fmt.Sprint(id) {
			t.Errorf("%s names %v, want %d", what, args[1], id)
		}
	}
}

// testMetaProcedures pins the subscription meta API the realm serves from the broker.
func testMetaProcedures(t *testing.T, r *router) {
	a, b := r.join("a", "user"), r.join("b", "user")
	exact := subscribe(t, a, "com.m.x", nil)
	prefix := subscribe(t, a, "com.m", wamp.Dict{"match": "prefix"})
	subscribe(t, b, "com.m", wamp.Dict{"match": "prefix"})
	wild := subscribe(t, b, "com..x", wamp.Dict{"match": "wildcard"})
	first := func(proc wamp.URI, args ...any) any {
		t.Helper()
		res, err := r.meta(proc, nil, args...)
		if err != nil {
			t.Fatalf("%s %v: %v", proc, args, err)
		}
		return res[0]
	}
	same := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	same("lookup com.m.x", first("wamp.subscription.lookup", "com.m.x"), exact)
	same("lookup com.m prefix", first("wamp.subscription.lookup", "com.m", wamp.Dict{"match": "prefix"}), prefix)
	same("lookup com.m exact", first("wamp.subscription.lookup", "com.m"), nil)
	matched := map[string]bool{}
	for _, id := range first("wamp.subscription.match", "com.m.x").(wamp.List) {
		matched[fmt.Sprint(id)] = true
	}
	if len(matched) != 3 || !matched[fmt.Sprint(exact)] || !matched[fmt.Sprint(prefix)] || !matched[fmt.Sprint(wild)] {
		t.Errorf("match com.m.x = %v, want %d %d %d", matched, exact, prefix, wild)
	}
	same("match org.y", first("wamp.subscription.match", "org.y"), nil)
	if d, _ := first("wamp.subscription.get", int64(prefix)).(wamp.Dict); d["uri"] != "com.m" || d["match"] != "prefix" {
		t.Errorf("get = %v", d)
	}
	same("count_subscribers", first("wamp.subscription.count_subscribers", int64(prefix)), 2)
	same("list_subscribers", first("wamp.subscription.list_subscribers", int64(prefix)), wamp.List{a.ID, b.ID})
	for _, proc := range []wamp.URI{"wamp.subscription.get", "wamp.subscription.list_subscribers", "wamp.subscription.count_subscribers"} {
		if _, err := r.meta(proc, nil, int64(424242)); err == nil {
			t.Errorf("%s of an unknown subscription: no error", proc)
		}
	}
	a.Drop()
	same("list_subscribers after a left", first("wamp.subscription.list_subscribers", int64(prefix)), wamp.List{b.ID})
	same("lookup after its only subscriber left", first("wamp.subscription.lookup", "com.m.x"), nil)
}

// testSlowSubscriber: a subscriber whose queue is full is cut off; the publisher and the
// other subscribers never notice.
func testSlowSubscriber(t *testing.T, r *router) {
	pub, fast := r.join("p", "user"), r.join("fast", "user")
	slow := r.srv.Join(t, "realm1", fakepeer.Options{QueueLimit: 3})
	subscribe(t, slow, "com.flood", nil)
	subscribe(t, fast, "com.flood", nil)
	for i := range 10 {
		publish(t, pub, "com.flood", nil, fmt.Sprint(i))
		next(t, fast, fmt.Sprint(i))
	}
	// A broker spread over nodes delivers to the slow one a moment later: wait a little.
	closed, code, reason := slow.Closed()
	for deadline := time.Now().Add(5 * time.Second); !closed && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		closed, code, reason = slow.Closed()
	}
	if !closed || code != 1013 || !strings.Contains(reason, "slow_consumer") {
		t.Errorf("slow subscriber: closed %v, code %d, reason %q; want cut off with 1013 and a slow consumer reason", closed, code, reason)
	}
	slow.Drop() // it has left: its subscription is gone
	res, err := r.meta("wamp.subscription.list_subscribers", nil, int64(subscribe(t, fast, "com.flood", nil)))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res[0]) != fmt.Sprint(wamp.List{fast.ID}) {
		t.Errorf("subscribers after the cut-off: %v, want only %d", res[0], fast.ID)
	}
}

func testLeave(t *testing.T, r *router) {
	a, b, pub := r.join("a", "user"), r.join("b", "user"), r.join("p", "user")
	subscribe(t, a, "com.leave", nil)
	subscribe(t, a, "com.leave", wamp.Dict{"match": "prefix"})
	subscribe(t, b, "com.leave", nil)
	a.Drop()
	publish(t, pub, "com.leave", nil, "after")
	next(t, b, "after")
	b.Leave()
	res, err := r.meta("wamp.subscription.list", nil)
	if err != nil {
		t.Fatal(err)
	}
	lists, _ := res[0].(wamp.Dict)
	for match, ids := range lists {
		if l, _ := ids.(wamp.List); len(l) != 0 {
			t.Errorf("after every subscriber left, %s subscriptions remain: %v", match, l)
		}
	}
	// A new subscriber starts afresh.
	c := r.join("c", "user")
	subscribe(t, c, "com.leave", nil)
	publish(t, pub, "com.leave", nil, "again")
	next(t, c, "again")
}

// testOrdering pins the subscribe/publish handshake under concurrency: while publications
// race with subscribes, a new subscriber gets SUBSCRIBED, then the retained event it asked
// for, then live events — none overtakes — and every publication begun after SUBSCRIBED was
// queued reaches it. The subscribing goroutine is slowed right after queuing SUBSCRIBED, so
// that publishers meet the half-added subscriber.
func testOrdering(t *testing.T, r *router) {
	const subscribers = 30
	r.b.Publish(nil, &wamp.Publish{Options: wamp.Dict{"retain": true}, Topic: "com.race", Payload: wamp.WithArgs(int64(0))})
	var started atomic.Int64 // publications begun
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := started.Add(1)
				r.b.Publish(nil, &wamp.Publish{Options: wamp.Dict{}, Topic: "com.race", Payload: wamp.WithArgs(n)})
			}
		}()
	}
	type result struct {
		c         *fakepeer.Client
		threshold atomic.Int64 // publications begun when SUBSCRIBED had been queued
	}
	results := make([]*result, subscribers)
	subscribedPrefix := []byte("[33,")
	for i := range results {
		res := &result{}
		res.threshold.Store(-1)
		res.c = r.srv.Join(t, "realm1", fakepeer.Options{OnSend: func(frame []byte) {
			if res.threshold.Load() < 0 && bytes.HasPrefix(frame, subscribedPrefix) {
				res.threshold.Store(started.Load())
				time.Sleep(time.Millisecond) // publishers run into the subscriber meanwhile
			}
		}})
		results[i] = res
	}
	for _, res := range results {
		res.c.Send(&wamp.Subscribe{Request: 1, Options: wamp.Dict{"get_retained": true}, Topic: "com.race"})
	}
	for _, res := range results {
		if m := res.c.Recv(); m.Type() != wamp.TypeSubscribed {
			t.Errorf("session %d got %s before SUBSCRIBED", res.c.ID, m.Type())
			continue
		}
		if e := event(t, res.c); e.Details["retained"] != true {
			t.Errorf("session %d got live event %v before the retained one", res.c.ID, e.Args)
		}
	}
	close(stop)
	wg.Wait()
	last := started.Load()
	// A final publication after all of the above: everyone has it.
	r.b.Publish(nil, &wamp.Publish{Options: wamp.Dict{}, Topic: "com.race", Payload: wamp.WithArgs(int64(-1))})
	for _, res := range results {
		c := res.c
		seen := map[int64]bool{}
		for {
			m, err := c.TryRecv(fakepeer.Wait)
			e, ok := m.(*wamp.Event)
			if err != nil || !ok {
				t.Fatalf("session %d: the publication after everyone subscribed did not reach it (got %v, %v)", c.ID, m, err)
			}
			v, _ := wamp.AsInt64(arg0(t, e))
			if v == -1 {
				break
			}
			seen[v] = true
		}
		threshold := res.threshold.Load()
		for n := threshold + 1; n <= last; n++ {
			if !seen[n] {
				t.Errorf("session %d missed publication %d, begun after its SUBSCRIBED was queued (when %d had begun)",
					c.ID, n, threshold)
				break
			}
		}
	}
}

func testHistory(t *testing.T, r *router) {
	pub, sub := r.join("p", "user"), r.join("s", "user")
	id := subscribe(t, sub, "com.hist", wamp.Dict{"match": "prefix"})
	for _, v := range []string{"h1", "h2", "h3"} {
		publish(t, pub, "com.hist.a", nil, v)
		next(t, sub, v)
	}
	publish(t, pub, "com.hist.a", wamp.Dict{"eligible": wamp.List{sub.ID}}, "by session: not kept")
	next(t, sub, "by session: not kept")
	res, err := r.meta("wamp.subscription.get_events", sub.Session(), int64(id))
	if err != nil {
		t.Fatal(err)
	}
	events, _ := res[0].(wamp.List)
	var got []any
	for _, ev := range events {
		d, _ := ev.(wamp.Dict)
		args, _ := d["args"].(wamp.List)
		if len(args) > 0 {
			got = append(got, args[0])
		}
	}
	// The rule keeps the last two events; the newest first.
	if fmt.Sprint(got) != "[h3 h2]" && fmt.Sprint(got) != "[h2 h3]" {
		t.Errorf("history holds %v, want the last two of h1 h2 h3", got)
	}
	if _, err := r.meta("wamp.subscription.get_events", sub.Session(), int64(12345)); err == nil {
		t.Error("history of an unknown subscription: no error")
	}
}
