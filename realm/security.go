package realm

import (
	"context"

	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/realm/internal/dynamic"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// security is a realm's authentication and authorization state, built from its Config. It
// is never changed once built: Reconfigure builds a new one and swaps it in, so a handshake
// or an authorization sees one consistent configuration.
type security struct {
	cfg   Config // what it was built from
	authn *authn.Authenticator
	authz *authz.Authorizer
}

// sec is the realm's current authentication and authorization state.
func (r *Realm) sec() *security { return r.secState.Load() }

// authorizer is the realm's current authorization (authz.Guard asks for it per request).
func (r *Realm) authorizer() *authz.Authorizer { return r.secState.Load().authz }

// initSecurity builds the realm's security state and wraps its dispatch table with the
// authorization checks.
func (r *Realm) initSecurity() {
	r.secState.Store(r.newSecurity(r.config, nil))
	authz.Guard(&r.handlers, r.authorizer)
}

// newSecurity builds the authenticator and authorizer of a configuration. old is the state
// it replaces (nil at first): its rate limiter carries over while its settings stay.
func (r *Realm) newSecurity(cfg Config, old *security) *security {
	var oldAuthn *authn.Authenticator
	if old != nil {
		oldAuthn = old.authn
	}
	var reserved []wamp.URI
	if d := cfg.Auth.Dynamic; d != nil {
		reserved = append(reserved, d.Procedure)
	}
	caller := systemCaller{r}
	return &security{cfg: cfg,
		authn: authn.New(authn.Options{Realm: cfg.Name, Config: cfg.Auth, Anonymous: cfg.anonymousAllowed(),
			AnonymousRole: cfg.anonymousRole(), Caller: caller, Closing: r.closing, Logger: r.log}, oldAuthn),
		authz: authz.New(authz.Options{Realm: cfg.Name, Roles: cfg.Roles, Reserved: reserved, Caller: caller, Logger: r.log}),
	}
}

// authenticate decides who the peer is and fills in the session's auth fields; it returns
// the WELCOME's authextra. The router's in-process clients are admitted by who opened them
// (local.go); every other peer by the realm's authenticator.
func (r *Realm) authenticate(s *session.Session) (wamp.Dict, error) {
	if lp := r.router.localPeer(s); lp != nil {
		if lp.role != "" { // a service client: authorized as its role, never trusted by method
			s.AuthID, s.AuthRole, s.AuthMethod, s.AuthProvider = lp.authID, lp.role, "local", "local"
			return nil, nil
		}
		s.AuthID, s.AuthRole, s.AuthMethod, s.AuthProvider = lp.authID, TrustedRole, authz.TrustedMethod, "local"
		return nil, nil
	}
	return r.sec().authn.Authenticate(s)
}

// systemCaller calls dynamic authenticators and authorizers through the router's own
// trusted session in the realm (local.go).
type systemCaller struct{ r *Realm }

func (c systemCaller) Call(ctx context.Context, proc wamp.URI, args wamp.List) (wamp.List, error) {
	r := c.r
	if r.router == nil {
		return nil, dynamic.ErrNoRouter
	}
	cl, err := r.router.systemClient(ctx, r.Name())
	if err != nil {
		return nil, err
	}
	res, err := cl.Call(ctx, proc, nil, args, nil)
	if err != nil {
		return nil, err
	}
	return res.Args, nil
}
