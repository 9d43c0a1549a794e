package authn_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// gate admits sessions that its Authenticator accepts: the part of a realm's gate that
// authn is, without a realm.
type gate struct {
	fakepeer.Gate
	a *authn.Authenticator
}

func (g *gate) Join(s *session.Session) (session.Domain, wamp.Dict, error) {
	s.ID = wamp.GlobalID()
	extra, err := g.a.Authenticate(s)
	if err != nil {
		return nil, nil, err
	}
	return g, wamp.Dict{"authid": s.AuthID, "authrole": s.AuthRole, "authmethod": s.AuthMethod,
		"authprovider": s.AuthProvider, "authextra": extra, "roles": wamp.Dict{"broker": wamp.Dict{}}}, nil
}

// callerFunc is a dynamic.Caller: the procedure a realm's router would call.
type callerFunc func(ctx context.Context, proc wamp.URI, args wamp.List) (wamp.List, error)

func (f callerFunc) Call(ctx context.Context, proc wamp.URI, args wamp.List) (wamp.List, error) {
	return f(ctx, proc, args)
}

func serve(t *testing.T, opts authn.Options) *fakepeer.Server {
	leakcheck.Check(t)
	opts.Realm = "realm1"
	opts.Logger = slog.New(slog.DiscardHandler)
	opts.Config.RateLimit = authn.RateLimit{Delay: -1}
	return fakepeer.Serve(t, &gate{a: authn.New(opts, nil)})
}

func ticketLogin(t *testing.T, srv *fakepeer.Server, authID, ticket string) wamp.Message {
	c := srv.Connect(t, "realm1", fakepeer.Options{Details: wamp.Dict{"authid": authID, "authmethods": wamp.List{"ticket"}}})
	if ch := fakepeer.Expect[*wamp.Challenge](t, c); ch.AuthMethod != "ticket" {
		t.Fatalf("CHALLENGE for %s", ch.AuthMethod)
	}
	c.Send(&wamp.Authenticate{Signature: ticket, Extra: wamp.Dict{}})
	return c.Recv()
}

func TestStaticTicket(t *testing.T) {
	hash, err := auth.HashSecret("s3cret", auth.HashParams{Iterations: 1, Memory: 64})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, authn.Options{Config: authn.Config{Principals: []authn.Principal{{AuthID: "joe", Role: "user", Ticket: hash}}}})
	w, ok := ticketLogin(t, srv, "joe", "s3cret").(*wamp.Welcome)
	if !ok {
		t.Fatal("the right ticket was refused")
	}
	if w.Details["authid"] != "joe" || w.Details["authrole"] != "user" || w.Details["authprovider"] != "static" {
		t.Errorf("WELCOME details %v", w.Details)
	}
	if a, ok := ticketLogin(t, srv, "joe", "guess").(*wamp.Abort); !ok || a.Reason != wamp.ErrAuthenticationFailed {
		t.Errorf("a wrong ticket: %v", a)
	}
	// No anonymous access when the realm does not allow it.
	c := srv.Connect(t, "realm1", fakepeer.Options{})
	if a := fakepeer.Expect[*wamp.Abort](t, c); a.Reason != wamp.ErrNoMatchingAuthMethod {
		t.Errorf("anonymous HELLO: %s", a.Reason)
	}
}

func TestAnonymousGetsTheRealmsRole(t *testing.T) {
	srv := serve(t, authn.Options{Anonymous: true, AnonymousRole: "guest"})
	c := srv.Join(t, "realm1", fakepeer.Options{})
	if c.Welcome["authrole"] != "guest" || c.Welcome["authmethod"] != "anonymous" {
		t.Errorf("WELCOME details %v", c.Welcome)
	}
}

func TestDynamicTicketThroughTheCaller(t *testing.T) {
	var mu sync.Mutex
	var got wamp.List
	caller := callerFunc(func(_ context.Context, proc wamp.URI, args wamp.List) (wamp.List, error) {
		mu.Lock()
		got = args
		mu.Unlock()
		if proc != "com.example.authenticate" {
			return nil, wamp.NewError(wamp.ErrNoSuchProcedure)
		}
		details, _ := args[2].(wamp.Dict)
		if details["ticket"] != "let-me-in" {
			return nil, wamp.NewError("com.example.wrong_ticket", "no")
		}
		return wamp.List{wamp.Dict{"role": "member", "extra": wamp.Dict{"plan": "gold"}}}, nil
	})
	srv := serve(t, authn.Options{Caller: caller, Config: authn.Config{
		Dynamic: &authn.Dynamic{Procedure: "com.example.authenticate", Methods: []string{"ticket"}}}})
	w, ok := ticketLogin(t, srv, "ann", "let-me-in").(*wamp.Welcome)
	if !ok {
		t.Fatal("the dynamic authenticator's yes was refused")
	}
	extra, _ := w.Details["authextra"].(wamp.Dict)
	if w.Details["authrole"] != "member" || w.Details["authprovider"] != "dynamic" || extra["plan"] != "gold" {
		t.Errorf("WELCOME details %v", w.Details)
	}
	mu.Lock()
	if len(got) != 3 || got[0] != "realm1" || got[1] != "ann" {
		t.Errorf("the authenticator was called with %v, want (realm1, ann, details)", got)
	}
	mu.Unlock()
	// The procedure's own error URI reaches the peer.
	if a, ok := ticketLogin(t, srv, "ann", "nope").(*wamp.Abort); !ok || a.Reason != "com.example.wrong_ticket" {
		t.Errorf("a wrong ticket: %v", a)
	}
}
