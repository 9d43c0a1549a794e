package session_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// authzRealm has three ticket principals: "user" (limited), "backend" (everything) and
// "dyn" (asks com.example.authorize), plus anonymous sessions whose role is not listed.
func authzRealm(t testing.TB) realm.Config {
	cheap := auth.HashParams{Algorithm: auth.HashArgon2id, Iterations: 1, Memory: 64}
	ticket := must(auth.HashSecret(ticketSecret, cheap))
	yes := true
	return realm.Config{
		Name:      "realm1",
		Anonymous: &yes,
		Auth: authn.Config{
			RateLimit: authn.RateLimit{Delay: -1},
			Principals: []authn.Principal{
				{AuthID: "user", Role: "user", Ticket: ticket},
				{AuthID: "backend", Role: "backend", Ticket: ticket},
				{AuthID: "dyn", Role: "dyn", Ticket: ticket},
				{AuthID: "trusted-backend", Role: "ops", Ticket: ticket},
			},
		},
		Roles: []authz.Role{
			{Name: "user", Permissions: []authz.Permission{
				{URI: "com.example.", Match: wamp.MatchPrefix, Call: true, Publish: true, Subscribe: true},
				{URI: "com.example.secret.", Match: wamp.MatchPrefix},
				{URI: "com.example.mine.", Match: wamp.MatchPrefix, Register: true, Call: true},
				{URI: "com.example.disclosed", Call: true, Publish: true,
					Disclose: authz.Disclose{Caller: true, Publisher: true}},
				{URI: "com..wild", Match: wamp.MatchWildcard, Subscribe: true},
			}},
			{Name: "backend", Permissions: []authz.Permission{
				{URI: "", Match: wamp.MatchPrefix, Call: true, Register: true, Publish: true, Subscribe: true},
			}},
			{Name: "dyn", Authorizer: "com.example.authorize", AuthorizerCache: 3600e9},
			{Name: "ops", Trusted: true},
		},
	}
}

func ticketLogin(t testing.TB, r *routertest.Router, authid string) *client.Client {
	t.Helper()
	c, err := dialAuth(t, r, "json", client.Options{AuthID: authid, Credentials: client.Credentials{Ticket: ticketSecret}})
	if err != nil {
		t.Fatalf("login %s: %v", authid, err)
	}
	return c
}

func expectNotAuthorized(t testing.TB, err error) {
	t.Helper()
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized {
		t.Fatalf("got %s %v, want wamp.error.not_authorized", ae.URI, ae.Args)
	}
}

// Every permission rule: allowed actions work, denied ones get wamp.error.not_authorized and
// have no effect.
func TestAuthorizationRules(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authzRealm(t)}})
	user, backend := ticketLogin(t, r, "user"), ticketLogin(t, r, "backend")
	ctx := ctxT(t)

	var calls atomic.Int32
	echo := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		calls.Add(1)
		return &client.Result{Args: wamp.List{inv.Details["caller"]}}, nil
	}
	for _, p := range []wamp.URI{"com.example.open", "com.example.secret.proc", "com.example.disclosed", "com.other.proc"} {
		if _, err := backend.Register(ctx, p, echo, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("call allowed", func(t *testing.T) {
		res, err := user.Call(ctx, "com.example.open", nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Args[0] != nil {
			t.Errorf("caller disclosed without being forced: %v", res.Args[0])
		}
	})
	t.Run("call denied", func(t *testing.T) {
		before := calls.Load()
		for _, p := range []wamp.URI{"com.example.secret.proc", "com.other.proc"} {
			_, err := user.Call(ctx, p, nil, nil, nil)
			expectNotAuthorized(t, err)
		}
		if calls.Load() != before {
			t.Error("a denied call reached the callee")
		}
	})
	t.Run("caller disclosure forced", func(t *testing.T) {
		res, err := user.Call(ctx, "com.example.disclosed", nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := wamp.AsID(res.Args[0]); id != user.ID() {
			t.Errorf("callee saw caller %v, want %v", res.Args[0], user.ID())
		}
	})
	t.Run("register", func(t *testing.T) {
		if _, err := user.Register(ctx, "com.example.mine.proc", echo, nil); err != nil {
			t.Errorf("allowed registration: %v", err)
		}
		_, err := user.Register(ctx, "com.example.theirs", echo, nil)
		expectNotAuthorized(t, err)
		// A pattern covering what the role may not register is refused too.
		_, err = user.Register(ctx, "com.example.", echo, wamp.Dict{"match": "prefix"})
		expectNotAuthorized(t, err)
	})
	t.Run("subscribe", func(t *testing.T) {
		if _, err := user.Subscribe(ctx, "com.example.news", func(*client.Event) {}, nil); err != nil {
			t.Errorf("allowed subscription: %v", err)
		}
		_, err := user.Subscribe(ctx, "com.example.secret.news", func(*client.Event) {}, nil)
		expectNotAuthorized(t, err)
		// A prefix subscription would receive the secret events: refused.
		_, err = user.Subscribe(ctx, "com.example.", func(*client.Event) {}, wamp.Dict{"match": "prefix"})
		expectNotAuthorized(t, err)
		if _, err := user.Subscribe(ctx, "com.example.news.", func(*client.Event) {}, wamp.Dict{"match": "prefix"}); err != nil {
			t.Errorf("allowed prefix subscription: %v", err)
		}
		if _, err := user.Subscribe(ctx, "com..wild", func(*client.Event) {}, wamp.Dict{"match": "wildcard"}); err != nil {
			t.Errorf("allowed wildcard subscription: %v", err)
		}
		_, err = user.Subscribe(ctx, "com.other.news", func(*client.Event) {}, nil)
		expectNotAuthorized(t, err)
	})
	t.Run("denied publish reaches nobody", func(t *testing.T) {
		got := make(collector, 16)
		if _, err := backend.Subscribe(ctx, "com.", got.handler, wamp.Dict{"match": "prefix"}); err != nil {
			t.Fatal(err)
		}
		err := user.Publish(ctx, "com.example.secret.news", wamp.Dict{"acknowledge": true}, wamp.List{"leak"}, nil)
		expectNotAuthorized(t, err)
		// Without acknowledge: no answer, and no event either.
		if err := user.Publish(ctx, "com.other.news", nil, wamp.List{"leak"}, nil); err != nil {
			t.Fatal(err)
		}
		// The next event the subscriber sees is the allowed one published after them.
		if err := user.Publish(ctx, "com.example.news", wamp.Dict{"acknowledge": true}, wamp.List{"ok"}, nil); err != nil {
			t.Fatal(err)
		}
		if e := got.next(t); e.Args[0] != "ok" || e.Details["publisher"] != nil {
			t.Errorf("first event %v %v, want the allowed one without publisher", e.Args, e.Details)
		}
		// Forced publisher disclosure.
		if err := user.Publish(ctx, "com.example.disclosed", wamp.Dict{"acknowledge": true}, wamp.List{"who"}, nil); err != nil {
			t.Fatal(err)
		}
		e := got.next(t)
		if id, _ := wamp.AsID(e.Details["publisher"]); id != user.ID() {
			t.Errorf("event details %v: publisher not disclosed", e.Details)
		}
	})
	t.Run("unlisted role may do nothing", func(t *testing.T) {
		anon := join(t, r, "json")
		_, err := anon.Call(ctx, "com.example.open", nil, nil, nil)
		expectNotAuthorized(t, err)
		_, err = anon.Subscribe(ctx, "com.example.news", func(*client.Event) {}, nil)
		expectNotAuthorized(t, err)
		_, err = anon.Call(ctx, "wamp.session.count", nil, nil, nil)
		expectNotAuthorized(t, err)
	})
	t.Run("trusted role may do anything", func(t *testing.T) {
		ops := ticketLogin(t, r, "trusted-backend")
		if _, err := ops.Call(ctx, "com.other.proc", nil, nil, nil); err != nil {
			t.Error(err)
		}
	})
}

// A dynamic authorizer is asked once per session, uri and action (then cached), with the
// session's details; its answers allow, deny and force disclosure.
func TestDynamicAuthorizer(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authzRealm(t)}})
	ctx := ctxT(t)
	backend, err := r.LocalClient(ctx, "realm1", client.Options{AuthID: "authorizer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	if w, _ := backend.Welcome().String("authrole"); w != realm.TrustedRole {
		t.Errorf("local client's authrole %q", w)
	}
	var asked atomic.Int32
	type question struct {
		details wamp.Dict
		uri     string
		action  string
	}
	questions := make(chan question, 16)
	if _, err := backend.Register(ctx, "com.example.authorize", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		asked.Add(1)
		details, _ := inv.Args[0].(wamp.Dict)
		uri, _ := inv.Args[1].(string)
		action, _ := inv.Args[2].(string)
		questions <- question{details, uri, action}
		switch {
		case action != "call":
		case uri == "com.dyn.allowed":
			return &client.Result{Args: wamp.List{true}}, nil
		case uri == "com.dyn.disclosed":
			return &client.Result{Args: wamp.List{wamp.Dict{"allow": true, "disclose": true}}}, nil
		case uri == "com.dyn.fails":
			return nil, wamp.NewError("com.example.authorizer_broken", "sorry")
		}
		return &client.Result{Args: wamp.List{false}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	var callee atomic.Int32
	if _, err := backend.Register(ctx, "com.dyn.", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		callee.Add(1)
		return &client.Result{Args: wamp.List{inv.Details["caller"]}}, nil
	}, wamp.Dict{"match": "prefix"}); err != nil {
		t.Fatal(err)
	}
	dyn := ticketLogin(t, r, "dyn")
	for range 3 {
		if _, err := dyn.Call(ctx, "com.dyn.allowed", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("authorizer asked %d times for one uri and action, want 1 (cached)", n)
	}
	q := <-questions
	if q.uri != "com.dyn.allowed" || q.action != "call" || q.details["authrole"] != "dyn" || q.details["authid"] != "dyn" {
		t.Errorf("authorizer got %+v", q)
	}
	if id, _ := wamp.AsID(q.details["session"]); id != dyn.ID() {
		t.Errorf("authorizer got session %v, want %v", q.details["session"], dyn.ID())
	}
	_, err = dyn.Call(ctx, "com.dyn.denied", nil, nil, nil)
	expectNotAuthorized(t, err)
	res, err := dyn.Call(ctx, "com.dyn.disclosed", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := wamp.AsID(res.Args[0]); id != dyn.ID() {
		t.Errorf("caller not disclosed: %v", res.Args)
	}
	_, err = dyn.Call(ctx, "com.dyn.fails", nil, nil, nil)
	if ae := appError(t, err); ae.URI != "com.example.authorizer_broken" {
		t.Errorf("failing authorizer: got %s", ae.URI)
	}
	_, err = dyn.Subscribe(ctx, "com.dyn.allowed", func(*client.Event) {}, nil)
	expectNotAuthorized(t, err) // another action: asked again, and refused
	if n := callee.Load(); n != 4 {
		t.Errorf("callee ran %d times, want 4 (the allowed and the disclosed calls)", n)
	}
}

// Only trusted sessions may register the realm's dynamic auth procedures, exactly or by a
// pattern that would catch their calls.
func TestReservedProcedures(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authzRealm(t)}})
	ctx := ctxT(t)
	backend := ticketLogin(t, r, "backend") // may register anything, but is not trusted
	noop := func(context.Context, *client.Invocation) (*client.Result, error) { return &client.Result{}, nil }
	for _, tc := range []struct {
		uri   wamp.URI
		match string
	}{{"com.example.authorize", ""}, {"com.example.", "prefix"}, {"com..authorize", "wildcard"}} {
		var opts wamp.Dict
		if tc.match != "" {
			opts = wamp.Dict{"match": tc.match}
		}
		_, err := backend.Register(ctx, tc.uri, noop, opts)
		expectNotAuthorized(t, err)
	}
	ops := ticketLogin(t, r, "trusted-backend")
	if _, err := ops.Register(ctx, "com.example.authorize", noop, nil); err != nil {
		t.Errorf("trusted role: %v", err)
	}
}
