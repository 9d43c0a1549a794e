package realm

import (
	"fmt"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/wamp"
)

// Config describes one realm.
type Config struct {
	// Name is the realm's URI, e.g. "realm1".
	Name wamp.URI `yaml:"name"`
	// Anonymous lets peers join without credentials (authmethod "anonymous"). Default true
	// when a realm lists no other way in.
	Anonymous *bool `yaml:"anonymous"`
	// AnonymousRole is the authrole anonymous sessions get (default "anonymous").
	AnonymousRole string `yaml:"anonymous_role"`
	// StrictURIs makes topics and procedures follow the spec's strict URI rules.
	StrictURIs bool `yaml:"strict_uris"`
	// CallQueueLimit bounds the calls waiting for a callee at its concurrency limit, per
	// registration (default 1024); past it calls fail with wamp.error.unavailable.
	CallQueueLimit int `yaml:"call_queue_limit"`
	// Limits bound what one session may make the realm hold (limits.go).
	Limits Limits `yaml:"limits"`

	// Pub/sub and meta API.

	// History says which topics keep an event history (wamp.subscription.get_events).
	History pubsub.HistoryConfig `yaml:"history"`
	// HistoryStore keeps the history; the router binary opens one for all realms (bbolt in
	// its data directory, or Redis). Not read from YAML.
	HistoryStore pubsub.HistoryStore `yaml:"-"`
	// Bus and SubscriptionID make the realm's broker a cluster node's (pubsub.Options); a Bus
	// with an Attach(*pubsub.Local) method is attached to the broker New builds.
	Bus            pubsub.Bus                                   `yaml:"-"`
	SubscriptionID func(pattern wamp.URI, match string) wamp.ID `yaml:"-"`
	// NewDealer, when set, builds the realm's dealer from the options New would give the
	// in-process one (a cluster node's: rpc/clustered). Nil: rpc.NewLocal.
	NewDealer func(rpc.Options) rpc.Dealer `yaml:"-"`
	// Sessions shares the realm's sessions with the other nodes of a cluster (cluster.go).
	Sessions SessionDirectory `yaml:"-"`
	// DisableSessionKill turns off wamp.session.kill, kill_by_authid, kill_by_authrole and
	// kill_all in this realm (they answer wamp.error.not_authorized).
	DisableSessionKill bool `yaml:"disable_session_kill"`
	// AnonymousSessionKill lets sessions of the anonymous role call the kill family. Off by
	// default: anyone may join anonymously, and must not be able to end everyone's session.
	AnonymousSessionKill bool `yaml:"anonymous_session_kill"`

	// Authentication and authorization.

	// Auth lists the realm's principals, its dynamic authenticator and its rate limiter
	// (realm/authn).
	Auth authn.Config `yaml:"auth"`
	// Roles say what each authrole may do (realm/authz). Without roles every session may do
	// everything; with roles, a session whose role is not listed may do nothing.
	Roles []authz.Role `yaml:"roles"`
}

// Validate checks the realm's authentication and authorization settings: well-formed hashes
// and keys, known methods and match policies, no duplicate authids or roles.
func (c Config) Validate() error {
	if err := c.Auth.Validate(); err != nil {
		return fmt.Errorf("realm %s: %w", c.Name, err)
	}
	if err := authz.Validate(c.Roles); err != nil {
		return fmt.Errorf("realm %s: %w", c.Name, err)
	}
	return nil
}

func (c Config) anonymousAllowed() bool {
	if c.Anonymous != nil {
		return *c.Anonymous
	}
	// Default: anonymous access unless the realm lists another way in.
	return len(c.Auth.Principals) == 0 && c.Auth.Dynamic == nil
}

func (c Config) anonymousRole() string {
	if c.AnonymousRole == "" {
		return "anonymous"
	}
	return c.AnonymousRole
}
