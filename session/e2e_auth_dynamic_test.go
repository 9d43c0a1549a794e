package session_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// dynamicRealm authenticates every method through com.example.authenticate (no static
// principals), registered by a trusted local client.
func dynamicRealm() realm.Config {
	return realm.Config{
		Name: "realm1",
		Auth: authn.Config{
			RateLimit: authn.RateLimit{Delay: -1, Burst: 1000},
			Dynamic: &authn.Dynamic{Procedure: "com.example.authenticate",
				Methods: []string{"anonymous", "ticket", "wampcra", "wamp-scram", "cryptosign"}},
		},
	}
}

// The dynamic authenticator gets realm, authid and details (authmethod, transport with the
// upgrade request's headers, cookies and query) and answers with the role, or an error.
func TestDynamicAuthentication(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{dynamicRealm()}})
	ctx := ctxT(t)
	backend, err := r.LocalClient(ctx, "realm1", client.Options{AuthID: "authenticator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	scram := scramEntry(t, auth.KDFArgon2id13)
	var mu sync.Mutex
	var seen []wamp.Dict
	_, err = backend.Register(ctx, "com.example.authenticate", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		realmName, _ := inv.Args[0].(string)
		authid, _ := inv.Args[1].(string)
		details, _ := inv.Args[2].(wamp.Dict)
		mu.Lock()
		seen = append(seen, details)
		mu.Unlock()
		if realmName != "realm1" {
			return nil, wamp.NewError("com.example.wrong_realm", realmName)
		}
		method, _ := details.String("authmethod")
		transport, _ := details.Dict("transport")
		cookies, _ := transport.Dict("cookies")
		switch method {
		case "anonymous":
			// Identify the user from the web session cookie, as a Ratchet app would.
			if sid, _ := cookies.String("PHPSESSID"); sid == "s3ss10n" {
				return &client.Result{Args: wamp.List{wamp.Dict{"role": "web", "authid": "alice", "extra": wamp.Dict{"from": "cookie"}}}}, nil
			}
			return nil, wamp.NewError("com.example.not_logged_in", "no web session")
		case "ticket":
			if ticket, _ := details.String("ticket"); ticket != "dyn-"+authid {
				return nil, wamp.NewError("com.example.invalid_ticket", "bad ticket for "+authid)
			}
			return &client.Result{Args: wamp.List{"ticket-user"}}, nil
		case "wampcra":
			return &client.Result{Args: wamp.List{wamp.Dict{"role": "cra-user", "secret": craSecret}}}, nil
		case "wamp-scram":
			return &client.Result{Args: wamp.List{wamp.Dict{"role": "scram-user", "kdf": scram.KDF, "salt": scram.Salt,
				"iterations": scram.Iterations, "memory": scram.Memory, "stored_key": scram.StoredKey, "server_key": scram.ServerKey}}}, nil
		case "cryptosign":
			return &client.Result{Args: wamp.List{wamp.Dict{"role": "device", "authid": "dev-1", "pubkey": pubHex(cryptosignKey)}}}, nil
		}
		return nil, wamp.NewError("com.example.unexpected", method)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ticket with transport details", func(t *testing.T) {
		header := http.Header{"Cookie": {"PHPSESSID=abc; theme=dark"}, "X-Custom": {"yes"}}
		c, err := client.Dial(ctx, r.URL+"?token=xyz&lang=de", "realm1", client.Options{AuthID: "bob",
			Header: header, Credentials: client.Credentials{Ticket: "dyn-bob"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		expectWelcome(t, c, "bob", "ticket-user", "ticket", "dynamic")
		mu.Lock()
		d := seen[len(seen)-1]
		mu.Unlock()
		tr, _ := d.Dict("transport")
		cookies, _ := tr.Dict("cookies")
		query, _ := tr.Dict("query")
		headers, _ := tr.Dict("http_headers_received")
		if cookies["PHPSESSID"] != "abc" || cookies["theme"] != "dark" || query["token"] != "xyz" || query["lang"] != "de" ||
			headers["x-custom"] != "yes" || !strings.HasPrefix(tr["peer"].(string), "tcp4:127.0.0.1:") {
			t.Errorf("transport details %v", tr)
		}
		if id, _ := wamp.AsID(d["session"]); id != c.ID() {
			t.Errorf("details.session %v, but the session is %v", d["session"], c.ID())
		}
	})
	t.Run("ticket refused by the authenticator", func(t *testing.T) {
		_, err := dialAuth(t, r, "json", client.Options{AuthID: "bob", Credentials: client.Credentials{Ticket: "guess"}})
		expectAbort(t, err, "com.example.invalid_ticket", "bad ticket for bob")
	})
	t.Run("cookie", func(t *testing.T) {
		c, err := dialAuth(t, r, "msgpack", client.Options{Header: http.Header{"Cookie": {"PHPSESSID=s3ss10n"}}})
		if err != nil {
			t.Fatal(err)
		}
		expectWelcome(t, c, "alice", "web", "anonymous", "dynamic")
		if extra, _ := c.Welcome().Dict("authextra"); extra["from"] != "cookie" {
			t.Errorf("WELCOME.authextra %v", extra)
		}
		_, err = dialAuth(t, r, "json", client.Options{})
		expectAbort(t, err, "com.example.not_logged_in", "no web session")
	})
	t.Run("wampcra", func(t *testing.T) {
		c, err := dialAuth(t, r, "json", client.Options{AuthID: "carol", Credentials: client.Credentials{Secret: craSecret}})
		if err != nil {
			t.Fatal(err)
		}
		expectWelcome(t, c, "carol", "cra-user", "wampcra", "dynamic")
		_, err = dialAuth(t, r, "json", client.Options{AuthID: "carol", Credentials: client.Credentials{Secret: "guess"}})
		expectAbort(t, err, wamp.ErrAuthenticationFailed, "wrong wampcra signature")
	})
	t.Run("wamp-scram", func(t *testing.T) {
		c, err := dialAuth(t, r, "json", client.Options{AuthID: "dave", Credentials: client.Credentials{Password: scramPassword}})
		if err != nil {
			t.Fatal(err)
		}
		expectWelcome(t, c, "dave", "scram-user", "wamp-scram", "dynamic")
	})
	t.Run("cryptosign", func(t *testing.T) {
		c, err := dialAuth(t, r, "json", client.Options{Credentials: client.Credentials{PrivateKey: cryptosignKey}})
		if err != nil {
			t.Fatal(err)
		}
		expectWelcome(t, c, "dev-1", "device", "cryptosign", "dynamic")
		_, err = dialAuth(t, r, "json", client.Options{Credentials: client.Credentials{PrivateKey: cryptosignKey2}})
		expectAbort(t, err, wamp.ErrAuthenticationFailed, "not registered")
	})
	t.Run("untrusted sessions cannot take over", func(t *testing.T) {
		c, err := dialAuth(t, r, "json", client.Options{Header: http.Header{"Cookie": {"PHPSESSID=s3ss10n"}}})
		if err != nil {
			t.Fatal(err)
		}
		noop := func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: wamp.List{"admin"}}, nil
		}
		_, err = c.Register(ctx, "com.example.authenticate", noop, nil)
		expectNotAuthorized(t, err)
		_, err = c.Register(ctx, "com.example.", noop, wamp.Dict{"match": "prefix"})
		expectNotAuthorized(t, err)
		// A forged local-client header does not make a remote peer trusted.
		c2, err := dialAuth(t, r, "json", client.Options{Header: http.Header{"Cookie": {"PHPSESSID=s3ss10n"},
			"Pawl-Local-Token": {"guess"}, "Pawl-Local-Authid": {"root"}}})
		if err != nil {
			t.Fatal(err)
		}
		expectWelcome(t, c2, "alice", "web", "anonymous", "dynamic")
	})
}

// Without a registered authenticator, logins fail cleanly.
func TestDynamicAuthenticatorMissing(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{dynamicRealm()}})
	_, err := dialAuth(t, r, "json", client.Options{AuthID: "bob", Credentials: client.Credentials{Ticket: "x"}})
	expectAbort(t, err, wamp.ErrAuthenticationFailed, "dynamic authenticator com.example.authenticate is not registered")
}

// wss://: every method over TLS, and the TLS channel bindings of cryptosign and wamp-scram.
func TestAuthTLS(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		name := map[uint16]string{tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3"}[version]
		t.Run(name, func(t *testing.T) {
			r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authRealm(t)}, TLS: true,
				ServerTLS: func(c *tls.Config) { c.MaxVersion = version }})
			if !strings.HasPrefix(r.URL, "wss://") {
				t.Fatalf("URL %s", r.URL)
			}
			binding := auth.ChannelTLSExporter
			if version == tls.VersionTLS12 {
				binding = auth.ChannelTLSUnique
			}
			for _, tc := range []struct {
				name, authid, method string
				cr                   client.Credentials
			}{
				{"ticket", "joe", "ticket", client.Credentials{Ticket: ticketSecret}},
				{"wampcra", "paul", "wampcra", client.Credentials{Secret: craSaltedPass}},
				{"scram", "sara", "wamp-scram", client.Credentials{Password: scramPassword}},
				{"scram bound", "sara", "wamp-scram", client.Credentials{Password: scramPassword, ChannelBinding: binding}},
				{"cryptosign", "carl", "cryptosign", client.Credentials{PrivateKey: cryptosignKey}},
				{"cryptosign bound", "carl", "cryptosign", client.Credentials{PrivateKey: cryptosignKey, ChannelBinding: binding}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c, err := dialAuth(t, r, "msgpack", client.Options{AuthID: tc.authid, Credentials: tc.cr})
					if err != nil {
						t.Fatal(err)
					}
					expectWelcome(t, c, tc.authid, c.Welcome()["authrole"].(string), tc.method, "static")
				})
			}
			if version == tls.VersionTLS13 {
				t.Run("tls-unique on TLS 1.3", func(t *testing.T) {
					_, err := dialAuth(t, r, "json", client.Options{AuthID: "carl",
						Credentials: client.Credentials{PrivateKey: cryptosignKey, ChannelBinding: auth.ChannelTLSUnique}})
					if err == nil {
						t.Fatal("tls-unique accepted on TLS 1.3")
					}
				})
			}
			t.Run("signature for another channel", func(t *testing.T) {
				// Claim channel binding but sign the bare challenge, as a relayed
				// signature from another connection would be.
				_, err := dialAuth(t, r, "json", client.Options{AuthID: "carl",
					AuthExtra:   wamp.Dict{"channel_binding": binding},
					Credentials: client.Credentials{PrivateKey: cryptosignKey}})
				expectAbort(t, err, wamp.ErrAuthenticationFailed, "")
				_, err = dialAuth(t, r, "json", client.Options{AuthID: "sara",
					AuthExtra: wamp.Dict{"channel_binding": binding}, AuthMethods: []string{"wamp-scram"},
					OnChallenge: func(_ context.Context, ch *wamp.Challenge) (string, wamp.Dict, error) {
						nonce, _ := ch.Extra.String("nonce")
						return base64.StdEncoding.EncodeToString(make([]byte, 32)), wamp.Dict{"nonce": nonce,
							"channel_binding": binding, "cbind_data": base64.StdEncoding.EncodeToString([]byte("another channel"))}, nil
					}})
				expectAbort(t, err, wamp.ErrAuthenticationFailed, "channel binding data do not match")
			})
		})
	}
}

// A listener's session limit refuses further connections with HTTP 503.
func TestMaxSessions(t *testing.T) {
	r2 := routertest.Start(t, routertest.Options{Endpoint: realm.EndpointOptions{Transport: transportMax(1)}})
	first := join(t, r2, "json")
	_, err := client.Dial(ctxT(t), r2.URL, "realm1", client.Options{})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("second session: %v, want HTTP 503", err)
	}
	first.Close()
	<-first.Done()
	// Room again once the first has gone (the router notices asynchronously).
	for i := 0; ; i++ {
		c, err := client.Dial(ctxT(t), r2.URL, "realm1", client.Options{})
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("no room after the first session left: %v", err)
		}
		waitABit()
	}
}

func transportMax(n int) websocket.Options { return websocket.Options{MaxConnections: n} }

func waitABit() { time.Sleep(20 * time.Millisecond) }
