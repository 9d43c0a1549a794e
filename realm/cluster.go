package realm

import (
	"github.com/pawl-wamp/pawl/realm/meta"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/dispatch"
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
		LimitStats.ClusterUnavailable.Add(1)
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

// ClusterRefusals is the number of sessions and requests refused because this node was cut
// off from its cluster (LimitStats.ClusterUnavailable, pawl_limit_refusals_total{limit="cluster_unavailable"}).
func ClusterRefusals() int64 { return LimitStats.ClusterUnavailable.Load() }

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

// SessionDirectory shares a realm's sessions, with their testaments, with the other nodes of
// its cluster (cluster.RealmSessions implements it; see meta.Directory). Set it as
// Config.Sessions; one with an Attach(*Realm) method is attached to the realm New builds.
type SessionDirectory = meta.Directory

// Kill selects sessions for the kill family across nodes (meta.Kill).
type Kill = meta.Kill

// KillHere ends this node's sessions that k selects (except the caller's), for a kill another
// node was asked for; it returns their IDs.
func (r *Realm) KillHere(k Kill, caller wamp.ID) []wamp.ID { return r.sessionMeta.KillHere(k, caller) }

// Gone publishes what a session of a node that died leaves behind: its testaments, then
// wamp.session.on_leave with reason.
func (r *Realm) Gone(entry wamp.Dict, reason wamp.URI) { r.sessionMeta.Gone(entry, reason) }

// initCluster makes a realm of a cluster node refuse new work (SUBSCRIBE, PUBLISH, REGISTER,
// CALL) while the node is cut off, with ERROR pawl.error.cluster_unavailable: it would serve a
// split view. Only realms of a cluster (Config.Sessions set) get the check.
func (r *Realm) initCluster() {
	if r.config.Sessions == nil {
		return
	}
	h := &r.handlers
	refused := func(s *session.Session, typ wamp.MessageType, req wamp.ID, answer bool) bool {
		rt := r.router
		if rt == nil || rt.members == nil {
			return false
		}
		err := rt.members.Err()
		if err == nil {
			return false
		}
		if n := LimitStats.ClusterUnavailable.Add(1); n&(n-1) == 0 {
			r.log.Warn("refused: this node is cut off from its cluster", "session", s.ID, "message", typ.String(), "err", err, "refused_so_far", n)
		}
		if answer {
			s.SendError(typ, req, ErrClusterUnavailable, err.Error())
		}
		return true
	}
	if next, ok := h.Lookup(wamp.TypeSubscribe); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Subscribe) {
			if !refused(s, wamp.TypeSubscribe, m.Request, true) {
				next(s, m)
			}
		})
	}
	if next, ok := h.Lookup(wamp.TypePublish); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Publish) {
			ack, _ := m.Options.Bool("acknowledge")
			if !refused(s, wamp.TypePublish, m.Request, ack) {
				next(s, m)
			}
		})
	}
	if next, ok := h.Lookup(wamp.TypeRegister); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Register) {
			if !refused(s, wamp.TypeRegister, m.Request, true) {
				next(s, m)
			}
		})
	}
	if next, ok := h.Lookup(wamp.TypeCall); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Call) {
			if !refused(s, wamp.TypeCall, m.Request, true) {
				next(s, m)
			}
		})
	}
}
