package realm_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// These tests run a whole realm — authentication, the dispatch table with its authorization
// checks, the broker, the dealer, the session meta API, testaments — behind a real session
// server, with fake in-memory peers (no socket): each client writes the messages a WAMP peer
// would and reads, in order, what the router sends it.

// startRealm serves one realm to fake peers; the router is shut down when the test ends.
func startRealm(t *testing.T, cfg realm.Config) (*realm.Realm, *fakepeer.Server) {
	t.Helper()
	leakcheck.Check(t)
	if cfg.Name == "" {
		cfg.Name = "realm1"
	}
	r := realm.New(cfg, nil)
	rt := realm.NewRouter(nil, r)
	t.Cleanup(func() { rt.Shutdown(time.Second) }) // after the fake server's cleanup
	return r, fakepeer.Serve(t, rt)
}

func join(t *testing.T, srv *fakepeer.Server, details wamp.Dict) *fakepeer.Client {
	t.Helper()
	return srv.Join(t, "realm1", fakepeer.Options{Details: details})
}

// metaCall calls proc and returns the RESULT or the ERROR.
func metaCall(t *testing.T, c *fakepeer.Client, proc wamp.URI, args wamp.List, kwargs wamp.Dict) wamp.Message {
	t.Helper()
	req := c.NextID()
	c.Send(&wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: proc, Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
	for {
		switch m := c.Recv().(type) {
		case *wamp.Result:
			if m.Request == req {
				return m
			}
		case *wamp.Error:
			if m.Request == req {
				return m
			}
		case *wamp.Event:
			continue // meta events of a watcher: not what is asked here
		default:
			t.Fatalf("%s: got %s", proc, m.Type())
		}
	}
}

func resultArgs(t *testing.T, m wamp.Message) wamp.List {
	t.Helper()
	res, ok := m.(*wamp.Result)
	if !ok {
		t.Fatalf("expected RESULT, got %s %+v", m.Type(), m)
	}
	args, _, err := res.Payload.Values()
	if err != nil {
		t.Fatal(err)
	}
	return args
}

func errorURI(t *testing.T, m wamp.Message) wamp.URI {
	t.Helper()
	e, ok := m.(*wamp.Error)
	if !ok {
		t.Fatalf("expected ERROR, got %s %+v", m.Type(), m)
	}
	return e.Error
}

// eventPayload is an event's decoded arguments and keyword arguments.
func eventPayload(t *testing.T, e *wamp.Event) (wamp.List, wamp.Dict) {
	t.Helper()
	args, kwargs, err := e.Payload.Values()
	if err != nil {
		t.Fatal(err)
	}
	if len(args) == 0 {
		args = wamp.List{nil}
	}
	return args, kwargs
}

func expectAbort(t *testing.T, c *fakepeer.Client, reason wamp.URI) {
	t.Helper()
	if m := fakepeer.Expect[*wamp.Abort](t, c); m.Reason != reason {
		t.Errorf("ABORT %s, want %s", m.Reason, reason)
	}
}

func TestRealmJoinAndDispatch(t *testing.T) {
	_, srv := startRealm(t, realm.Config{})
	expectAbort(t, srv.Connect(t, "no.such.realm", fakepeer.Options{}), wamp.ErrNoSuchRealm)

	callee := join(t, srv, nil)
	for k, want := range map[string]string{"authrole": "anonymous", "authmethod": "anonymous", "realm": "realm1"} {
		if callee.Welcome[k] != want {
			t.Errorf("WELCOME %s = %v, want %s", k, callee.Welcome[k], want)
		}
	}
	roles, _ := callee.Welcome.Dict("roles")
	broker, _ := roles.Dict("broker")
	dealer, _ := roles.Dict("dealer")
	bf, _ := broker.Dict("features")
	df, _ := dealer.Dict("features")
	if bf["pattern_based_subscription"] != true || df["call_canceling"] != true {
		t.Errorf("WELCOME roles %v lack the broker's and dealer's features", roles)
	}

	// Each message type reaches the broker or the dealer.
	caller := join(t, srv, nil)
	callee.Send(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.echo"})
	fakepeer.Expect[*wamp.Registered](t, callee)
	caller.Send(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "com.news"})
	fakepeer.Expect[*wamp.Subscribed](t, caller)
	caller.Send(&wamp.Call{Request: 2, Options: wamp.Dict{}, Procedure: "com.echo", Payload: wamp.WithArgs("hi")})
	inv := fakepeer.Expect[*wamp.Invocation](t, callee)
	callee.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.WithArgs("hi")})
	if res := fakepeer.Expect[*wamp.Result](t, caller); res.Request != 2 {
		t.Errorf("RESULT for %d", res.Request)
	}
	callee.Send(&wamp.Publish{Request: 2, Options: wamp.Dict{}, Topic: "com.news", Payload: wamp.WithArgs("n")})
	fakepeer.Expect[*wamp.Event](t, caller)
	// An ERROR may only answer an INVOCATION.
	caller.Send(&wamp.Error{RequestType: wamp.TypeCall, Request: 2, Details: wamp.Dict{}, Error: "x.y"})
	expectAbort(t, caller, wamp.ErrProtocolViolation)
}

func TestRealmSessionMetaAPI(t *testing.T) {
	r, srv := startRealm(t, realm.Config{AnonymousSessionKill: true})
	watcher := join(t, srv, wamp.Dict{"authid": "ignored"}) // anonymous: the router picks the authid
	for i, topic := range []wamp.URI{"wamp.session.on_join", "wamp.session.on_leave"} {
		watcher.Send(&wamp.Subscribe{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Topic: topic})
		fakepeer.Expect[*wamp.Subscribed](t, watcher)
	}
	a := join(t, srv, nil)
	args, _ := eventPayload(t, fakepeer.Expect[*wamp.Event](t, watcher))
	if d, _ := args[0].(wamp.Dict); fmt.Sprint(d["session"]) != fmt.Sprint(a.ID) || d["authrole"] != "anonymous" {
		t.Errorf("on_join %v", args)
	}
	b := join(t, srv, nil)
	fakepeer.Expect[*wamp.Event](t, watcher)

	if n := resultArgs(t, metaCall(t, watcher, "wamp.session.count", nil, nil)); fmt.Sprint(n) != "[3]" {
		t.Errorf("wamp.session.count = %v, want 3", n)
	}
	if n := resultArgs(t, metaCall(t, watcher, "wamp.session.count", wamp.List{wamp.List{"nobody"}}, nil)); fmt.Sprint(n) != "[0]" {
		t.Errorf("wamp.session.count filtered by a role nobody has = %v", n)
	}
	list := resultArgs(t, metaCall(t, watcher, "wamp.session.list", nil, nil))
	if ids, _ := list[0].(wamp.List); len(ids) != 3 {
		t.Errorf("wamp.session.list = %v", list)
	}
	got := resultArgs(t, metaCall(t, watcher, "wamp.session.get", wamp.List{a.ID}, nil))
	if d, _ := got[0].(wamp.Dict); fmt.Sprint(d["session"]) != fmt.Sprint(a.ID) || d["authmethod"] != "anonymous" {
		t.Errorf("wamp.session.get = %v", got)
	}
	if u := errorURI(t, metaCall(t, watcher, "wamp.session.get", wamp.List{int64(42)}, nil)); u != wamp.ErrNoSuchSession {
		t.Errorf("wamp.session.get of an unknown session: %s", u)
	}
	// The broker's and dealer's meta procedures are served by the realm too.
	b.Send(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.b"})
	reg := fakepeer.Expect[*wamp.Registered](t, b)
	if id := resultArgs(t, metaCall(t, watcher, "wamp.registration.lookup", wamp.List{"com.b"}, nil)); fmt.Sprint(id) != fmt.Sprint(wamp.List{reg.Registration}) {
		t.Errorf("wamp.registration.lookup = %v, want %d", id, reg.Registration)
	}
	if id := resultArgs(t, metaCall(t, watcher, "wamp.subscription.lookup", wamp.List{"wamp.session.on_join"}, nil)); id[0] == nil {
		t.Errorf("wamp.subscription.lookup found no subscription")
	}

	// Killing: the victim gets GOODBYE with the reason, then leaves (on_leave).
	if res := metaCall(t, watcher, "wamp.session.kill", wamp.List{a.ID}, wamp.Dict{"reason": "com.app.kicked", "message": "bye"}); res.Type() != wamp.TypeResult {
		t.Fatalf("wamp.session.kill: %+v", res)
	}
	if g := fakepeer.Expect[*wamp.Goodbye](t, a); g.Reason != "com.app.kicked" || g.Details["message"] != "bye" {
		t.Errorf("killed session's GOODBYE %s %v", g.Reason, g.Details)
	}
	a.Send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut})
	a.Drop()
	args, kwargs := eventPayload(t, fakepeer.Expect[*wamp.Event](t, watcher))
	if fmt.Sprint(args[0]) != fmt.Sprint(a.ID) || kwargs["reason"] != "com.app.kicked" {
		t.Errorf("on_leave %v %v", args, kwargs)
	}
	if u := errorURI(t, metaCall(t, watcher, "wamp.session.kill", wamp.List{watcher.ID}, nil)); u != wamp.ErrNoSuchSession {
		t.Errorf("a session killing itself: %s", u)
	}
	killed := resultArgs(t, metaCall(t, watcher, "wamp.session.kill_all", nil, nil))
	if fmt.Sprint(killed) != "[1]" {
		t.Errorf("wamp.session.kill_all = %v, want 1 (the caller is spared)", killed)
	}
	fakepeer.Expect[*wamp.Goodbye](t, b)
	b.Send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut})
	b.Drop()
	if n := r.SessionCount(); n != 1 {
		t.Errorf("%d sessions after the kills, want 1", n)
	}
	if st := r.Dealer().(*rpc.Local).Stats(); st.Registrations != 0 {
		t.Errorf("the killed callee's registration remains: %+v", st)
	}
}

// Killing is refused when the realm disables it, and to anonymous sessions unless the realm
// allows them.
func TestRealmSessionKillDisabled(t *testing.T) {
	for name, cfg := range map[string]realm.Config{
		"disabled":         {DisableSessionKill: true, AnonymousSessionKill: true},
		"anonymous caller": {},
	} {
		t.Run(name, func(t *testing.T) {
			_, srv := startRealm(t, cfg)
			a, b := join(t, srv, nil), join(t, srv, nil)
			for proc, args := range map[wamp.URI]wamp.List{"wamp.session.kill": {b.ID}, "wamp.session.kill_all": nil,
				"wamp.session.kill_by_authrole": {"anonymous"}, "wamp.session.kill_by_authid": {b.Welcome["authid"]}} {
				if u := errorURI(t, metaCall(t, a, proc, args, nil)); u != wamp.ErrNotAuthorized {
					t.Errorf("%s: %s, want %s", proc, u, wamp.ErrNotAuthorized)
				}
			}
			if m, _ := b.TryRecv(10 * time.Millisecond); m != nil {
				t.Errorf("the session that was not killed got %s", m.Type())
			}
		})
	}
}

func TestRealmTestaments(t *testing.T) {
	_, srv := startRealm(t, realm.Config{})
	sub, dying, flushing := join(t, srv, nil), join(t, srv, nil), join(t, srv, nil)
	sub.Send(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "com.will"})
	fakepeer.Expect[*wamp.Subscribed](t, sub)

	if m := metaCall(t, dying, "wamp.session.add_testament", wamp.List{"com.will", wamp.List{"destroyed"}, wamp.Dict{}},
		wamp.Dict{"publish_options": wamp.Dict{"disclose_me": true}}); m.Type() != wamp.TypeResult {
		t.Fatalf("add_testament: %+v", m)
	}
	metaCall(t, dying, "wamp.session.add_testament", wamp.List{"com.will", wamp.List{"detached"}}, wamp.Dict{"scope": "detached"})
	if u := errorURI(t, metaCall(t, dying, "wamp.session.add_testament", wamp.List{"com.will"}, wamp.Dict{"scope": "forever"})); u != wamp.ErrInvalidArgument {
		t.Errorf("unknown scope: %s", u)
	}
	if u := errorURI(t, metaCall(t, dying, "wamp.session.add_testament", wamp.List{"com..bad"}, nil)); u != wamp.ErrInvalidURI {
		t.Errorf("invalid topic: %s", u)
	}
	metaCall(t, flushing, "wamp.session.add_testament", wamp.List{"com.will", wamp.List{"flushed"}}, nil)
	metaCall(t, flushing, "wamp.session.flush_testaments", nil, nil)
	flushing.Drop()
	dying.Drop()
	// The detached scope first, then the destroyed one; the flushed testament never.
	for _, want := range []string{"detached", "destroyed"} {
		e := fakepeer.Expect[*wamp.Event](t, sub)
		if args, _ := eventPayload(t, e); fmt.Sprint(args) != "["+want+"]" {
			t.Fatalf("testament event %v, want %s", args, want)
		}
		if want == "destroyed" && fmt.Sprint(e.Details["publisher"]) != fmt.Sprint(dying.ID) {
			t.Errorf("disclose_me testament details %v", e.Details)
		}
	}
	if m, _ := sub.TryRecv(20 * time.Millisecond); m != nil {
		t.Errorf("after the testaments, got %s %+v", m.Type(), m)
	}
}

// A realm with roles: anonymous sessions are "user", the ticket principal "backend".
func authzConfig(t *testing.T) realm.Config {
	hash, err := auth.HashSecret("s3cret", auth.HashParams{Algorithm: auth.HashPBKDF2, Iterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	return realm.Config{
		Anonymous:     &yes,
		AnonymousRole: "user",
		Auth: authn.Config{RateLimit: authn.RateLimit{Delay: -1}, Principals: []authn.Principal{
			{AuthID: "backend", Role: "backend", Ticket: hash},
			{AuthID: "ghost", Role: "ghost", Ticket: hash},
		}},
		Roles: []authz.Role{
			{Name: "user", Permissions: []authz.Permission{
				{URI: "com.api", Match: "prefix", Call: true, Subscribe: true, Disclose: authz.Disclose{Caller: true}},
				{URI: "com.api.admin", Match: "prefix"}, // the longer prefix wins: nothing allowed
			}},
			{Name: "backend", Permissions: []authz.Permission{
				{URI: "com.api", Match: "prefix", Register: true, Publish: true},
			}},
		},
	}
}

func joinTicket(t *testing.T, srv *fakepeer.Server, authid, ticket string) *fakepeer.Client {
	t.Helper()
	c := srv.Connect(t, "realm1", fakepeer.Options{Details: wamp.Dict{"authid": authid, "authmethods": wamp.List{"ticket"}}})
	ch := fakepeer.Expect[*wamp.Challenge](t, c)
	if ch.AuthMethod != "ticket" {
		t.Fatalf("CHALLENGE for %s", ch.AuthMethod)
	}
	c.Send(&wamp.Authenticate{Signature: ticket, Extra: wamp.Dict{}})
	return c
}

func TestRealmAuthorization(t *testing.T) {
	_, srv := startRealm(t, authzConfig(t))
	expectAbort(t, joinTicket(t, srv, "backend", "wrong"), wamp.ErrAuthenticationFailed)
	backend := joinTicket(t, srv, "backend", "s3cret")
	w := fakepeer.Expect[*wamp.Welcome](t, backend)
	if w.Details["authrole"] != "backend" || w.Details["authmethod"] != "ticket" {
		t.Fatalf("WELCOME %v", w.Details)
	}
	user := join(t, srv, nil)
	if user.Welcome["authrole"] != "user" {
		t.Fatalf("anonymous role %v", user.Welcome["authrole"])
	}

	reply := func(c *fakepeer.Client, m wamp.Message) wamp.Message {
		t.Helper()
		c.Send(m)
		return c.Recv()
	}
	deny := func(who string, c *fakepeer.Client, m wamp.Message) {
		t.Helper()
		if got := reply(c, m); got.Type() != wamp.TypeError || got.(*wamp.Error).Error != wamp.ErrNotAuthorized {
			t.Errorf("%s %s: got %s %+v, want %s", who, m.Type(), got.Type(), got, wamp.ErrNotAuthorized)
		}
	}
	allow := func(who string, c *fakepeer.Client, m wamp.Message, want wamp.MessageType) {
		t.Helper()
		if got := reply(c, m); got.Type() != want {
			t.Errorf("%s %s: got %s %+v, want %s", who, m.Type(), got.Type(), got, want)
		}
	}
	deny("user", user, &wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.api.echo"})
	deny("user", user, &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: "com.api.news"})
	deny("user", user, &wamp.Subscribe{Request: 3, Options: wamp.Dict{}, Topic: "com.other"})
	deny("user", user, &wamp.Call{Request: 4, Options: wamp.Dict{}, Procedure: "com.api.admin.reset"})
	deny("backend", backend, &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "com.api.news"})
	deny("backend", backend, &wamp.Register{Request: 2, Options: wamp.Dict{}, Procedure: "com.private"})
	allow("backend", backend, &wamp.Register{Request: 3, Options: wamp.Dict{}, Procedure: "com.api.echo"}, wamp.TypeRegistered)
	allow("user", user, &wamp.Subscribe{Request: 5, Options: wamp.Dict{}, Topic: "com.api.news"}, wamp.TypeSubscribed)
	allow("backend", backend, &wamp.Publish{Request: 4, Options: wamp.Dict{"acknowledge": true}, Topic: "com.api.news"}, wamp.TypePublished)
	fakepeer.Expect[*wamp.Event](t, user)

	// An allowed call whose permission forces disclosure reaches the callee with the caller.
	user.Send(&wamp.Call{Request: 6, Options: wamp.Dict{}, Procedure: "com.api.echo"})
	inv := fakepeer.Expect[*wamp.Invocation](t, backend)
	if fmt.Sprint(inv.Details["caller"]) != fmt.Sprint(user.ID) || inv.Details["caller_authrole"] != "user" {
		t.Errorf("forced caller disclosure: INVOCATION details %v", inv.Details)
	}
	backend.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}})
	fakepeer.Expect[*wamp.Result](t, user)

	// A role the realm does not list may do nothing.
	ghost := joinTicket(t, srv, "ghost", "s3cret")
	fakepeer.Expect[*wamp.Welcome](t, ghost)
	deny("ghost", ghost, &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.api.echo"})
	deny("ghost", ghost, &wamp.Subscribe{Request: 2, Options: wamp.Dict{}, Topic: "com.api.news"})
	// A publication refused without acknowledge is dropped silently: the next answer is the
	// next request's.
	ghost.Send(&wamp.Publish{Request: 3, Options: wamp.Dict{}, Topic: "com.api.news"})
	deny("ghost", ghost, &wamp.Register{Request: 4, Options: wamp.Dict{}, Procedure: "com.api.x"})
}

// Shutting the session server down closes every connection as going away (1001,
// wamp.close.system_shutdown: clients reconnect); the realm releases all their sessions,
// registrations and calls.
func TestRealmShutdown(t *testing.T) {
	r, srv := startRealm(t, realm.Config{})
	callee, caller := join(t, srv, nil), join(t, srv, nil)
	callee.Send(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.slow"})
	fakepeer.Expect[*wamp.Registered](t, callee)
	caller.Send(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.slow"})
	fakepeer.Expect[*wamp.Invocation](t, callee)
	srv.Shutdown(fakepeer.Wait)
	for _, c := range []*fakepeer.Client{callee, caller} {
		if closed, code, reason := c.Closed(); !closed || code != 1001 || reason != string(wamp.CloseSystemShutdown) {
			t.Errorf("after shutdown: closed %v, code %d, reason %q; want 1001 %s", closed, code, reason, wamp.CloseSystemShutdown)
		}
	}
	if n := r.SessionCount(); n != 0 {
		t.Errorf("%d sessions after shutdown", n)
	}
	if st := r.Dealer().(*rpc.Local).Stats(); st != (rpc.Stats{}) {
		t.Errorf("the dealer still holds %+v after shutdown", st)
	}
}
