package realm

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Router holds the realms and admits sessions to them: it is the session layer's Gate.
type Router struct {
	log     *slog.Logger
	mu      sync.RWMutex
	realms  map[wamp.URI]*Realm
	servers []*session.Host
	local   localState // in-process clients and the router's own sessions (local.go)
	members Membership // the cluster this router is a node of, or nil (cluster.go)
}

// NewRouter returns a router serving the given realms.
func NewRouter(log *slog.Logger, realms ...*Realm) *Router {
	if log == nil {
		log = slog.Default()
	}
	rt := &Router{log: log, realms: make(map[wamp.URI]*Realm)}
	for _, r := range realms {
		rt.realms[r.Name()] = r
		r.router = rt
	}
	return rt
}

// AddRealm adds (or replaces) a realm.
func (rt *Router) AddRealm(r *Realm) {
	rt.mu.Lock()
	rt.realms[r.Name()] = r
	r.router = rt
	rt.mu.Unlock()
}

// Realm returns a realm by name.
func (rt *Router) Realm(name wamp.URI) (*Realm, bool) {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	r, ok := rt.realms[name]
	return r, ok
}

// Join admits a session to the realm its HELLO names.
func (rt *Router) Join(s *session.Session) (session.Domain, wamp.Dict, error) {
	r, ok := rt.Realm(s.Realm)
	if !ok {
		return nil, nil, &session.AbortError{Reason: wamp.ErrNoSuchRealm, Message: fmt.Sprintf("no realm %q on this router", s.Realm)}
	}
	s.ID = wamp.GlobalID() // known before WELCOME: a WAMP-CRA challenge names it
	if rt.members != nil {
		if err := rt.admitToCluster(s); err != nil {
			return nil, nil, err
		}
	}
	s.SetTraffic(&r.traffic)
	authextra, err := r.authenticate(s)
	r.countAuth(s, err)
	if err != nil {
		return nil, nil, err
	}
	r.join(s)
	rt.log.Debug("session joined", "realm", r.Name(), "session", s.ID, "authid", s.AuthID, "authrole", s.AuthRole,
		"authmethod", s.AuthMethod)
	welcome := r.welcomeDetails(s)
	if authextra != nil {
		welcome["authextra"] = authextra
	}
	return r, welcome, nil
}
