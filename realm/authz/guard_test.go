package authz_test

import (
	"testing"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// TestGuard checks the wrappers a realm puts around its handlers: a denied request is
// answered with ERROR and never reaches the handler behind; an allowed one does, with
// disclose_me when the rule forces disclosure.
func TestGuard(t *testing.T) {
	leakcheck.Check(t)
	a := authz.New(authz.Options{Roles: []authz.Role{{Name: "user", Permissions: []authz.Permission{
		{URI: "com.example.", Match: wamp.MatchPrefix, Call: true, Register: true, Subscribe: true, Publish: true,
			Disclose: authz.Disclose{Caller: true}},
	}}}, Reserved: []wamp.URI{"com.example.authenticate"}})
	g := &fakepeer.Gate{}
	reached := make(chan wamp.Message, 8)
	dispatch.On(&g.Routes, func(s *session.Session, m *wamp.Call) {
		reached <- m
		s.Send(&wamp.Result{Request: m.Request, Details: wamp.Dict{}})
	})
	dispatch.On(&g.Routes, func(s *session.Session, m *wamp.Register) {
		reached <- m
		s.Send(&wamp.Registered{Request: m.Request, Registration: 1})
	})
	dispatch.On(&g.Routes, func(s *session.Session, m *wamp.Subscribe) {
		reached <- m
		s.Send(&wamp.Subscribed{Request: m.Request, Subscription: 1})
	})
	dispatch.On(&g.Routes, func(s *session.Session, m *wamp.Publish) { reached <- m })
	authz.Guard(&g.Routes, func() *authz.Authorizer { return a })
	srv := fakepeer.Serve(t, g)
	c := srv.Join(t, "realm1", fakepeer.Options{Details: wamp.Dict{"authrole": "user"}})

	denied := func(m wamp.Message, request wamp.ID) {
		t.Helper()
		c.Send(m)
		e := fakepeer.Expect[*wamp.Error](t, c)
		if e.Request != request || e.Error != wamp.ErrNotAuthorized {
			t.Errorf("%s: ERROR %d %s", m.Type(), e.Request, e.Error)
		}
	}
	denied(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "org.other"}, 1)
	denied(&wamp.Register{Request: 2, Options: wamp.Dict{}, Procedure: "org.other"}, 2)
	denied(&wamp.Register{Request: 3, Options: wamp.Dict{}, Procedure: "com.example.authenticate"}, 3) // reserved
	denied(&wamp.Subscribe{Request: 4, Options: wamp.Dict{}, Topic: "org.other"}, 4)
	denied(&wamp.Publish{Request: 5, Options: wamp.Dict{"acknowledge": true}, Topic: "org.other"}, 5)
	select {
	case m := <-reached:
		t.Fatalf("a denied %s reached the handler", m.Type())
	default:
	}

	c.Send(&wamp.Call{Request: 6, Options: wamp.Dict{}, Procedure: "com.example.add"})
	fakepeer.Expect[*wamp.Result](t, c)
	if m := (<-reached).(*wamp.Call); m.Options["disclose_me"] != true {
		t.Errorf("disclosure forced by the rule is missing: %v", m.Options)
	}
	c.Send(&wamp.Subscribe{Request: 7, Options: wamp.Dict{}, Topic: "com.example.news"})
	fakepeer.Expect[*wamp.Subscribed](t, c)
	if m := <-reached; m.Type() != wamp.TypeSubscribe {
		t.Errorf("reached %s", m.Type())
	}
}
