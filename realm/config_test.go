package realm

import (
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

func TestConfigValidate(t *testing.T) {
	ticket, _ := auth.HashSecret("x", auth.HashParams{Iterations: 1, Memory: 64})
	good := Config{Name: "r", Auth: authn.Config{Principals: []authn.Principal{
		{AuthID: "a", Role: "r", Ticket: ticket},
		{AuthID: "b", Role: "r", WAMPCRA: &authn.CRACredential{Secret: "s"}},
		{AuthID: "c", Role: "r", Cryptosign: []string{strings.Repeat("ab", 32)}},
	}, Dynamic: &authn.Dynamic{Procedure: "com.example.auth", Methods: []string{"ticket"}}},
		Roles: []authz.Role{{Name: "r", Permissions: []authz.Permission{{URI: "", Match: "prefix", Call: true}}}}}
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
		"bad scram":          func(c *Config) { c.Auth.Principals[2].SCRAM = &authn.SCRAMCredential{KDF: "md5"} },
		"dynamic no methods": func(c *Config) { c.Auth.Dynamic.Methods = nil },
		"dynamic bad method": func(c *Config) { c.Auth.Dynamic.Methods = []string{"kerberos"} },
		"bad match":          func(c *Config) { c.Roles[0].Permissions[0].Match = "regex" },
		"duplicate role":     func(c *Config) { c.Roles = append(c.Roles, authz.Role{Name: "r"}) },
		"exact without uri":  func(c *Config) { c.Roles[0].Permissions[0].Match = "exact" },
	} {
		c := good
		c.Auth.Principals = append([]authn.Principal(nil), good.Auth.Principals...)
		cra := *good.Auth.Principals[1].WAMPCRA
		c.Auth.Principals[1].WAMPCRA = &cra
		d := *good.Auth.Dynamic
		c.Auth.Dynamic = &d
		c.Roles = []authz.Role{{Name: "r", Permissions: append([]authz.Permission(nil), good.Roles[0].Permissions...)}}
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
