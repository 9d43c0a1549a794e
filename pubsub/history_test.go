package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/redistest"
	"github.com/pawl-wamp/pawl/wamp"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openBolt(t *testing.T, path string) *BoltStore {
	t.Helper()
	s, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openRedis(t *testing.T, addr string) *RedisStore {
	t.Helper()
	s, err := OpenRedisStore(ctxT(t), RedisOptions{Addr: addr, Prefix: "test:"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scanAll returns the publications of a realm's events in scan order.
func scanAll(t *testing.T, s HistoryStore, realm wamp.URI, reverse bool) []wamp.ID {
	t.Helper()
	var out []wamp.ID
	var lastSeq uint64
	err := s.Scan(ctxT(t), realm, reverse, func(ev *HistoryEvent) bool {
		if lastSeq != 0 && (ev.Seq > lastSeq) == reverse {
			t.Errorf("scan out of order: seq %d after %d (reverse %v)", ev.Seq, lastSeq, reverse)
		}
		lastSeq = ev.Seq
		out = append(out, ev.Publication)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func event(pub wamp.ID, log string, keep Retention) *HistoryEvent {
	return &HistoryEvent{Log: log, Time: time.Now(), Topic: "com.example.t", Publication: pub, Keep: keep,
		Args: wamp.List{int64(pub)}}
}

func appendAll(t *testing.T, s HistoryStore, realm wamp.URI, evs ...*HistoryEvent) {
	t.Helper()
	if err := s.Append(ctxT(t), realm, evs); err != nil {
		t.Fatal(err)
	}
}

// storeContract is what every HistoryStore must do.
func storeContract(t *testing.T, open func(t *testing.T) HistoryStore) {
	t.Run("order and realms", func(t *testing.T) {
		s := open(t)
		appendAll(t, s, "r1", event(1, "exact:a", Retention{Limit: 10}), event(2, "prefix:b", Retention{Limit: 10}))
		appendAll(t, s, "r2", event(3, "exact:a", Retention{Limit: 10}))
		appendAll(t, s, "r1", event(4, "exact:a", Retention{Limit: 10}))
		if got := scanAll(t, s, "r1", false); !reflect.DeepEqual(got, []wamp.ID{1, 2, 4}) {
			t.Errorf("r1 forward: %v", got)
		}
		if got := scanAll(t, s, "r1", true); !reflect.DeepEqual(got, []wamp.ID{4, 2, 1}) {
			t.Errorf("r1 reverse: %v", got)
		}
		if got := scanAll(t, s, "r2", false); !reflect.DeepEqual(got, []wamp.ID{3}) {
			t.Errorf("r2: %v", got)
		}
		if got := scanAll(t, s, "nowhere", false); len(got) != 0 {
			t.Errorf("unknown realm: %v", got)
		}
	})
	t.Run("count limit per log", func(t *testing.T) {
		s := open(t)
		keep := Retention{Limit: 3}
		for pub := wamp.ID(1); pub <= 5; pub++ {
			appendAll(t, s, "r1", event(pub, "exact:a", keep), event(pub+100, "exact:b", Retention{Limit: 100}))
		}
		// One batch beyond the limit at once.
		appendAll(t, s, "r1", event(6, "exact:a", keep), event(7, "exact:a", keep), event(8, "exact:a", keep),
			event(9, "exact:a", keep))
		want := []wamp.ID{101, 102, 103, 104, 105, 7, 8, 9}
		if got := scanAll(t, s, "r1", false); !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("age limit", func(t *testing.T) {
		s := open(t)
		old := event(1, "exact:a", Retention{MaxAge: time.Hour})
		old.Time = time.Now().Add(-2 * time.Hour)
		appendAll(t, s, "r1", old)
		appendAll(t, s, "r1", event(2, "exact:a", Retention{MaxAge: time.Hour}))
		if got := scanAll(t, s, "r1", false); !reflect.DeepEqual(got, []wamp.ID{2}) {
			t.Errorf("got %v, want [2]", got)
		}
	})
	t.Run("values survive", func(t *testing.T) {
		s := open(t)
		at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
		in := &HistoryEvent{Log: "wildcard:com..x", Time: at, Topic: "com.a.x", Publication: 1 << 53,
			Details:       wamp.Dict{"publisher": wamp.ID(42), "publisher_authid": "alice"},
			Args:          wamp.List{int64(-1), uint64(1 << 63), 1.5, "ü", []byte{0, 1, 2}, nil, true, wamp.List{}},
			Kwargs:        wamp.Dict{"nested": wamp.Dict{"k": wamp.List{int64(1)}}},
			ExcludeAuthID: []string{"bob"}, EligibleAuthRole: []string{}, Keep: Retention{Limit: 5}}
		opaque := &HistoryEvent{Log: "exact:o", Time: at, Topic: "com.o", Publication: 2, Opaque: []byte{0xff, 0},
			Details: wamp.Dict{"ppt_scheme": "mqtt"}, Keep: Retention{Limit: 5}}
		appendAll(t, s, "r1", in, opaque)
		var got []*HistoryEvent
		if err := s.Scan(ctxT(t), "r1", false, func(ev *HistoryEvent) bool { got = append(got, ev); return true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("got %d events", len(got))
		}
		g := got[0]
		if !g.Time.Equal(at) || g.Topic != in.Topic || g.Publication != in.Publication || g.Log != in.Log {
			t.Errorf("header: %+v", g)
		}
		if id, _ := wamp.AsID(g.Details["publisher"]); id != 42 || g.Details["publisher_authid"] != "alice" {
			t.Errorf("details: %v", g.Details)
		}
		wantArgs := wamp.List{int64(-1), uint64(1 << 63), 1.5, "ü", []byte{0, 1, 2}, nil, true, wamp.List{}}
		if !reflect.DeepEqual(g.Args, wantArgs) {
			t.Errorf("args: %#v", g.Args)
		}
		if !reflect.DeepEqual(g.Kwargs, in.Kwargs) {
			t.Errorf("kwargs: %#v", g.Kwargs)
		}
		if !reflect.DeepEqual(g.ExcludeAuthID, []string{"bob"}) || g.EligibleAuthRole == nil || len(g.EligibleAuthRole) != 0 ||
			g.EligibleAuthID != nil || g.ExcludeAuthRole != nil {
			t.Errorf("listing: %+v", g)
		}
		if o := got[1]; !reflect.DeepEqual(o.Opaque, []byte{0xff, 0}) || o.Args != nil || o.Details["ppt_scheme"] != "mqtt" {
			t.Errorf("opaque event: %+v", o)
		}
	})
	t.Run("scan stops when asked", func(t *testing.T) {
		s := open(t)
		for pub := wamp.ID(1); pub <= 600; pub++ { // beyond one Redis page
			appendAll(t, s, "r1", event(pub, "exact:a", Retention{Limit: 1000}))
		}
		n := 0
		if err := s.Scan(ctxT(t), "r1", false, func(*HistoryEvent) bool { n++; return n < 300 }); err != nil {
			t.Fatal(err)
		}
		if n != 300 {
			t.Errorf("fn called %d times after asking to stop at 300", n)
		}
		if got := scanAll(t, s, "r1", true); len(got) != 600 || got[0] != 600 || got[599] != 1 {
			t.Errorf("reverse scan over pages: %d events", len(got))
		}
	})
}

func TestBoltStore(t *testing.T) {
	storeContract(t, func(t *testing.T) HistoryStore {
		s := openBolt(t, filepath.Join(t.TempDir(), "history.db"))
		t.Cleanup(func() { s.Close() })
		return s
	})
	t.Run("survives reopening", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "history.db")
		s := openBolt(t, path)
		appendAll(t, s, "r1", event(1, "exact:a", Retention{Limit: 2}), event(2, "exact:a", Retention{Limit: 2}))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openBolt(t, path)
		defer s.Close()
		// The sequence and the log's count carry on where they were.
		appendAll(t, s, "r1", event(3, "exact:a", Retention{Limit: 2}))
		if got := scanAll(t, s, "r1", false); !reflect.DeepEqual(got, []wamp.ID{2, 3}) {
			t.Errorf("after reopening: %v", got)
		}
	})
}

// A database that is open elsewhere is reported at once, by name, instead of waiting.
func TestBoltStoreLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	first := openBolt(t, path)
	defer first.Close()
	start := time.Now()
	second, err := OpenBoltStore(path) // flock: another open file description, as in another process
	if err == nil {
		second.Close()
		t.Fatal("opened a database that is open")
	}
	if !errors.Is(err, ErrHistoryLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: want ErrHistoryLocked naming %s", err, path)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v to report the lock", took)
	}
	first.Close()
	third, err := OpenBoltStore(path)
	if err != nil {
		t.Fatalf("after the first let go: %v", err)
	}
	third.Close()
}

func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	n := 0
	storeContract(t, func(t *testing.T) HistoryStore {
		n++
		s, err := OpenRedisStore(ctxT(t), RedisOptions{Addr: srv.Addr, Prefix: "test" + string(rune('a'+n)) + ":"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	t.Run("shared by two routers", func(t *testing.T) {
		a, b := openRedis(t, srv.Addr), openRedis(t, srv.Addr)
		defer a.Close()
		defer b.Close()
		appendAll(t, a, "shared", event(1, "exact:a", Retention{Limit: 10}))
		appendAll(t, b, "shared", event(2, "exact:a", Retention{Limit: 10}))
		appendAll(t, a, "shared", event(3, "exact:a", Retention{Limit: 10}))
		for _, s := range []HistoryStore{a, b} {
			if got := scanAll(t, s, "shared", false); !reflect.DeepEqual(got, []wamp.ID{1, 2, 3}) {
				t.Errorf("got %v", got)
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := OpenRedisStore(ctx, RedisOptions{Addr: "127.0.0.1:1"}); err == nil {
			t.Error("opened a store on a closed port")
		}
	})
}

// TestHistoryQuery checks get_events' filters over a real (bbolt) store.
func TestHistoryQuery(t *testing.T) {
	store := openBolt(t, filepath.Join(t.TempDir(), "history.db"))
	defer store.Close()
	cfg := HistoryConfig{Topics: []HistoryRule{
		{Topic: "com.log", Match: wamp.MatchPrefix, Limit: 100},
		{Topic: "com.old", Limit: 100, MaxAge: time.Minute},
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := newHistory(cfg, store, "r1", slog.Default())
	defer h.close()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(pub wamp.ID, topic wamp.URI, at time.Time, mod func(*HistoryEvent)) {
		rule, ok := h.rule(topic)
		if !ok {
			t.Fatalf("no rule for %s", topic)
		}
		ev := &HistoryEvent{Log: rule.key(), Time: at, Topic: topic, Publication: pub,
			Keep: Retention{Limit: rule.Limit}}
		if mod != nil {
			mod(ev)
		}
		h.record(ev, 0, nil)
	}
	for i := 1; i <= 6; i++ {
		topic := wamp.URI("com.log.auth")
		if i%2 == 0 {
			topic = "com.log.basket"
		}
		add(wamp.ID(i), topic, base.Add(time.Duration(i)*time.Second), nil)
	}
	add(7, "com.log.auth", base.Add(7*time.Second), func(ev *HistoryEvent) { ev.EligibleAuthRole = []string{"admin"} })
	add(8, "com.log.auth", base.Add(8*time.Second), func(ev *HistoryEvent) { ev.ExcludeAuthID = []string{"alice"} })
	add(9, "com.old", time.Now().Add(-time.Hour), nil) // older than its rule's max_age
	add(10, "com.old", time.Now(), nil)

	prefix := func(pattern wamp.URI, match string) func(wamp.URI) bool {
		return func(topic wamp.URI) bool { return Matches(pattern, match, topic) }
	}
	all := prefix("com.log", wamp.MatchPrefix)
	ts := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	cases := []struct {
		name string
		q    historyQuery
		want []wamp.ID
	}{
		{"all visible to a user", historyQuery{matches: all, authID: "alice", authRole: "user"}, []wamp.ID{1, 2, 3, 4, 5, 6}},
		{"eligible_authrole admin", historyQuery{matches: all, authID: "bob", authRole: "admin"}, []wamp.ID{1, 2, 3, 4, 5, 6, 7, 8}},
		{"exact subscription", historyQuery{matches: prefix("com.log.basket", wamp.MatchExact), authID: "bob"}, []wamp.ID{2, 4, 6}},
		{"wildcard subscription", historyQuery{matches: prefix("com..auth", wamp.MatchWildcard), authID: "alice"}, []wamp.ID{1, 3, 5}},
		{"topic filter", historyQuery{matches: all, topic: "com.log.auth", authID: "bob"}, []wamp.ID{1, 3, 5, 8}},
		{"limit", historyQuery{matches: all, limit: 2, authID: "alice"}, []wamp.ID{1, 2}},
		{"reverse limit", historyQuery{matches: all, reverse: true, limit: 2, authID: "alice"}, []wamp.ID{6, 5}},
		{"after_publication (next page)", historyQuery{matches: all, afterPub: 2, limit: 2, authID: "alice"}, []wamp.ID{3, 4}},
		{"from_publication", historyQuery{matches: all, fromPub: 5, authID: "alice"}, []wamp.ID{5, 6}},
		{"before_publication", historyQuery{matches: all, beforePub: 3, authID: "alice"}, []wamp.ID{1, 2}},
		{"until_publication", historyQuery{matches: all, untilPub: 3, authID: "alice"}, []wamp.ID{1, 2, 3}},
		{"reverse before_publication (previous page)", historyQuery{matches: all, reverse: true, beforePub: 5, limit: 2, authID: "alice"}, []wamp.ID{4, 3}},
		{"reverse after_publication", historyQuery{matches: all, reverse: true, afterPub: 4, authID: "alice"}, []wamp.ID{6, 5}},
		{"from and until publication", historyQuery{matches: all, fromPub: 2, untilPub: 4, authID: "alice"}, []wamp.ID{2, 3, 4}},
		{"unknown publication", historyQuery{matches: all, afterPub: 999, authID: "alice"}, nil},
		{"from_time", historyQuery{matches: all, fromTime: ts(5), authID: "alice"}, []wamp.ID{5, 6}},
		{"after_time", historyQuery{matches: all, afterTime: ts(5), authID: "alice"}, []wamp.ID{6}},
		{"before_time", historyQuery{matches: all, beforeTime: ts(2), authID: "alice"}, []wamp.ID{1}},
		{"until_time", historyQuery{matches: all, untilTime: ts(2), authID: "alice"}, []wamp.ID{1, 2}},
		{"max_age hides old events", historyQuery{matches: prefix("com.old", wamp.MatchExact)}, []wamp.ID{10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := h.query(ctxT(t), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []wamp.ID
			for _, ev := range evs {
				got = append(got, ev.Publication)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseHistoryQuery(t *testing.T) {
	q, err := parseHistoryQuery(wamp.Dict{"reverse": true, "limit": int64(3), "from_time": "2026-01-02T03:04:05.5+01:00",
		"after_publication": int64(77), "topic": "com.x"})
	if err != nil {
		t.Fatal(err)
	}
	if !q.reverse || q.limit != 3 || q.afterPub != 77 || q.topic != "com.x" ||
		!q.fromTime.Equal(time.Date(2026, 1, 2, 2, 4, 5, 500000000, time.UTC)) {
		t.Errorf("parsed %+v", q)
	}
	for _, bad := range []wamp.Dict{{"limit": int64(0)}, {"limit": "3"}, {"reverse": "yes"}, {"from_time": "yesterday"},
		{"before_publication": int64(-1)}, {"topic": int64(1)}} {
		if _, err := parseHistoryQuery(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestHistoryConfigValidate(t *testing.T) {
	for _, bad := range []HistoryConfig{
		{Topics: []HistoryRule{{Topic: "com.x"}}},                                        // no bound
		{Topics: []HistoryRule{{Topic: "com..x", Limit: 1}}},                             // exact with empty component
		{Topics: []HistoryRule{{Topic: "com.x", Match: "regex", Limit: 1}}},              // unknown match
		{Topics: []HistoryRule{{Topic: "com.x", Limit: 1}, {Topic: "com.x", MaxAge: 1}}}, // twice
		{Topics: []HistoryRule{{Topic: "com.x", Limit: -1}}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	good := HistoryConfig{Topics: []HistoryRule{{Topic: "com.x", Limit: 1}, {Topic: "com.x", Match: wamp.MatchPrefix, MaxAge: time.Hour},
		{Topic: "com..x", Match: wamp.MatchWildcard, Limit: 5, MaxAge: time.Hour}}}
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
}
