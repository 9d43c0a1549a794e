package authz

import (
	"fmt"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// Role is a role of a realm and what its sessions may do.
type Role struct {
	Name string `yaml:"name"`
	// Trusted sessions may do anything, and may register the realm's dynamic authenticator
	// and authorizer procedures.
	Trusted bool `yaml:"trusted"`
	// Permissions, looked up by URI: the exact rule wins, then the longest prefix rule, then
	// the best wildcard rule. A URI no rule covers is denied (or asked of the Authorizer).
	Permissions []Permission `yaml:"permissions"`
	// Authorizer is a procedure called as authorizer(session, uri, action, options) for
	// what no permission rule covers; its answers are cached per session.
	Authorizer wamp.URI `yaml:"authorizer"`
	// AuthorizerCache is how long an answer is kept (default 60s; negative: not at all).
	AuthorizerCache time.Duration `yaml:"authorizer_cache"`
	// AuthorizerTimeout bounds one call (default 10s).
	AuthorizerTimeout time.Duration `yaml:"authorizer_timeout"`
}

// Permission allows actions on a URI, or URIs matching a pattern. An action not set is denied.
type Permission struct {
	URI       wamp.URI `yaml:"uri"`
	Match     string   `yaml:"match"` // exact (default), prefix or wildcard
	Call      bool     `yaml:"call"`
	Register  bool     `yaml:"register"`
	Publish   bool     `yaml:"publish"`
	Subscribe bool     `yaml:"subscribe"`
	// Retain lets a publication ask to be the topic's retained event (PUBLISH option
	// retain). Unset, it follows Publish: configs written before it existed keep working,
	// and the realm's retained_topics and retained_bytes bound what retention may hold.
	Retain *bool `yaml:"retain"`
	// Disclose forces the caller's or publisher's identity on callees and subscribers.
	Disclose Disclose `yaml:"disclose"`
}

// Disclose forces identity disclosure.
type Disclose struct {
	Caller    bool `yaml:"caller"`
	Publisher bool `yaml:"publisher"`
}

// Validate checks a realm's roles: named, no name twice, valid authorizer URIs, known match
// policies, and a URI for every rule but a prefix rule.
func Validate(roles []Role) error {
	seen := map[string]bool{}
	for i, r := range roles {
		if r.Name == "" {
			return fmt.Errorf("roles[%d] has no name", i)
		}
		if seen[r.Name] {
			return fmt.Errorf("role %q defined twice", r.Name)
		}
		seen[r.Name] = true
		if r.Authorizer != "" && !wamp.ValidURI(r.Authorizer, false, false) {
			return fmt.Errorf("role %s: authorizer %q is not a valid URI", r.Name, r.Authorizer)
		}
		for j, p := range r.Permissions {
			switch p.Match {
			case "", wamp.MatchExact, wamp.MatchPrefix, wamp.MatchWildcard:
			default:
				return fmt.Errorf("role %s: permissions[%d]: match %q (want exact, prefix or wildcard)", r.Name, j, p.Match)
			}
			if p.URI == "" && p.Match != wamp.MatchPrefix {
				return fmt.Errorf("role %s: permissions[%d] has no uri (use match: prefix with uri \"\" for everything)", r.Name, j)
			}
		}
	}
	return nil
}
