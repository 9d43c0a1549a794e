package realm

import (
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// fakeClock is a settable time source for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLimiter(RateLimit{Burst: 3, Refill: 10 * time.Second, Delay: 100 * time.Millisecond, MaxDelay: time.Second})
	l.now = clock.now
	var delays []time.Duration
	for i := 0; i < 3; i++ {
		if blocked, _ := l.blocked("addr:a", "authid:x"); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		delays = append(delays, l.fail("addr:a", "authid:x"))
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}; !equalDurations(delays, want) {
		t.Errorf("delays %v, want %v", delays, want)
	}
	blocked, wait := l.blocked("addr:a")
	if !blocked || wait != 10*time.Second {
		t.Errorf("after 3 failures: blocked=%v wait=%v, want true 10s", blocked, wait)
	}
	if blocked, _ := l.blocked("addr:b"); blocked {
		t.Error("another address is blocked")
	}
	if blocked, _ := l.blocked("addr:b", "authid:x"); !blocked {
		t.Error("the authid is not blocked from another address")
	}
	clock.t = clock.t.Add(5 * time.Second)
	if blocked, wait := l.blocked("addr:a"); !blocked || wait != 5*time.Second {
		t.Errorf("half a refill later: blocked=%v wait=%v", blocked, wait)
	}
	clock.t = clock.t.Add(5 * time.Second)
	if blocked, _ := l.blocked("addr:a"); blocked {
		t.Error("still blocked after a refill")
	}
	// The delay is capped.
	for i := 0; i < 10; i++ {
		if d := l.fail("addr:c"); d > time.Second {
			t.Fatalf("delay %v above the cap", d)
		}
	}
	// Leaked keys go first when the table is full; the table stays bounded.
	small := newLimiter(RateLimit{MaxKeys: 4, Refill: time.Second})
	small.now = clock.now
	for i := 0; i < 100; i++ {
		small.fail(strings.Repeat("k", i+1))
		clock.t = clock.t.Add(100 * time.Millisecond)
	}
	if n := small.size(); n > 4 {
		t.Errorf("limiter holds %d keys, bound 4", n)
	}
	if l := newLimiter(RateLimit{Disabled: true}); l != nil {
		t.Error("disabled limiter exists")
	}
	var none *limiter
	if blocked, _ := none.blocked("x"); blocked || none.fail("x") != 0 {
		t.Error("a disabled limiter limits")
	}
	noDelay := newLimiter(RateLimit{Delay: -1})
	if d := noDelay.fail("x"); d != 0 {
		t.Errorf("negative delay gave %v", d)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOverlaps(t *testing.T) {
	cases := []struct {
		pattern    wamp.URI
		match      string
		rule       wamp.URI
		ruleMatch  string
		overlapped bool
	}{
		{"com.example.", "prefix", "com.example.secret.", "prefix", true},
		{"com.example.open.", "prefix", "com.example.secret.", "prefix", false},
		{"com.", "prefix", "com.example.secret.x", "exact", true},
		{"com.example.secret.x.", "prefix", "com.example.secret.", "prefix", true},
		{"com.example.", "prefix", "com..secret", "wildcard", true},
		{"com.other.", "prefix", "com.example.secret", "wildcard", false},
		{"com..wild", "wildcard", "com.example.secret.", "prefix", false},
		{"com...wild", "wildcard", "com.example.secret.", "prefix", true},
		{"com..x", "wildcard", "com.a.x", "exact", true},
		{"com..x", "wildcard", "com.a.y", "exact", false},
		{"com..x", "wildcard", "com.a.", "wildcard", true},
		{"com.a", "exact", "com.", "prefix", true},
		{"com.a", "exact", "org.", "prefix", false},
	}
	for _, tc := range cases {
		if got := overlaps(tc.pattern, tc.match, tc.rule, tc.ruleMatch); got != tc.overlapped {
			t.Errorf("overlaps(%s %s, %s %s) = %v", tc.pattern, tc.match, tc.rule, tc.ruleMatch, got)
		}
	}
	a := &authorizer{reserved: []wamp.URI{"com.example.authenticate"}}
	for _, tc := range []struct {
		uri   wamp.URI
		match string
		want  bool
	}{
		{"com.example.authenticate", "exact", true},
		{"com.example.", "prefix", true},
		{"", "prefix", true},
		{"com..authenticate", "wildcard", true},
		{"com.example.authenticate2", "exact", false},
		{"org.", "prefix", false},
		{"com..other", "wildcard", false},
	} {
		if got := a.reservedMatch(tc.uri, tc.match); got != tc.want {
			t.Errorf("reservedMatch(%s, %s) = %v", tc.uri, tc.match, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ticket, _ := auth.HashSecret("x", auth.HashParams{Iterations: 1, Memory: 64})
	good := Config{Name: "r", Auth: AuthConfig{Principals: []Principal{
		{AuthID: "a", Role: "r", Ticket: ticket},
		{AuthID: "b", Role: "r", WAMPCRA: &CRACredential{Secret: "s"}},
		{AuthID: "c", Role: "r", Cryptosign: []string{strings.Repeat("ab", 32)}},
	}, Dynamic: &DynamicAuth{Procedure: "com.example.auth", Methods: []string{"ticket"}}},
		Roles: []RoleConfig{{Name: "r", Permissions: []Permission{{URI: "", Match: "prefix", Call: true}}}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(c *Config){
		"plain ticket":       func(c *Config) { c.Auth.Principals[0].Ticket = "secret" },
		"no role":            func(c *Config) { c.Auth.Principals[0].Role = "" },
		"no credentials":     func(c *Config) { c.Auth.Principals[0].Ticket = "" },
		"duplicate authid":   func(c *Config) { c.Auth.Principals[1].AuthID = "a" },
		"salted secret":      func(c *Config) { c.Auth.Principals[1].WAMPCRA.Salt = "x" },
		"bad pubkey":         func(c *Config) { c.Auth.Principals[2].Cryptosign = []string{"abc"} },
		"bad scram":          func(c *Config) { c.Auth.Principals[2].SCRAM = &SCRAMCredential{KDF: "md5"} },
		"dynamic no methods": func(c *Config) { c.Auth.Dynamic.Methods = nil },
		"dynamic bad method": func(c *Config) { c.Auth.Dynamic.Methods = []string{"kerberos"} },
		"bad match":          func(c *Config) { c.Roles[0].Permissions[0].Match = "regex" },
		"duplicate role":     func(c *Config) { c.Roles = append(c.Roles, RoleConfig{Name: "r"}) },
		"exact without uri":  func(c *Config) { c.Roles[0].Permissions[0].Match = "exact" },
	} {
		c := good
		c.Auth.Principals = append([]Principal(nil), good.Auth.Principals...)
		cra := *good.Auth.Principals[1].WAMPCRA
		c.Auth.Principals[1].WAMPCRA = &cra
		d := *good.Auth.Dynamic
		c.Auth.Dynamic = &d
		c.Roles = []RoleConfig{{Name: "r", Permissions: append([]Permission(nil), good.Roles[0].Permissions...)}}
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Anonymous is the default only without other ways in.
	if !(Config{}).anonymousAllowed() || good.anonymousAllowed() {
		t.Error("anonymous default")
	}
}

func TestParseDynamicAnswer(t *testing.T) {
	if a, err := parseDynamicAnswer("user", "joe"); err != nil || a.role != "user" || a.authID != "joe" || a.provider != "dynamic" {
		t.Errorf("string answer: %+v %v", a, err)
	}
	a, err := parseDynamicAnswer(wamp.Dict{"role": "r", "authid": "other", "provider": "ldap", "secret": "s",
		"pubkeys": wamp.List{strings.Repeat("01", 32)}}, "joe")
	if err != nil || a.authID != "other" || a.provider != "ldap" || a.cra == nil || len(a.pubkeys) != 1 {
		t.Errorf("dict answer: %+v %v", a, err)
	}
	for _, bad := range []any{nil, 3, wamp.Dict{}, wamp.Dict{"role": "r", "pubkey": "zz"}, wamp.Dict{"role": "r", "stored_key": "x"}} {
		if _, err := parseDynamicAnswer(bad, "joe"); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
