package authn

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pawl-wamp/pawl/realm/internal/dynamic"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// A method runs one authentication method for a joining session: it may send
// CHALLENGEs (q.challenge) and returns who the peer is. It answers errNoPrincipal when it does
// not know the authid (the router then tries the peer's next method), an *session.AbortError to
// refuse, or an error wrapping session.ErrHandshakeEnded when the peer went away.
type method interface {
	authenticate(q *authRequest) (*identity, error)
}

// methods by authmethod name. "scram" is what Autobahn|Python and Crossbar.io call
// wamp-scram.
var methods = map[string]method{
	"anonymous":  anonymousAuth{},
	"ticket":     ticketAuth{},
	"wampcra":    craAuth{},
	"wamp-scram": scramAuth{},
	"scram":      scramAuth{},
	"cryptosign": cryptosignAuth{},
}

// CanonicalMethod maps an authmethod alias to its name in the spec ("scram" is
// "wamp-scram").
func CanonicalMethod(m string) string {
	if m == "scram" {
		return "wamp-scram"
	}
	return m
}

// errNoPrincipal: the authenticator does not know the peer's authid (or key).
var errNoPrincipal = errors.New("no such principal")

// skip is an authenticator's "not this method": HELLO lacks what the method needs. The router
// tries the peer's next method, and refuses with this reason if none is left.
type skip struct {
	reason  wamp.URI
	message string
}

func (e *skip) Error() string { return e.message }

func skipMethod(format string, args ...any) error {
	return &skip{reason: wamp.ErrAuthenticationFailed, message: fmt.Sprintf(format, args...)}
}

// authFailed refuses with wamp.error.authentication_failed.
func authFailed(format string, args ...any) error {
	return &session.AbortError{Reason: wamp.ErrAuthenticationFailed, Message: fmt.Sprintf(format, args...)}
}

// authRequest is one authentication attempt: what HELLO said and where it came from.
type authRequest struct {
	a         *Authenticator // the realm's configuration when the attempt began
	s         *session.Session
	method    string // as the peer named it (the CHALLENGE and WELCOME use the same name)
	authID    string
	extra     wamp.Dict // HELLO.Details.authextra
	transport wamp.Dict // transport details (transportDetails)
}

// challenge sends a CHALLENGE for the request's method and waits for AUTHENTICATE.
func (q *authRequest) challenge(extra wamp.Dict) (*wamp.Authenticate, error) {
	return q.s.Challenge(q.method, extra)
}

// identity is who a peer was authenticated as.
type identity struct {
	authID   string
	role     string
	provider string
	extra    wamp.Dict // WELCOME.Details.authextra
}

// principal is a static principal, decoded from the configuration.
type principal struct {
	authID, role string
	ticket       string // hash
	cra          *CRACredential
	craKey       []byte
	scram        *scramSecret
	pubkeys      []ed25519.PublicKey
}

// Options configure an Authenticator: a realm's authentication settings and its ways to
// the rest of the router.
type Options struct {
	// Realm is the realm's URI, given to the dynamic authenticator.
	Realm wamp.URI
	// Config lists the principals, the dynamic authenticator and the rate limit.
	Config Config
	// Anonymous lets peers join without credentials, with AnonymousRole.
	Anonymous     bool
	AnonymousRole string
	// Caller calls the dynamic authenticator; without it, dynamic authentication fails.
	Caller dynamic.Caller
	// Closing returns a channel closed when the router shuts down: it cuts short the delays
	// before a failure's ABORT and the waits for an authid's turn. Nil: never.
	Closing func() <-chan struct{}
	// Logger logs failures and principals left out.
	Logger *slog.Logger
}

// Authenticator is a realm's authentication, built from its configuration. It is never
// changed once built: a reconfigured realm builds a new one and swaps it in, so a handshake
// sees one consistent configuration.
type Authenticator struct {
	opts       Options
	log        *slog.Logger
	principals map[string]*principal
	byPubkey   map[string]*principal // cryptosign public key (hex, lower case) → principal
	dynamic    *Dynamic
	limiter    *limiter
	accepts    []string // the methods the realm can authenticate
}

// New decodes a realm's auth configuration. A principal that does not decode is logged and
// left out (the configuration was validated when loaded). The rate limiter of old (the
// Authenticator it replaces, or nil), when its settings are unchanged, carries over: a
// reload forgives no failures.
func New(opts Options, old *Authenticator) *Authenticator {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := opts.Config
	a := &Authenticator{opts: opts, log: log, principals: map[string]*principal{}, byPubkey: map[string]*principal{},
		dynamic: cfg.Dynamic}
	if old != nil && reflect.DeepEqual(old.opts.Config.RateLimit, cfg.RateLimit) {
		a.limiter = old.limiter
	} else {
		a.limiter = newLimiter(cfg.RateLimit)
	}
	for _, pc := range cfg.Principals {
		p, err := decodePrincipal(pc)
		if err != nil {
			log.Error("principal left out", "authid", pc.AuthID, "err", err)
			continue
		}
		a.principals[p.authID] = p
		for _, k := range p.pubkeys {
			a.byPubkey[hex.EncodeToString(k)] = p
		}
	}
	a.accepts = a.acceptedMethods()
	return a
}

func decodePrincipal(pc Principal) (*principal, error) {
	if err := pc.validate(); err != nil {
		return nil, err
	}
	p := &principal{authID: pc.AuthID, role: pc.Role, ticket: pc.Ticket, cra: pc.WAMPCRA}
	if pc.WAMPCRA != nil {
		p.craKey, _ = pc.WAMPCRA.key()
	}
	if pc.SCRAM != nil {
		cred, _ := pc.SCRAM.credential()
		p.scram = &scramSecret{cred: cred, salt: pc.SCRAM.Salt}
	}
	for _, k := range pc.Cryptosign {
		pub, _ := parsePubkey(k)
		p.pubkeys = append(p.pubkeys, pub)
	}
	return p, nil
}

// dynamicFor reports whether the dynamic authenticator handles a method.
func (a *Authenticator) dynamicFor(method string) bool {
	return a.dynamic != nil && slices.Contains(a.dynamic.Methods, CanonicalMethod(method))
}

// acceptedMethods lists the methods this realm can authenticate.
func (a *Authenticator) acceptedMethods() []string {
	var out []string
	has := map[string]bool{}
	if a.opts.Anonymous {
		has["anonymous"] = true
	}
	for _, p := range a.principals {
		has["ticket"] = has["ticket"] || p.ticket != ""
		has["wampcra"] = has["wampcra"] || p.cra != nil
		has["wamp-scram"] = has["wamp-scram"] || p.scram != nil
		has["cryptosign"] = has["cryptosign"] || len(p.pubkeys) > 0
	}
	if d := a.dynamic; d != nil {
		for _, m := range d.Methods {
			has[m] = true
		}
	}
	for _, m := range MethodNames {
		if has[m] {
			out = append(out, m)
		}
	}
	return out
}

// Authenticate decides who the peer is: it tries the methods HELLO offers, in the peer's
// order, and fills in the session's auth fields. It returns the WELCOME's authextra. It
// runs on the joining connection's goroutine; a CHALLENGE waits there for the AUTHENTICATE.
func (a *Authenticator) Authenticate(s *session.Session) (wamp.Dict, error) {
	offered := authMethods(s.Details)
	if len(offered) == 0 {
		offered = []string{"anonymous"} // no authmethods: the spec's default
	}
	authID, _ := s.Details.String("authid")
	extra, _ := s.Details.Dict("authextra")
	q := &authRequest{a: a, s: s, authID: authID, extra: extra, transport: transportDetails(s)}
	who := attempt{addr: remoteIP(s), authID: authID}
	wait, refused, retry := a.limiter.admit(who)
	if refused {
		a.log.Info("authentication refused: too many failures", "authid", authID, "remote", remoteString(s.Peer().Details()), "retry_in", retry)
		return nil, authFailed("too many failed attempts; retry in %v", retry.Round(time.Second)+time.Second)
	}
	if wait > 0 && !a.pause(wait) {
		return nil, authFailed("router shutting down")
	}
	accepts := a.accepts
	unknown := false
	var skipped *skip
	for _, m := range offered {
		run, ok := methods[m]
		if !ok || !slices.Contains(accepts, CanonicalMethod(m)) {
			continue
		}
		q.method = m
		s.AuthMethod = m // the method being tried: a failure is counted under it (realm/observe.go)
		id, err := run.authenticate(q)
		if errors.Is(err, errNoPrincipal) {
			unknown = true
			continue
		}
		if sk := (*skip)(nil); errors.As(err, &sk) {
			if skipped == nil {
				skipped = sk
			}
			continue
		}
		if errors.Is(err, session.ErrHandshakeEnded) {
			return nil, err
		}
		if err != nil {
			a.failed(s, who, m, authID, err)
			return nil, err
		}
		if id.provider == "" {
			id.provider = "static"
		}
		s.AuthID, s.AuthRole, s.AuthMethod, s.AuthProvider = id.authID, id.role, m, id.provider
		a.limiter.succeed(who)
		return id.extra, nil
	}
	if skipped != nil && !unknown {
		return nil, &session.AbortError{Reason: skipped.reason, Message: skipped.message}
	}
	if unknown {
		err := &session.AbortError{Reason: wamp.ErrNoSuchPrincipal,
			Message: fmt.Sprintf("no principal %q for the methods offered (%s)", authID, strings.Join(offered, ", "))}
		a.failed(s, who, "", authID, err)
		return nil, err
	}
	return nil, &session.AbortError{Reason: wamp.ErrNoMatchingAuthMethod,
		Message: fmt.Sprintf("this realm accepts: %s; offered: %s", strings.Join(accepts, ", "), strings.Join(offered, ", "))}
}

// failed records a failure with the rate limiter, logs it, and waits the limiter's delay
// before the ABORT goes out (on the joining connection's goroutine, which has nothing else
// to do; other sessions are not affected). Shutdown cuts the wait short.
func (a *Authenticator) failed(s *session.Session, who attempt, method, authID string, err error) {
	delay := a.limiter.fail(who)
	a.log.Info("authentication failed", "authmethod", method, "authid", authID, "remote", remoteString(s.Peer().Details()),
		"err", err, "delay", delay)
	a.pause(delay)
}

// pause waits d on the joining connection's goroutine; it reports false when the router's
// shutdown cut the wait short.
func (a *Authenticator) pause(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	var closing <-chan struct{}
	if a.opts.Closing != nil {
		closing = a.opts.Closing()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-closing:
		return false
	}
}

// authMethods reads HELLO.Details.authmethods.
func authMethods(details wamp.Dict) []string {
	list, _ := details["authmethods"].(wamp.List)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if m, ok := v.(string); ok {
			out = append(out, m)
		}
	}
	return out
}
