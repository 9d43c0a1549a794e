package session

import (
	"log/slog"

	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// Remote describes a session that lives on another node of a cluster, for NewRemote.
type Remote struct {
	ID       wamp.ID
	Realm    wamp.URI
	AuthID   string
	AuthRole string
	// Details are its HELLO details (agent and the like); Roles the roles it announced, as
	// Roles returns them.
	Details wamp.Dict
	Roles   wamp.Dict
}

// NewRemote makes the stand-in of another node's session: the dealer of the node that serves
// that session's calls sees it as the caller (its ID, authid, authrole and features are the
// real session's), and what it sends goes to p, which carries it back to the session's node.
// It never reads: p.Read is not called.
func NewRemote(r Remote, codec wamp.Codec, p peer.Peer, log *slog.Logger) *Session {
	if log == nil {
		log = slog.Default()
	}
	s := &Session{ID: r.ID, Realm: r.Realm, AuthID: r.AuthID, AuthRole: r.AuthRole, Details: r.Details,
		Codec: codec, peer: p, log: log, features: featuresOf(r.Roles)}
	s.state.Store(stateEstablished)
	return s
}

// Roles are the roles and features the session announced (those announced true), in HELLO's
// shape: {"caller": {"features": {"call_canceling": true}}, ...}.
func (s *Session) Roles() wamp.Dict {
	out := wamp.Dict{}
	if s.features == nil {
		return out
	}
	for role, fs := range s.features.roles {
		f := wamp.Dict{}
		for name := range fs {
			f[name] = true
		}
		out[role] = wamp.Dict{"features": f}
	}
	return out
}
