package authz_test

import (
	"testing"

	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

func newAuthorizer() *authz.Authorizer {
	no := false
	return authz.New(authz.Options{Roles: []authz.Role{
		{Name: "user", Permissions: []authz.Permission{
			{URI: "com.example.", Match: wamp.MatchPrefix, Call: true, Publish: true, Subscribe: true,
				Disclose: authz.Disclose{Caller: true}},
			{URI: "com.example.secret.", Match: wamp.MatchPrefix, Call: false, Subscribe: false},
			{URI: "com.example.news", Publish: true, Retain: &no},
		}},
		{Name: "admin", Trusted: true},
	}})
}

func TestAuthorize(t *testing.T) {
	a := newAuthorizer()
	user := &session.Session{AuthRole: "user"}
	for _, tc := range []struct {
		s        *session.Session
		action   string
		uri      wamp.URI
		match    string
		allow    bool
		disclose bool
	}{
		{user, authz.ActionCall, "com.example.add", wamp.MatchExact, true, true},
		{user, authz.ActionPublish, "com.example.add", wamp.MatchExact, true, false},
		{user, authz.ActionRegister, "com.example.add", wamp.MatchExact, false, false},
		{user, authz.ActionCall, "com.example.secret.x", wamp.MatchExact, false, false},
		{user, authz.ActionSubscribe, "com.example.", wamp.MatchPrefix, false, false}, // would reach secret.
		{user, authz.ActionSubscribe, "com.example.open.", wamp.MatchPrefix, true, false},
		{user, authz.ActionCall, "org.other", wamp.MatchExact, false, false},
		{&session.Session{AuthRole: "stranger"}, authz.ActionCall, "com.example.add", wamp.MatchExact, false, false},
		{&session.Session{AuthRole: "admin"}, authz.ActionRegister, "org.other", wamp.MatchExact, true, false},
		{&session.Session{AuthRole: "stranger", AuthMethod: authz.TrustedMethod}, authz.ActionRegister, "org.x", wamp.MatchExact, true, false},
	} {
		d := a.Authorize(tc.s, tc.action, tc.uri, tc.match, nil)
		if d.Allow != tc.allow || d.Disclose != tc.disclose {
			t.Errorf("%s %s %s %s: %+v, want allow %v disclose %v", tc.s.AuthRole, tc.action, tc.uri, tc.match, d, tc.allow, tc.disclose)
		}
		if !d.Allow && d.Reason != wamp.ErrNotAuthorized {
			t.Errorf("%s %s %s: denied with %s", tc.s.AuthRole, tc.action, tc.uri, d.Reason)
		}
	}
	if a.MayRetain(user, "com.example.news") || !a.MayRetain(user, "com.example.add") {
		t.Error("retain follows publish unless a rule says otherwise")
	}
	// Without roles, everyone may do everything.
	if d := authz.New(authz.Options{}).Authorize(user, authz.ActionRegister, "x", wamp.MatchExact, nil); !d.Allow {
		t.Error("a realm without roles denied a request")
	}
}

// Authorize runs on every CALL, REGISTER, PUBLISH and SUBSCRIBE: answering from the rules
// must not allocate.
func TestAuthorizeAllocatesNothing(t *testing.T) {
	a := newAuthorizer()
	user := &session.Session{AuthRole: "user"}
	opts := wamp.Dict{}
	allocs := testing.AllocsPerRun(1000, func() {
		if d := a.Authorize(user, authz.ActionPublish, "com.example.add", wamp.MatchExact, opts); !d.Allow {
			t.Fatal("denied")
		}
		if d := a.Authorize(user, authz.ActionSubscribe, "com.example.open.", wamp.MatchPrefix, opts); !d.Allow {
			t.Fatal("denied")
		}
	})
	if allocs != 0 {
		t.Errorf("an allowed request allocates %v times", allocs)
	}
}

func BenchmarkAuthorize(b *testing.B) {
	a := newAuthorizer()
	user := &session.Session{AuthRole: "user"}
	b.ReportAllocs()
	for b.Loop() {
		a.Authorize(user, authz.ActionPublish, "com.example.add", wamp.MatchExact, nil)
	}
}
