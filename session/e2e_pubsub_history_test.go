package session_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/redistest"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp"
)

// historyRealm is realm1 with history on com.example.chat.* (the last 5 events) and
// com.example.ticker (the last minute), kept in store.
func historyRealm(store pubsub.HistoryStore) realm.Config {
	return realm.Config{Name: "realm1", HistoryStore: store, History: pubsub.HistoryConfig{Topics: []pubsub.HistoryRule{
		{Topic: "com.example.chat.", Match: wamp.MatchPrefix, Limit: 5},
		{Topic: "com.example.ticker", MaxAge: time.Minute},
	}}}
}

// boltStore opens a history database in dir, closed when the test ends (after the router,
// whose cleanup is registered later and so runs first).
func boltStore(t *testing.T, dir string) *pubsub.BoltStore {
	t.Helper()
	s, err := pubsub.OpenBoltStore(filepath.Join(dir, pubsub.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func publications(evs []client.HistoryEvent) []any {
	out := make([]any, len(evs))
	for i, ev := range evs {
		if len(ev.Args) > 0 {
			out[i] = ev.Args[0]
		}
	}
	return out
}

func TestEventHistory(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{historyRealm(boltStore(t, t.TempDir()))}})
	pub, reader := join(t, r, "msgpack"), join(t, r, "json")
	roles, _ := reader.Welcome().Dict("roles")
	broker, _ := roles.Dict("broker")
	features, _ := broker.Dict("features")
	if v, _ := features.Bool("event_history"); !v {
		t.Error("event_history not announced")
	}

	// Events are kept whether or not anyone is subscribed.
	for i := 1; i <= 7; i++ {
		topic := wamp.URI("com.example.chat.lobby")
		if i%2 == 0 {
			topic = "com.example.chat.help"
		}
		publish(t, pub, topic, client.PublishOptions{DiscloseMe: i == 7}, int64(i))
	}
	publish(t, pub, "com.example.other", client.PublishOptions{}, "not kept")
	// Listing by session ID is never kept; by authrole it is, and filtered when read.
	publish(t, pub, "com.example.chat.lobby", client.PublishOptions{Exclude: []wamp.ID{1}}, "by session")
	publish(t, pub, "com.example.ticker", client.PublishOptions{EligibleAuthRole: []string{"admin"}}, "admins only")
	publish(t, pub, "com.example.ticker", client.PublishOptions{}, "tick")

	live, sub := subscribe(t, reader, "com.example.chat", client.SubscribeOptions{Match: wamp.MatchPrefix})
	evs, err := reader.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// The rule keeps the last 5.
	if got := publications(evs); !reflect.DeepEqual(got, []any{int64(3), int64(4), int64(5), int64(6), int64(7)}) {
		t.Fatalf("history %v, want 3..7", got)
	}
	last := evs[4]
	if last.Subscription != sub.ID || last.Topic != "com.example.chat.lobby" || last.Time.IsZero() ||
		time.Since(last.Time) > time.Minute || idOf(t, last.Details["publisher"]) != pub.ID() {
		t.Errorf("event %+v", last)
	}

	page1, _ := reader.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{Limit: 2})
	page2, _ := reader.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{Limit: 2, AfterPublication: page1[1].Publication})
	if got := publications(append(page1, page2...)); !reflect.DeepEqual(got, []any{int64(3), int64(4), int64(5), int64(6)}) {
		t.Errorf("pages %v", got)
	}
	rev, _ := reader.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{Reverse: true, Limit: 2})
	if got := publications(rev); !reflect.DeepEqual(got, []any{int64(7), int64(6)}) {
		t.Errorf("reverse %v", got)
	}
	help, _ := reader.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{Topic: "com.example.chat.help"})
	if got := publications(help); !reflect.DeepEqual(got, []any{int64(4), int64(6)}) {
		t.Errorf("topic filter %v", got)
	}
	since, _ := reader.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{AfterTime: evs[2].Time})
	if len(since) < 2 || since[len(since)-1].Publication != evs[4].Publication {
		t.Errorf("after_time %v", publications(since))
	}
	// The positional limit of Crossbar.io's signature.
	res := call(t, reader, "wamp.subscription.get_events", wamp.List{sub.ID, int64(1)}, nil)
	if l, _ := res.Args[0].(wamp.List); len(l) != 1 {
		t.Errorf("positional limit: %v", res.Args)
	}
	callError(t, reader, "wamp.subscription.get_events", wamp.List{int64(999999)}, nil, wamp.ErrNoSuchSubscription)
	callError(t, reader, "wamp.subscription.get_events", wamp.List{sub.ID}, wamp.Dict{"from_time": "today"}, wamp.ErrInvalidArgument)

	// Without subscribing, by topic.
	ticks, err := reader.TopicEvents(ctxT(t), "com.example.ticker", "", client.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := publications(ticks); !reflect.DeepEqual(got, []any{"tick"}) {
		t.Errorf("ticker history %v (the admins-only event must not show)", got)
	}
	wild, _ := reader.TopicEvents(ctxT(t), "com.example.chat.", wamp.MatchPrefix, client.HistoryQuery{Reverse: true, Limit: 1})
	if got := publications(wild); !reflect.DeepEqual(got, []any{int64(7)}) || wild[0].Subscription != 0 {
		t.Errorf("prefix topic history %v", got)
	}
	live.none(t, 0)
}

// Binary values and payload passthru events come back from the history intact.
func TestEventHistoryPayloads(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{historyRealm(boltStore(t, t.TempDir()))}})
	pub, reader := join(t, r, "json"), join(t, r, "msgpack")
	args := wamp.List{int64(1) << 53, -1.5, []byte{0, 0xff}, wamp.Dict{"k": wamp.List{nil, true}}}
	if err := pub.PublishWith(ctxT(t), "com.example.chat.bin", client.PublishOptions{Acknowledge: true}, args, wamp.Dict{"x": "ü"}); err != nil {
		t.Fatal(err)
	}
	blob := []byte{1, 2, 3, 0}
	if err := pub.PublishOpaque(ctxT(t), "com.example.chat.bin", client.PublishOptions{Acknowledge: true, PPTScheme: "mqtt"}, blob); err != nil {
		t.Fatal(err)
	}
	evs, err := reader.TopicEvents(ctxT(t), "com.example.chat.bin", "", client.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	if !reflect.DeepEqual(evs[0].Args, args) || !reflect.DeepEqual(evs[0].Kwargs, wamp.Dict{"x": "ü"}) {
		t.Errorf("values %#v %#v", evs[0].Args, evs[0].Kwargs)
	}
	if !bytes.Equal(evs[1].Opaque, blob) || evs[1].Details["ppt_scheme"] != "mqtt" {
		t.Errorf("passthru event %+v", evs[1])
	}
}

// The bbolt history is on disk: a router stopped and started again on the same data
// directory still has it.
func TestEventHistorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	var pubs []wamp.ID
	t.Run("first run", func(t *testing.T) {
		r := routertest.Start(t, routertest.Options{Realms: []realm.Config{historyRealm(boltStore(t, dir))}})
		pub, sub := join(t, r, "json"), join(t, r, "json")
		got, _ := subscribe(t, sub, "com.example.chat.room", client.SubscribeOptions{})
		for i := 1; i <= 3; i++ {
			publish(t, pub, "com.example.chat.room", client.PublishOptions{}, fmt.Sprint("before restart ", i))
			pubs = append(pubs, got.next(t).Publication)
		}
	})
	t.Run("second run", func(t *testing.T) {
		r := routertest.Start(t, routertest.Options{Realms: []realm.Config{historyRealm(boltStore(t, dir))}})
		c := join(t, r, "msgpack")
		_, sub := subscribe(t, c, "com.example.chat.room", client.SubscribeOptions{})
		evs, err := c.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got := publications(evs); !reflect.DeepEqual(got, []any{"before restart 1", "before restart 2", "before restart 3"}) {
			t.Fatalf("after restart: %v", got)
		}
		for i, ev := range evs {
			if ev.Publication != pubs[i] {
				t.Errorf("publication %d, want %d", ev.Publication, pubs[i])
			}
		}
		// What did I miss since publication 1?
		missed, _ := c.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{AfterPublication: pubs[0]})
		if len(missed) != 2 || missed[0].Publication != pubs[1] {
			t.Errorf("after publication %d: %v", pubs[0], publications(missed))
		}
	})
}

// Two routers with Redis stores on one server share one backlog.
func TestEventHistorySharedInRedis(t *testing.T) {
	srv := redistest.Start(t)
	open := func() *pubsub.RedisStore {
		s, err := pubsub.OpenRedisStore(ctxT(t), pubsub.RedisOptions{Addr: srv.Addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := routertest.Start(t, routertest.Options{Realms: []realm.Config{historyRealm(open())}})
	b := routertest.Start(t, routertest.Options{Realms: []realm.Config{historyRealm(open())}})
	pa, pb := join(t, a, "json"), join(t, b, "msgpack")
	read := func(c *client.Client) []any {
		t.Helper()
		evs, err := c.TopicEvents(ctxT(t), "com.example.chat.shared", "", client.HistoryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return publications(evs)
	}
	// Each router writes in the background; a read on a router first stores what that router
	// still holds, so reading after each publication fixes the order across the two.
	publish(t, pa, "com.example.chat.shared", client.PublishOptions{}, "from a")
	read(pa)
	publish(t, pb, "com.example.chat.shared", client.PublishOptions{}, "from b")
	read(pb)
	publish(t, pa, "com.example.chat.shared", client.PublishOptions{}, "from a again")
	read(pa)
	for name, c := range map[string]*client.Client{"router a": pa, "router b": pb} {
		if got := read(c); !reflect.DeepEqual(got, []any{"from a", "from b", "from a again"}) {
			t.Errorf("%s reads %v", name, got)
		}
	}
}

// With roles, reading a history needs the right to subscribe to its topic, and a testament
// the right to publish to its topic.
func TestHistoryAndTestamentAuthorization(t *testing.T) {
	cfg := historyRealm(boltStore(t, t.TempDir()))
	cfg.AnonymousRole = "user"
	cfg.Roles = []authz.Role{
		{Name: "user", Permissions: []authz.Permission{
			{URI: "com.example.chat.public", Call: true, Publish: true, Subscribe: true},
			{URI: "com.example.chat.secret", Publish: true},
			{URI: "wamp.", Match: wamp.MatchPrefix, Call: true},
			{URI: "pawl.", Match: wamp.MatchPrefix, Call: true},
		}},
		{Name: "admin", Trusted: true},
	}
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{cfg}})
	c := join(t, r, "json")
	publish(t, c, "com.example.chat.secret", client.PublishOptions{}, "hidden")
	publish(t, c, "com.example.chat.public", client.PublishOptions{}, "open")

	if evs, err := c.TopicEvents(ctxT(t), "com.example.chat.public", "", client.HistoryQuery{}); err != nil || len(evs) != 1 {
		t.Errorf("public history: %v %v", publications(evs), err)
	}
	_, err := c.TopicEvents(ctxT(t), "com.example.chat.secret", "", client.HistoryQuery{})
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized {
		t.Errorf("secret history: %s", ae.URI)
	}
	_, err = c.TopicEvents(ctxT(t), "com.example.chat.", wamp.MatchPrefix, client.HistoryQuery{})
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized {
		t.Errorf("prefix history over a secret topic: %s", ae.URI)
	}
	_, sub := subscribe(t, c, "com.example.chat.public", client.SubscribeOptions{})
	if evs, err := c.GetEvents(ctxT(t), sub.ID, client.HistoryQuery{}); err != nil || len(evs) != 1 {
		t.Errorf("get_events of an allowed subscription: %v %v", publications(evs), err)
	}

	callError(t, c, "wamp.session.add_testament", wamp.List{"com.example.chat.other", wamp.List{"x"}}, nil, wamp.ErrNotAuthorized)
	call(t, c, "wamp.session.add_testament", wamp.List{"com.example.chat.public", wamp.List{"allowed"}}, nil)
}
