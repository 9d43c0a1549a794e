package realm_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// challenged sends HELLO with one authmethod and returns the CHALLENGE.
func challenged(t *testing.T, srv *fakepeer.Server, details wamp.Dict) (*fakepeer.Client, *wamp.Challenge) {
	t.Helper()
	c := srv.Connect(t, "realm1", fakepeer.Options{Details: details})
	return c, fakepeer.Expect[*wamp.Challenge](t, c)
}

// WAMP-CRA and cryptosign, over the realm's static principals: the right answer is welcomed
// with the principal's role, a wrong one aborted.
func TestRealmChallengeResponseAuth(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	_, srv := startRealm(t, realm.Config{Auth: authn.Config{RateLimit: authn.RateLimit{Delay: -1}, Principals: []authn.Principal{
		{AuthID: "cra-user", Role: "crarole", WAMPCRA: &authn.CRACredential{Secret: "pw"}},
		{AuthID: "key-user", Role: "keyrole", Cryptosign: []string{hex.EncodeToString(pub)}},
	}}})

	for _, secret := range []string{"pw", "wrong"} {
		c, ch := challenged(t, srv, wamp.Dict{"authid": "cra-user", "authmethods": wamp.List{"wampcra"}})
		text, _ := ch.Extra.String("challenge")
		if ch.AuthMethod != "wampcra" || !strings.Contains(text, `"authid":"cra-user"`) {
			t.Fatalf("CHALLENGE %s %v", ch.AuthMethod, ch.Extra)
		}
		c.Send(&wamp.Authenticate{Signature: auth.CRASign([]byte(secret), text), Extra: wamp.Dict{}})
		if secret == "wrong" {
			expectAbort(t, c, wamp.ErrAuthenticationFailed)
			continue
		}
		if w := fakepeer.Expect[*wamp.Welcome](t, c); w.Details["authrole"] != "crarole" || w.Details["authmethod"] != "wampcra" {
			t.Errorf("wampcra WELCOME %v", w.Details)
		}
	}

	for _, key := range []ed25519.PrivateKey{priv, otherPriv} {
		c, ch := challenged(t, srv, wamp.Dict{"authid": "key-user", "authmethods": wamp.List{"cryptosign"},
			"authextra": wamp.Dict{"pubkey": hex.EncodeToString(pub)}})
		hexChallenge, _ := ch.Extra.String("challenge")
		challenge, err := hex.DecodeString(hexChallenge)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := auth.CryptosignSign(key, challenge, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Send(&wamp.Authenticate{Signature: sig, Extra: wamp.Dict{}})
		if key.Equal(otherPriv) {
			expectAbort(t, c, wamp.ErrAuthenticationFailed)
			continue
		}
		if w := fakepeer.Expect[*wamp.Welcome](t, c); w.Details["authrole"] != "keyrole" || w.Details["authmethod"] != "cryptosign" {
			t.Errorf("cryptosign WELCOME %v", w.Details)
		}
	}
	// A key nobody registered is refused before any challenge.
	_, stranger, _ := ed25519.GenerateKey(nil)
	c := srv.Connect(t, "realm1", fakepeer.Options{Details: wamp.Dict{"authid": "key-user", "authmethods": wamp.List{"cryptosign"},
		"authextra": wamp.Dict{"pubkey": hex.EncodeToString(stranger.Public().(ed25519.PublicKey))}}})
	if m := c.Recv(); m.Type() != wamp.TypeAbort {
		t.Errorf("an unregistered key got %s", m.Type())
	}
	// Anonymous is off when the realm has principals.
	expectAbort(t, srv.Connect(t, "realm1", fakepeer.Options{}), wamp.ErrNoMatchingAuthMethod)
}

// A role with a dynamic authorizer: the router asks the procedure a trusted in-process
// client registered, in order, and caches its answers per session.
func TestRealmDynamicAuthorizer(t *testing.T) {
	yes := true
	r := realm.New(realm.Config{Name: "realm1", Anonymous: &yes, AnonymousRole: "dyn", Roles: []authz.Role{
		{Name: "dyn", Authorizer: "com.authz"},
	}}, nil)
	rt := realm.NewRouter(nil, r)
	t.Cleanup(func() { rt.Shutdown(time.Second) })
	srv := fakepeer.Serve(t, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// An untrusted session may not register the authorizer.
	user := join(t, srv, nil)
	user.Send(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.authz"})
	if m := fakepeer.Expect[*wamp.Error](t, user); m.Error != wamp.ErrNotAuthorized {
		t.Errorf("an untrusted session registering the authorizer: %s", m.Error)
	}
	// Without the authorizer, requests fail.
	user.Send(&wamp.Subscribe{Request: 2, Options: wamp.Dict{}, Topic: "com.ok.news"})
	if m := fakepeer.Expect[*wamp.Error](t, user); m.Error == "" {
		t.Error("no error while the authorizer is missing")
	}

	authz, err := rt.LocalClient(ctx, "realm1", client.Options{AuthID: "authz"})
	if err != nil {
		t.Fatal(err)
	}
	defer authz.Close()
	var asked atomic.Int64
	_, err = authz.Register(ctx, "com.authz", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		asked.Add(1)
		details, _ := inv.Args[0].(wamp.Dict)
		uri, _ := inv.Args[1].(string)
		action, _ := inv.Args[2].(string)
		if details["authrole"] != "dyn" || details["realm"] != "realm1" {
			return &client.Result{Args: wamp.List{false}}, nil
		}
		allow := strings.HasPrefix(uri, "com.ok.")
		return &client.Result{Args: wamp.List{wamp.Dict{"allow": allow, "disclose": action == "call"}}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	user.Send(&wamp.Subscribe{Request: 3, Options: wamp.Dict{}, Topic: "com.ok.news"})
	fakepeer.Expect[*wamp.Subscribed](t, user)
	user.Send(&wamp.Subscribe{Request: 4, Options: wamp.Dict{}, Topic: "com.secret"})
	if m := fakepeer.Expect[*wamp.Error](t, user); m.Error != wamp.ErrNotAuthorized {
		t.Errorf("denied subscribe: %s", m.Error)
	}
	n := asked.Load()
	user.Send(&wamp.Subscribe{Request: 5, Options: wamp.Dict{}, Topic: "com.ok.news"})
	fakepeer.Expect[*wamp.Subscribed](t, user)
	if asked.Load() != n {
		t.Errorf("the authorizer was asked again for an answer it gave this session")
	}
	// Forced disclosure from the authorizer's answer.
	user.Send(&wamp.Register{Request: 6, Options: wamp.Dict{}, Procedure: "com.ok.echo"})
	fakepeer.Expect[*wamp.Registered](t, user)
	caller := join(t, srv, nil)
	caller.Send(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.ok.echo"})
	inv := fakepeer.Expect[*wamp.Invocation](t, user)
	if inv.Details["caller_authrole"] != "dyn" {
		t.Errorf("the authorizer's disclose was not applied: %v", inv.Details)
	}
	user.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}})
	fakepeer.Expect[*wamp.Result](t, caller)
}

// A dynamic authenticator, registered by a trusted in-process client, decides for the
// methods it is configured for: it gets the realm, the authid and the ticket, and answers
// with a role (and, for WAMP-CRA, the secret the router then checks the signature with).
func TestRealmDynamicAuthentication(t *testing.T) {
	r := realm.New(realm.Config{Name: "realm1", Auth: authn.Config{RateLimit: authn.RateLimit{Delay: -1},
		Dynamic: &authn.Dynamic{Procedure: "com.authn", Methods: []string{"ticket", "wampcra"}}}}, nil)
	rt := realm.NewRouter(nil, r)
	t.Cleanup(func() { rt.Shutdown(time.Second) })
	srv := fakepeer.Serve(t, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	authn, err := rt.LocalClient(ctx, "realm1", client.Options{AuthID: "authn"})
	if err != nil {
		t.Fatal(err)
	}
	defer authn.Close()
	_, err = authn.Register(ctx, "com.authn", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		realmName, _ := inv.Args[0].(string)
		authid, _ := inv.Args[1].(string)
		details, _ := inv.Args[2].(wamp.Dict)
		if realmName != "realm1" {
			return nil, wamp.NewError(wamp.ErrNoSuchRealm)
		}
		switch method, _ := details["authmethod"].(string); {
		case method == "wampcra" && authid == "carol":
			return &client.Result{Args: wamp.List{wamp.Dict{"role": "crarole", "secret": "pw"}}}, nil
		case method == "ticket" && details["ticket"] == "open-sesame":
			return &client.Result{Args: wamp.List{wamp.Dict{"role": "dynrole", "authid": authid + "@dyn"}}}, nil
		}
		return nil, wamp.NewError(wamp.ErrNotAuthorized, "no")
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Anonymous is off when a dynamic authenticator is configured.
	expectAbort(t, srv.Connect(t, "realm1", fakepeer.Options{}), wamp.ErrNoMatchingAuthMethod)
	// A refusal carries the authenticator's own error URI.
	expectAbort(t, joinTicket(t, srv, "alice", "guess"), wamp.ErrNotAuthorized)
	c := joinTicket(t, srv, "alice", "open-sesame")
	if w := fakepeer.Expect[*wamp.Welcome](t, c); w.Details["authrole"] != "dynrole" || w.Details["authid"] != "alice@dyn" ||
		w.Details["authprovider"] != "dynamic" {
		t.Errorf("dynamic ticket WELCOME %v", w.Details)
	}
	for _, secret := range []string{"pw", "wrong"} {
		c, ch := challenged(t, srv, wamp.Dict{"authid": "carol", "authmethods": wamp.List{"wampcra"}})
		text, _ := ch.Extra.String("challenge")
		c.Send(&wamp.Authenticate{Signature: auth.CRASign([]byte(secret), text), Extra: wamp.Dict{}})
		if secret == "wrong" {
			expectAbort(t, c, wamp.ErrAuthenticationFailed)
		} else if w := fakepeer.Expect[*wamp.Welcome](t, c); w.Details["authrole"] != "crarole" {
			t.Errorf("dynamic wampcra WELCOME %v", w.Details)
		}
	}
	// A principal the authenticator does not know is refused before any challenge.
	c = srv.Connect(t, "realm1", fakepeer.Options{Details: wamp.Dict{"authid": "mallory", "authmethods": wamp.List{"wampcra"}}})
	if m := c.Recv(); m.Type() != wamp.TypeAbort {
		t.Errorf("an unknown wampcra principal got %s", m.Type())
	}
}
