package session_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// Test principals: their secrets, and a realm configuration storing them the way
// "pawl hash-secret" would (with cheap KDF costs, so the tests stay fast).
var (
	ticketSecret   = "ticket-secret"
	craSecret      = "cra-secret"
	craSaltedPass  = "cra-salted-secret"
	scramPassword  = "pencil"
	cryptosignKey  ed25519.PrivateKey
	cryptosignKey2 ed25519.PrivateKey
)

func init() {
	_, cryptosignKey, _ = ed25519.GenerateKey(rand.Reader)
	_, cryptosignKey2, _ = ed25519.GenerateKey(rand.Reader)
}

// must is for test fixtures that cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func scramEntry(t testing.TB, kdf string) *authn.SCRAMCredential {
	salt := []byte("0123456789abcdef")
	p := auth.ScramParams{KDF: kdf, Salt: salt, Iterations: 2, Memory: 64}
	if kdf == auth.KDFPBKDF2 {
		p = auth.ScramParams{KDF: kdf, Salt: salt, Iterations: 1000}
	}
	cred := must(auth.NewScramCredential(scramPassword, p))
	b64 := base64.StdEncoding.EncodeToString
	return &authn.SCRAMCredential{KDF: kdf, Salt: b64(salt), Iterations: p.Iterations, Memory: p.Memory,
		StoredKey: b64(cred.StoredKey), ServerKey: b64(cred.ServerKey)}
}

func pubHex(k ed25519.PrivateKey) string { return hex.EncodeToString(k.Public().(ed25519.PublicKey)) }

// authRealm is realm1 with one principal per method, no anonymous access, and no rate
// limiting delay.
func authRealm(t testing.TB) realm.Config {
	no := false
	cheap := auth.HashParams{Algorithm: auth.HashArgon2id, Iterations: 1, Memory: 64}
	return realm.Config{
		Name:      "realm1",
		Anonymous: &no,
		Auth: authn.Config{
			RateLimit: authn.RateLimit{Delay: -1, Burst: 1000},
			Principals: []authn.Principal{
				{AuthID: "joe", Role: "user", Ticket: must(auth.HashSecret(ticketSecret, cheap))},
				{AuthID: "pbk", Role: "user", Ticket: must(auth.HashSecret(ticketSecret, auth.HashParams{Algorithm: auth.HashPBKDF2, Iterations: 1000}))},
				{AuthID: "peter", Role: "user", WAMPCRA: &authn.CRACredential{Secret: craSecret}},
				{AuthID: "paul", Role: "admin", WAMPCRA: &authn.CRACredential{
					Key: must(auth.CRADeriveKey(craSaltedPass, "salt123", 1000, 32)), Salt: "salt123", Iterations: 1000, KeyLen: 32}},
				{AuthID: "sara", Role: "user", SCRAM: scramEntry(t, auth.KDFArgon2id13)},
				{AuthID: "sam", Role: "user", SCRAM: scramEntry(t, auth.KDFArgon2id13Autobahn)},
				{AuthID: "sue", Role: "user", SCRAM: scramEntry(t, auth.KDFPBKDF2)},
				{AuthID: "carl", Role: "device", Cryptosign: []string{pubHex(cryptosignKey)}},
				{AuthID: "multi", Role: "user", Ticket: must(auth.HashSecret(ticketSecret, cheap)),
					WAMPCRA: &authn.CRACredential{Secret: craSecret}},
			},
		},
	}
}

func dialAuth(t testing.TB, r *routertest.Router, serializer string, opts client.Options) (*client.Client, error) {
	t.Helper()
	opts.Serializer = serializer
	opts.TLSConfig = r.TLS
	c, err := client.Dial(ctxT(t), r.URL, "realm1", opts)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func expectWelcome(t testing.TB, c *client.Client, authid, role, method, provider string) {
	t.Helper()
	w := c.Welcome()
	for k, want := range map[string]string{"authid": authid, "authrole": role, "authmethod": method, "authprovider": provider} {
		if got, _ := w.String(k); got != want {
			t.Errorf("WELCOME.%s = %q, want %q", k, got, want)
		}
	}
}

func expectAbort(t testing.TB, err error, reason wamp.URI, mentions string) {
	t.Helper()
	ae := appError(t, err)
	if ae.URI != reason {
		t.Fatalf("got %s (%v), want %s", ae.URI, ae.Args, reason)
	}
	if msg, _ := ae.Details.String("message"); !strings.Contains(msg, mentions) {
		t.Errorf("ABORT message %q does not mention %q", msg, mentions)
	}
}

// Every method logs in with the right secret, over both serializers, and WELCOME says who.
func TestAuthMethods(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authRealm(t)}})
	cases := []struct {
		name, authid, role, method string
		opts                       client.Options
	}{
		{"ticket argon2id", "joe", "user", "ticket", client.Options{Credentials: client.Credentials{Ticket: ticketSecret}}},
		{"ticket pbkdf2", "pbk", "user", "ticket", client.Options{Credentials: client.Credentials{Ticket: ticketSecret}}},
		{"wampcra", "peter", "user", "wampcra", client.Options{Credentials: client.Credentials{Secret: craSecret}}},
		{"wampcra salted", "paul", "admin", "wampcra", client.Options{Credentials: client.Credentials{Secret: craSaltedPass}}},
		{"scram argon2id13", "sara", "user", "wamp-scram", client.Options{Credentials: client.Credentials{Password: scramPassword}}},
		{"scram argon2id-13", "sam", "user", "wamp-scram", client.Options{Credentials: client.Credentials{Password: scramPassword}}},
		{"scram pbkdf2", "sue", "user", "wamp-scram", client.Options{Credentials: client.Credentials{Password: scramPassword}}},
		{"scram as autobahn names it", "sue", "user", "scram", client.Options{AuthMethods: []string{"scram"},
			Credentials: client.Credentials{Password: scramPassword}}},
		{"cryptosign with authid", "carl", "device", "cryptosign", client.Options{Credentials: client.Credentials{PrivateKey: cryptosignKey}}},
		{"cryptosign by key alone", "carl", "device", "cryptosign", client.Options{Credentials: client.Credentials{PrivateKey: cryptosignKey}}},
		{"second method of the offer", "multi", "user", "wampcra", client.Options{AuthMethods: []string{"cryptosign", "wampcra"},
			Credentials: client.Credentials{Secret: craSecret}}},
	}
	for _, tc := range cases {
		for _, ser := range serializers {
			t.Run(tc.name+"/"+ser, func(t *testing.T) {
				opts := tc.opts
				if tc.name != "cryptosign by key alone" {
					opts.AuthID = tc.authid
				}
				c, err := dialAuth(t, r, ser, opts)
				if err != nil {
					t.Fatal(err)
				}
				expectWelcome(t, c, tc.authid, tc.role, tc.method, "static")
				if tc.method == "wamp-scram" || tc.method == "scram" {
					extra, _ := c.Welcome().Dict("authextra")
					if v, _ := extra.String("verifier"); !strings.HasPrefix(v, "v=") {
						t.Errorf("WELCOME.authextra.verifier = %q", v)
					}
				}
				// The session works.
				if _, err := c.Call(ctxT(t), "wamp.session.count", nil, nil, nil); err != nil {
					t.Errorf("call after login: %v", err)
				}
			})
		}
	}
}

// Wrong secrets, unknown principals and methods the realm does not offer are refused with
// the right reasons.
func TestAuthFailures(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authRealm(t)}})
	cases := []struct {
		name     string
		opts     client.Options
		reason   wamp.URI
		mentions string
	}{
		{"wrong ticket", client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: "guess"}}, wamp.ErrAuthenticationFailed, "wrong ticket"},
		{"wrong wampcra secret", client.Options{AuthID: "peter", Credentials: client.Credentials{Secret: "guess"}}, wamp.ErrAuthenticationFailed, "wrong wampcra signature"},
		{"wrong salted wampcra secret", client.Options{AuthID: "paul", Credentials: client.Credentials{Secret: "guess"}}, wamp.ErrAuthenticationFailed, "wrong wampcra signature"},
		{"wrong scram password", client.Options{AuthID: "sara", Credentials: client.Credentials{Password: "guess"}}, wamp.ErrAuthenticationFailed, "wrong wamp-scram proof"},
		{"wrong scram password pbkdf2", client.Options{AuthID: "sue", Credentials: client.Credentials{Password: "guess"}}, wamp.ErrAuthenticationFailed, "wrong wamp-scram proof"},
		{"wrong cryptosign key", client.Options{AuthID: "carl", Credentials: client.Credentials{PrivateKey: cryptosignKey2}}, wamp.ErrAuthenticationFailed, "not registered"},
		{"unknown cryptosign key", client.Options{Credentials: client.Credentials{PrivateKey: cryptosignKey2}}, wamp.ErrNoSuchPrincipal, "no principal"},
		{"unknown authid ticket", client.Options{AuthID: "nobody", Credentials: client.Credentials{Ticket: ticketSecret}}, wamp.ErrNoSuchPrincipal, "nobody"},
		{"unknown authid wampcra", client.Options{AuthID: "nobody", Credentials: client.Credentials{Secret: craSecret}}, wamp.ErrNoSuchPrincipal, "nobody"},
		{"unknown authid scram", client.Options{AuthID: "nobody", Credentials: client.Credentials{Password: "x"}}, wamp.ErrNoSuchPrincipal, "nobody"},
		{"method the principal lacks", client.Options{AuthID: "joe", Credentials: client.Credentials{Secret: craSecret}}, wamp.ErrNoSuchPrincipal, "joe"},
		{"anonymous disabled", client.Options{}, wamp.ErrNoMatchingAuthMethod, "offered: anonymous"},
		{"unknown method", client.Options{AuthMethods: []string{"kerberos"}}, wamp.ErrNoMatchingAuthMethod, "this realm accepts: ticket, wampcra, wamp-scram, cryptosign"},
		{"cryptosign without pubkey", client.Options{AuthID: "carl", AuthMethods: []string{"cryptosign"}}, wamp.ErrAuthenticationFailed, "pubkey"},
		{"channel binding without TLS", client.Options{AuthID: "carl", Credentials: client.Credentials{PrivateKey: cryptosignKey,
			ChannelBinding: auth.ChannelTLSExporter}}, wamp.ErrAuthenticationFailed, "not TLS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dialAuth(t, r, "json", tc.opts)
			expectAbort(t, err, tc.reason, tc.mentions)
		})
	}
}

// rawAuth drives a handshake by hand: HELLO, then the CHALLENGE.
func rawChallenge(t *testing.T, url string, hello string) (*rawPeer, *wamp.Challenge) {
	t.Helper()
	p := dialRaw(t, url, "wamp.2.json")
	p.sendText(hello)
	m, err := p.next()
	if err != nil {
		t.Fatal(err)
	}
	ch, ok := m.(*wamp.Challenge)
	if !ok {
		t.Fatalf("expected CHALLENGE, got %#v", m)
	}
	return p, ch
}

func (p *rawPeer) send(m wamp.Message) {
	p.t.Helper()
	data, err := wamp.JSON.Encode(nil, m)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendText(string(data))
}

// A CHALLENGE is bound to its connection: an AUTHENTICATE that was valid on one connection is
// refused on another, and every challenge is fresh.
func TestAuthReplay(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authRealm(t)}})
	sign := map[string]func(ch *wamp.Challenge) *wamp.Authenticate{
		"wampcra": func(ch *wamp.Challenge) *wamp.Authenticate {
			text, _ := ch.Extra.String("challenge")
			return &wamp.Authenticate{Signature: auth.CRASign([]byte(craSecret), text), Extra: wamp.Dict{}}
		},
		"cryptosign": func(ch *wamp.Challenge) *wamp.Authenticate {
			text, _ := ch.Extra.String("challenge")
			raw, _ := hex.DecodeString(text)
			sig, _ := auth.CryptosignSign(cryptosignKey, raw, nil)
			return &wamp.Authenticate{Signature: sig, Extra: wamp.Dict{}}
		},
		"wamp-scram": func(ch *wamp.Challenge) *wamp.Authenticate {
			nonce, _ := ch.Extra.String("nonce")
			saltText, _ := ch.Extra.String("salt")
			salt, _ := base64.StdEncoding.DecodeString(saltText)
			it, _ := ch.Extra.Int("iterations")
			mem, _ := ch.Extra.Int("memory")
			kdf, _ := ch.Extra.String("kdf")
			salted, _ := auth.SaltedPassword(scramPassword, auth.ScramParams{KDF: kdf, Salt: salt, Iterations: int(it), Memory: int(mem)})
			msg, _ := auth.ScramExchange{AuthID: "sara", ClientNonce: "AAAAAAAAAAAAAAAAAAAAAA==", Nonce: nonce, Salt: saltText, Iterations: int(it)}.AuthMessage()
			return &wamp.Authenticate{Signature: base64.StdEncoding.EncodeToString(auth.ScramClientProof(salted, msg)),
				Extra: wamp.Dict{"nonce": nonce}}
		},
	}
	hellos := map[string]string{
		"wampcra":    `[1,"realm1",{"roles":{"caller":{}},"authmethods":["wampcra"],"authid":"peter"}]`,
		"cryptosign": `[1,"realm1",{"roles":{"caller":{}},"authmethods":["cryptosign"],"authid":"carl","authextra":{"pubkey":"` + pubHex(cryptosignKey) + `"}}]`,
		"wamp-scram": `[1,"realm1",{"roles":{"caller":{}},"authmethods":["wamp-scram"],"authid":"sara","authextra":{"nonce":"AAAAAAAAAAAAAAAAAAAAAA=="}}]`,
	}
	for method, hello := range hellos {
		t.Run(method, func(t *testing.T) {
			a, chA := rawChallenge(t, r.URL, hello)
			b, chB := rawChallenge(t, r.URL, hello)
			if same, _ := json.Marshal(chA.Extra); string(same) == func() string { x, _ := json.Marshal(chB.Extra); return string(x) }() {
				t.Fatalf("two connections got the same challenge %s", same)
			}
			answerA := sign[method](chA)
			// Connection B gets A's answer: refused.
			b.send(answerA)
			b.expectAbort(wamp.ErrAuthenticationFailed, "")
			// Connection A's own answer works, once.
			a.send(answerA)
			m, err := a.next()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m.(*wamp.Welcome); !ok {
				t.Fatalf("expected WELCOME, got %#v", m)
			}
			// Replayed on the established session, it is a protocol violation.
			a.send(answerA)
			a.expectAbort(wamp.ErrProtocolViolation, "AUTHENTICATE")
		})
	}
}

// What may come after a CHALLENGE: AUTHENTICATE, or ABORT; anything else is a violation,
// and silence ends in an ABORT after the auth timeout.
func TestAuthHandshakeRules(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authRealm(t)},
		Endpoint: realm.EndpointOptions{Session: session.HostOptions{AuthTimeout: 300 * 1e6}}})
	hello := `[1,"realm1",{"roles":{"caller":{}},"authmethods":["ticket"],"authid":"joe"}]`
	t.Run("challenge", func(t *testing.T) {
		_, ch := rawChallenge(t, r.URL, hello)
		if ch.AuthMethod != "ticket" || len(ch.Extra) != 0 {
			t.Errorf("ticket CHALLENGE %#v, want [4,\"ticket\",{}]", ch)
		}
	})
	t.Run("something else", func(t *testing.T) {
		p, _ := rawChallenge(t, r.URL, hello)
		p.sendText(`[16,1,{},"com.example.topic"]`)
		p.expectAbort(wamp.ErrProtocolViolation, "expected AUTHENTICATE")
	})
	t.Run("peer aborts", func(t *testing.T) {
		p, _ := rawChallenge(t, r.URL, hello)
		p.sendText(`[3,{"message":"changed my mind"},"wamp.error.cannot_authenticate"]`)
		p.expectClosed()
	})
	t.Run("scram without nonce", func(t *testing.T) {
		p := dialRaw(t, r.URL, "wamp.2.json")
		p.sendText(`[1,"realm1",{"roles":{"caller":{}},"authmethods":["wamp-scram"],"authid":"sara"}]`)
		p.expectAbort(wamp.ErrAuthenticationFailed, "authextra.nonce")
	})
	t.Run("silence", func(t *testing.T) {
		p, _ := rawChallenge(t, r.URL, hello)
		p.expectAbort(wamp.ErrAuthenticationFailed, "no AUTHENTICATE within")
	})
	t.Run("still works", func(t *testing.T) {
		if _, err := dialAuth(t, r, "json", client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: ticketSecret}}); err != nil {
			t.Fatal(err)
		}
	})
}

// fromAddress makes the client's connections come from a loopback address of the test's
// choosing (127.0.0.2, ...), so the router sees distinct peers.
func fromAddress(opts client.Options, ip string) client.Options {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	opts.Transport.NetDialContext = d.DialContext
	return opts
}

// Repeated failures for one user from one address refuse that pair for a while, even with
// the right secret, and the limiter says when to retry. The guesser locks out nobody else:
// other users at its address, and the same user elsewhere, still log in.
func TestAuthRateLimit(t *testing.T) {
	cfg := authRealm(t)
	cfg.Auth.RateLimit = authn.RateLimit{Burst: 2, Refill: 1e12 /* 1000 s */, Delay: -1}
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{cfg}})
	wrong := fromAddress(client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: "guess"}}, "127.0.0.2")
	for i := 0; i < 2; i++ {
		_, err := dialAuth(t, r, "json", wrong)
		expectAbort(t, err, wamp.ErrAuthenticationFailed, "wrong ticket")
	}
	joe := client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: ticketSecret}}
	_, err := dialAuth(t, r, "json", fromAddress(joe, "127.0.0.2"))
	expectAbort(t, err, wamp.ErrAuthenticationFailed, "too many failed attempts; retry in")
	if _, err := dialAuth(t, r, "json", fromAddress(joe, "127.0.0.3")); err != nil {
		t.Errorf("joe is locked out from his own address by a guesser elsewhere: %v", err)
	}
	peter := client.Options{AuthID: "peter", Credentials: client.Credentials{Secret: craSecret}}
	if _, err := dialAuth(t, r, "json", fromAddress(peter, "127.0.0.2")); err != nil {
		t.Errorf("peter, behind the guesser's address, is locked out: %v", err)
	}
}

// A botnet guessing joe's ticket from many addresses does not lock joe out: past the authid's
// burst, guesses from unknown addresses take turns max_delay apart (TestLimiterAuthIDSlowsButNeverLocks
// pins the turns), while joe, from where he logged in before, gets in without waiting one.
func TestAuthRateLimitAuthIDFlood(t *testing.T) {
	const turn = 5 * time.Second
	cfg := authRealm(t)
	cfg.Auth.RateLimit = authn.RateLimit{Burst: 2, AuthIDBurst: 3, Refill: 1e12, Delay: -1, MaxDelay: turn}
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{cfg}})
	joe := client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: ticketSecret}}
	c, err := dialAuth(t, r, "json", fromAddress(joe, "127.0.0.9"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for i := 0; i < 4; i++ { // the 4th guess takes the first turn: the next one is 5 s away
		bot := fromAddress(client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: "guess"}}, fmt.Sprintf("127.0.1.%d", i+1))
		_, err := dialAuth(t, r, "json", bot)
		expectAbort(t, err, wamp.ErrAuthenticationFailed, "wrong ticket")
	}
	start := time.Now()
	if _, err := dialAuth(t, r, "json", fromAddress(joe, "127.0.0.9")); err != nil {
		t.Fatalf("joe is locked out by a flood of guesses from elsewhere: %v", err)
	}
	if took := time.Since(start); took >= turn/2 {
		t.Errorf("joe, from his known address, took %v: he waited a turn behind the guessers", took)
	}
}
