package meta_test

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/realm/meta"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// table is a session table the test fills by hand.
type table struct {
	mu   sync.Mutex
	byID map[wamp.ID]*session.Session
}

func (t *table) Session(id wamp.ID) (*session.Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[id]
	return s, ok
}

func (t *table) Where(keep func(*session.Session) bool) []*session.Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*session.Session
	for _, s := range t.byID {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// published is what the meta API published, and as whom.
type published struct {
	as *session.Session
	m  *wamp.Publish
}

type recorder struct {
	mu  sync.Mutex
	got []published
}

func (r *recorder) Publish(s *session.Session, m *wamp.Publish) {
	r.mu.Lock()
	r.got = append(r.got, published{s, m})
	r.mu.Unlock()
}

func (r *recorder) take() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

type fixture struct {
	api      *meta.API
	procs    map[wamp.URI]session.LocalProcedure
	table    *table
	pub      *recorder
	settings meta.Settings
	refused  struct{ uri, kills, testaments atomic.Int64 }
	srv      *fakepeer.Server
}

func newFixture(t *testing.T, settings meta.Settings) *fixture {
	leakcheck.Check(t)
	f := &fixture{table: &table{byID: map[wamp.ID]*session.Session{}}, pub: &recorder{}, settings: settings}
	authorizer := authz.New(authz.Options{})
	f.api = meta.New(meta.Options{Sessions: f.table, Publisher: f.pub, Logger: slog.New(slog.DiscardHandler),
		Settings:   func() meta.Settings { return f.settings },
		Authorizer: func() *authz.Authorizer { return authorizer },
		Refusals: meta.Refusals{URITooLong: &f.refused.uri, AnonymousKills: &f.refused.kills,
			TestamentBytes: &f.refused.testaments}})
	f.procs = f.api.Procedures()
	f.srv = fakepeer.Serve(t, &fakepeer.Gate{})
	return f
}

// join starts a session with the given authrole and puts it in the table.
func (f *fixture) join(t *testing.T, role string) (*fakepeer.Client, *session.Session) {
	c := f.srv.Join(t, "realm1", fakepeer.Options{Details: wamp.Dict{"authrole": role}})
	s := c.Session()
	f.table.mu.Lock()
	f.table.byID[s.ID] = s
	f.table.mu.Unlock()
	return c, s
}

func (f *fixture) call(caller *session.Session, proc wamp.URI, args wamp.List, kwargs wamp.Dict) (wamp.List, error) {
	res, _, err := f.procs[proc](caller, args, kwargs)
	return res, err
}

func errURI(err error) wamp.URI {
	if ae, ok := err.(*wamp.ApplicationError); ok {
		return ae.URI
	}
	return ""
}

func TestKillAllEndsOthersSilently(t *testing.T) {
	f := newFixture(t, meta.Settings{AnonymousRole: "anonymous"})
	_, admin := f.join(t, "admin")
	victimClient, victim := f.join(t, "user")
	res, err := f.call(admin, "wamp.session.kill_all", nil, wamp.Dict{"reason": "com.example.bye"})
	if err != nil || len(res) != 1 || res[0] != int64(1) {
		t.Fatalf("kill_all = %v, %v; want [1]", res, err)
	}
	if g := fakepeer.Expect[*wamp.Goodbye](t, victimClient); g.Reason != "com.example.bye" {
		t.Errorf("victim's GOODBYE reason %s", g.Reason)
	}
	// kill_all's victims leave without testaments or on_leave; others are announced.
	f.api.PublishTestaments(victim)
	f.api.Left(victim)
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("a silenced session's leave published %d events", len(got))
	}
	f.api.Left(admin)
	got := f.pub.take()
	if len(got) != 1 || got[0].m.Topic != "wamp.session.on_leave" || got[0].as != nil {
		t.Fatalf("on_leave: %+v", got)
	}
}

func TestAnonymousMayNotKill(t *testing.T) {
	f := newFixture(t, meta.Settings{AnonymousRole: "anonymous"})
	_, anon := f.join(t, "anonymous")
	_, other := f.join(t, "user")
	if _, err := f.call(anon, "wamp.session.kill", wamp.List{int64(other.ID)}, nil); errURI(err) != wamp.ErrNotAuthorized {
		t.Errorf("anonymous kill: %v, want %s", err, wamp.ErrNotAuthorized)
	}
	if n := f.refused.kills.Load(); n != 1 {
		t.Errorf("anonymous kills counted %d, want 1", n)
	}
	f.settings.AnonymousSessionKill = true // a reconfigured realm's setting applies at once
	if _, err := f.call(anon, "wamp.session.kill", wamp.List{int64(other.ID)}, nil); err != nil {
		t.Errorf("kill with anonymous_session_kill: %v", err)
	}
	f.settings.DisableSessionKill = true
	if _, err := f.call(anon, "wamp.session.kill_all", nil, nil); errURI(err) != wamp.ErrNotAuthorized {
		t.Errorf("kill_all while disabled: %v", err)
	}
}

func TestTestamentsArePublishedAsTheSession(t *testing.T) {
	f := newFixture(t, meta.Settings{TestamentBytes: 64, MaxURILength: 32})
	_, s := f.join(t, "user")
	add := func(topic string, args wamp.List, kwargs wamp.Dict) error {
		_, err := f.call(s, "wamp.session.add_testament", wamp.List{topic, args, wamp.Dict{}}, kwargs)
		return err
	}
	if err := add("com.example.gone", wamp.List{"destroyed"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := add("com.example.gone", wamp.List{"detached"}, wamp.Dict{"scope": "detached"}); err != nil {
		t.Fatal(err)
	}
	if err := add("com.example.this.topic.is.far.too.long", nil, nil); errURI(err) != wamp.ErrInvalidURI || f.refused.uri.Load() != 1 {
		t.Errorf("long topic: %v (counted %d)", err, f.refused.uri.Load())
	}
	if err := add("com.example.big", wamp.List{string(make([]byte, 80))}, nil); errURI(err) != wamp.ErrInvalidArgument ||
		f.refused.testaments.Load() != 1 {
		t.Errorf("testament past testament_bytes: %v (counted %d)", err, f.refused.testaments.Load())
	}
	f.api.PublishTestaments(s)
	got := f.pub.take()
	if len(got) != 2 {
		t.Fatalf("published %d testaments, want 2", len(got))
	}
	for i, want := range []string{"detached", "destroyed"} { // detached scope first
		args, _, _ := got[i].m.Payload.Values()
		if got[i].as != s || got[i].m.Topic != "com.example.gone" || len(args) != 1 || args[0] != want {
			t.Errorf("testament %d: as %v, %s %v; want the session's own, %s", i, got[i].as, got[i].m.Topic, args, want)
		}
	}
	// Flushed testaments are not published.
	if err := add("com.example.gone", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.call(s, "wamp.session.flush_testaments", nil, wamp.Dict{}); err != nil {
		t.Fatal(err)
	}
	f.api.PublishTestaments(s)
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("flushed testaments published: %d", len(got))
	}
}

func TestSessionGetDescribesTheSession(t *testing.T) {
	f := newFixture(t, meta.Settings{})
	_, s := f.join(t, "user")
	res, err := f.call(s, "wamp.session.get", wamp.List{int64(s.ID)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := res[0].(wamp.Dict)
	if d["session"] != s.ID || d["authrole"] != "user" {
		t.Errorf("wamp.session.get: %v", d)
	}
	if _, err := f.call(s, "wamp.session.get", wamp.List{int64(1)}, nil); errURI(err) != wamp.ErrNoSuchSession {
		t.Errorf("unknown session: %v", err)
	}
	f.api.Joined(s)
	if got := f.pub.take(); len(got) != 1 || got[0].m.Topic != "wamp.session.on_join" {
		t.Errorf("on_join: %+v", got)
	}
}
