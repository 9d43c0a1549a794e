package realm

import (
	"sync/atomic"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Membership is a router's place in a cluster (cluster.Node implements it): session IDs
// unique across the cluster's nodes, and whether this node may serve at all. A router
// without one (the default) is a single node.
type Membership interface {
	// SessionID draws a session ID no other node hands out; 0 when the node cannot.
	SessionID() wamp.ID
	// Err is nil while the node serves; else new sessions are refused with
	// ErrClusterUnavailable and the error's text.
	Err() error
}

// ErrClusterUnavailable is the ABORT (and ERROR) URI of a node cut off from its cluster: it
// refuses new work rather than serve a split view.
const ErrClusterUnavailable wamp.URI = "pawl.error.cluster_unavailable"

// SetMembership makes the router a node of a cluster. Call it before serving.
func (rt *Router) SetMembership(m Membership) { rt.members = m }

// admitToCluster refuses a new session while the node is cut off, and gives it a
// cluster-wide ID otherwise.
func (rt *Router) admitToCluster(s *session.Session) error {
	if err := rt.members.Err(); err != nil {
		rt.log.Warn("session refused: this node is cut off from its cluster", "err", err)
		clusterRefusals.Add(1)
		return &session.AbortError{Reason: ErrClusterUnavailable, Message: err.Error()}
	}
	s.ID = rt.members.SessionID()
	return nil
}

// newSessionID draws a session ID: the cluster's when the router is a node, else a random one.
func (r *Realm) newSessionID() wamp.ID {
	if r.router != nil && r.router.members != nil {
		if id := r.router.members.SessionID(); id != 0 {
			return id
		}
	}
	return wamp.GlobalID()
}

// clusterRefusals counts sessions refused because the node was cut off from its cluster.
var clusterRefusals atomic.Int64

// ClusterRefusals is the number of sessions refused because this node was cut off from its
// cluster.
func ClusterRefusals() int64 { return clusterRefusals.Load() }

// CloseAll ends every remote peer's session in every realm with an ABORT of reason: a node
// cut off from its cluster has been called down by the others, which dropped its sessions'
// subscriptions and registrations and published their testaments. In-process sessions (the
// router's own, the HTTP bridge's) stay.
func (rt *Router) CloseAll(reason wamp.URI, message string) {
	rt.mu.RLock()
	realms := make([]*Realm, 0, len(rt.realms))
	for _, r := range rt.realms {
		realms = append(realms, r)
	}
	rt.mu.RUnlock()
	for _, r := range realms {
		sessions := r.sessions.Where(func(s *session.Session) bool { return rt.localPeer(s) == nil })
		for _, s := range sessions {
			s.Abort(reason, message)
		}
	}
}
