package authn

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// Config is a realm's authentication (its YAML "auth"): static principals, a dynamic
// authenticator and the limiter that slows down repeated failures. Anonymous access is the
// realm's (realm.Config.Anonymous).
type Config struct {
	// Principals are the realm's static users; each may log in by every method it has
	// credentials for.
	Principals []Principal `yaml:"principals"`
	// Dynamic names a procedure that authenticates whom the static principals do not know.
	Dynamic *Dynamic `yaml:"dynamic"`
	// RateLimit slows down and then refuses repeated failures from one address or authid.
	RateLimit RateLimit `yaml:"rate_limit"`
}

// Principal is one static user of a realm: an authid, the role it gets, and its credentials,
// stored so that the configuration holds no usable secret (except an unsalted WAMP-CRA
// secret, which that method needs). "pawl hash-secret" prints these entries.
type Principal struct {
	AuthID string `yaml:"authid"`
	Role   string `yaml:"role"`
	// Ticket is the hash of the ticket (authmethod ticket): "$argon2id$..." or
	// "$pbkdf2-sha256$...".
	Ticket string `yaml:"ticket"`
	// WAMPCRA is the WAMP-CRA key (authmethod wampcra).
	WAMPCRA *CRACredential `yaml:"wampcra"`
	// SCRAM is the WAMP-SCRAM credential (authmethod wamp-scram).
	SCRAM *SCRAMCredential `yaml:"scram"`
	// Cryptosign lists the principal's Ed25519 public keys, hex (authmethod cryptosign).
	Cryptosign []string `yaml:"cryptosign"`
}

// CRACredential is a WAMP-CRA key: salted (Key derived from the password with Salt,
// Iterations, KeyLen, which the CHALLENGE tells the client) or, for clients that cannot salt,
// the plain Secret.
type CRACredential struct {
	Key        string `yaml:"key,omitempty"`        // base64 PBKDF2-HMAC-SHA256 key, as autobahn derives it
	Salt       string `yaml:"salt,omitempty"`       // the salt, used as UTF-8 text
	Iterations int    `yaml:"iterations,omitempty"` // default 1000
	KeyLen     int    `yaml:"keylen,omitempty"`     // default 32
	Secret     string `yaml:"secret,omitempty"`     // unsalted: the shared secret itself
}

// SCRAMCredential is what the router stores for WAMP-SCRAM: never the password, only the
// KDF parameters and the StoredKey and ServerKey (base64).
type SCRAMCredential struct {
	KDF        string `yaml:"kdf"` // argon2id13, argon2id-13 (autobahn's variant) or pbkdf2
	Salt       string `yaml:"salt"`
	Iterations int    `yaml:"iterations"`
	Memory     int    `yaml:"memory,omitempty"` // KiB, argon2 only
	StoredKey  string `yaml:"stored_key"`
	ServerKey  string `yaml:"server_key"`
}

// Dynamic is a dynamic authenticator: a procedure, registered by a trusted session, that
// the router calls as procedure(realm, authid, details) for the listed methods when no static
// principal matches. See the README for the details it gets and the answers it may give.
type Dynamic struct {
	Procedure wamp.URI `yaml:"procedure"`
	// Methods it authenticates: anonymous, ticket, wampcra, wamp-scram, cryptosign.
	Methods []string `yaml:"methods"`
	// Timeout bounds one call (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// RateLimit slows down guessing without letting a guesser lock out anyone else (see
// ratelimit.go). Failures count against the pair (address, authid), the address, and
// the authid, each forgiven one per Refill:
//   - Burst failures of a pair refuse that pair (ABORT wamp.error.authentication_failed
//     saying when to retry): the guesser's address, for that user;
//   - AddressBurst failures of an address refuse it for every authid it has not logged in
//     as before (addresses shared behind NAT keep working for their known users);
//   - AuthIDBurst failures of an authid, from anywhere, never refuse the user: attempts
//     from addresses it has not logged in from take turns, MaxDelay apart.
//
// Each failure is answered only after a delay that doubles with the pair's failures, from
// Delay up to MaxDelay.
type RateLimit struct {
	Disabled     bool          `yaml:"disabled"`
	Burst        int           `yaml:"burst"`         // per (address, authid); default 10
	AddressBurst int           `yaml:"address_burst"` // per address; default 10×burst
	AuthIDBurst  int           `yaml:"authid_burst"`  // per authid before turns; default burst
	Refill       time.Duration `yaml:"refill"`        // default 30s
	Delay        time.Duration `yaml:"delay"`         // default 200ms; negative: no delay
	MaxDelay     time.Duration `yaml:"max_delay"`     // default 3s
	// MaxKeys bounds the pairs, addresses and authids tracked (default 100000).
	MaxKeys int `yaml:"max_keys"`
}

// MethodNames are the authentication methods the router implements, by their names in the
// spec.
var MethodNames = []string{"anonymous", "ticket", "wampcra", "wamp-scram", "cryptosign"}

// Validate checks a realm's authentication settings: well-formed hashes and keys, known
// methods, no duplicate authids.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, p := range c.Principals {
		if err := p.validate(); err != nil {
			return fmt.Errorf("auth.principals[%d] (%s): %w", i, p.AuthID, err)
		}
		if seen[p.AuthID] {
			return fmt.Errorf("principal %q defined twice", p.AuthID)
		}
		seen[p.AuthID] = true
	}
	if d := c.Dynamic; d != nil {
		if !wamp.ValidURI(d.Procedure, false, false) || d.Procedure == "" {
			return fmt.Errorf("auth.dynamic.procedure %q is not a valid URI", d.Procedure)
		}
		if len(d.Methods) == 0 {
			return errors.New("auth.dynamic.methods is empty")
		}
		for _, m := range d.Methods {
			if !slices.Contains(MethodNames, m) {
				return fmt.Errorf("auth.dynamic.methods: unknown method %q (want one of %v)", m, MethodNames)
			}
		}
	}
	return nil
}

func (p Principal) validate() error {
	if p.AuthID == "" {
		return errors.New("no authid")
	}
	if p.Role == "" {
		return errors.New("no role")
	}
	if p.Ticket == "" && p.WAMPCRA == nil && p.SCRAM == nil && len(p.Cryptosign) == 0 {
		return errors.New("no credentials (ticket, wampcra, scram or cryptosign)")
	}
	if p.Ticket != "" {
		if err := auth.CheckSecretHash(p.Ticket); err != nil {
			return fmt.Errorf("ticket: %w (store a hash: pawl hash-secret -method ticket)", err)
		}
	}
	if c := p.WAMPCRA; c != nil {
		if _, err := c.key(); err != nil {
			return err
		}
	}
	if c := p.SCRAM; c != nil {
		if _, err := c.credential(); err != nil {
			return err
		}
	}
	for _, k := range p.Cryptosign {
		if _, err := auth.ParsePublicKey(k); err != nil {
			return err
		}
	}
	return nil
}

// key is the HMAC key of a WAMP-CRA credential.
func (c *CRACredential) key() ([]byte, error) {
	switch {
	case c.Key != "" && c.Secret != "":
		return nil, errors.New("wampcra: give key (salted) or secret (unsalted), not both")
	case c.Key != "":
		if c.Salt == "" {
			return nil, errors.New("wampcra: a key needs its salt")
		}
		if _, err := base64.StdEncoding.DecodeString(c.Key); err != nil {
			return nil, errors.New("wampcra: key is not base64")
		}
		if c.Iterations < 0 || c.Iterations > 10_000_000 || c.KeyLen < 0 || c.KeyLen > 1024 {
			return nil, errors.New("wampcra: iterations or keylen out of range")
		}
		return []byte(c.Key), nil
	case c.Secret != "":
		if c.Salt != "" {
			return nil, errors.New("wampcra: a salt goes with a derived key, not a secret (pawl hash-secret -method wampcra)")
		}
		return []byte(c.Secret), nil
	}
	return nil, errors.New("wampcra: no key or secret")
}

// challengeExtra is what the CHALLENGE says about the salt.
func (c *CRACredential) challengeExtra(extra map[string]any) {
	if c.Salt == "" {
		return
	}
	iterations, keylen := c.Iterations, c.KeyLen
	if iterations == 0 {
		iterations = auth.CRADefaultIterations
	}
	if keylen == 0 {
		keylen = auth.CRADefaultKeyLen
	}
	extra["salt"], extra["iterations"], extra["keylen"] = c.Salt, iterations, keylen
}

// credential decodes a WAMP-SCRAM credential.
func (c *SCRAMCredential) credential() (*auth.ScramCredential, error) {
	salt, err := base64.StdEncoding.DecodeString(c.Salt)
	if err != nil {
		return nil, errors.New("scram: salt is not base64")
	}
	p := auth.ScramParams{KDF: c.KDF, Salt: salt, Iterations: c.Iterations, Memory: c.Memory}
	if err := p.Check(); err != nil {
		return nil, err
	}
	stored, err1 := base64.StdEncoding.DecodeString(c.StoredKey)
	server, err2 := base64.StdEncoding.DecodeString(c.ServerKey)
	if err1 != nil || err2 != nil || len(stored) != 32 || len(server) != 32 {
		return nil, errors.New("scram: stored_key and server_key must be 32 bytes, base64")
	}
	return &auth.ScramCredential{ScramParams: p, StoredKey: stored, ServerKey: server}, nil
}
