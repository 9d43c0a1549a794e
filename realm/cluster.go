package realm

import (
	"context"
	"slices"
	"sync/atomic"

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
		r.mu.RLock()
		sessions := make([]*session.Session, 0, len(r.sessions))
		for _, s := range r.sessions {
			if rt.localPeer(s) == nil {
				sessions = append(sessions, s)
			}
		}
		r.mu.RUnlock()
		for _, s := range sessions {
			s.Abort(reason, message)
		}
	}
}

// SessionDirectory shares a realm's sessions, with their testaments, with the other nodes of
// its cluster (cluster.RealmSessions implements it), so that the session meta API and the
// kill family see the whole cluster, and a surviving node publishes the testaments of a dead
// node's sessions. Set it as Config.Sessions; one with an Attach(*Realm) method is attached
// to the realm New builds.
type SessionDirectory interface {
	// Publish announces one of this node's sessions, or its changed testaments: entry is
	// {details: as wamp.session.get gives them, testaments: [{topic, args, kwargs, options}]}.
	Publish(id wamp.ID, entry wamp.Dict)
	// Remove withdraws a session that left.
	Remove(id wamp.ID)
	// Each calls f for every session of the other nodes, with its entry.
	Each(f func(entry wamp.Dict))
	// Kill asks the other nodes to end their sessions that k selects, and returns their IDs.
	Kill(ctx context.Context, k Kill) ([]wamp.ID, error)
}

// Kill selects sessions for the kill family across nodes, and says how they end.
type Kill struct {
	Session  wamp.ID `msgpack:"s"`
	AuthID   string  `msgpack:"i"`
	AuthRole string  `msgpack:"r"`
	All      bool    `msgpack:"a"`
	Reason   string  `msgpack:"re"`
	Message  string  `msgpack:"m"`
	Silence  bool    `msgpack:"si"`
}

func (k *Kill) selects(s *session.Session) bool {
	switch {
	case k.Session != 0:
		return s.ID == k.Session
	case k.AuthID != "":
		return s.AuthID == k.AuthID
	case k.AuthRole != "":
		return s.AuthRole == k.AuthRole
	}
	return k.All
}

// KillHere ends this node's sessions that k selects (except the caller's, when it is here),
// for a kill another node was asked for; it returns their IDs.
func (r *Realm) KillHere(k Kill, caller wamp.ID) []wamp.ID {
	victims := r.sessionsWhere(func(s *session.Session) bool { return s.ID != caller && k.selects(s) })
	if k.Silence {
		r.lmu.Lock()
		for _, s := range victims {
			r.silenced[s] = true
		}
		r.lmu.Unlock()
	}
	ids := make([]wamp.ID, len(victims))
	for i, s := range victims {
		r.log.Info("killing session (asked by another node)", "session", s.ID, "authid", s.AuthID, "reason", k.Reason)
		s.Goodbye(wamp.URI(k.Reason), k.Message)
		ids[i] = s.ID
	}
	return ids
}

// Gone publishes what a session of a node that died leaves behind: its testaments (as the
// router's publications: the session is gone), then wamp.session.on_leave with reason.
func (r *Realm) Gone(entry wamp.Dict, reason wamp.URI) {
	details, _ := entry["details"].(wamp.Dict)
	testaments, _ := entry["testaments"].(wamp.List)
	for _, v := range testaments {
		t, _ := v.(wamp.Dict)
		topic, _ := t.String("topic")
		if topic == "" {
			continue
		}
		args, _ := t["args"].(wamp.List)
		kwargs, _ := t["kwargs"].(wamp.Dict)
		opts, _ := t["options"].(wamp.Dict)
		if opts == nil {
			opts = wamp.Dict{}
		}
		r.broker.Publish(nil, &wamp.Publish{Request: 1, Options: opts, Topic: wamp.URI(topic),
			Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
	}
	if details != nil {
		r.PublishMeta("wamp.session.on_leave", wamp.List{details["session"], details["authid"], details["authrole"]},
			wamp.Dict{"reason": string(reason)})
	}
}

// clusterEntry is a session's entry in the cluster's session directory.
func (r *Realm) clusterEntry(s *session.Session) wamp.Dict {
	var list wamp.List
	r.lmu.Lock()
	if ts := r.testaments[s]; ts != nil {
		for _, t := range append(append([]testament(nil), ts.detached...), ts.destroyed...) {
			list = append(list, wamp.Dict{"topic": string(t.topic), "args": t.args, "kwargs": t.kwargs, "options": t.options})
		}
	}
	r.lmu.Unlock()
	return wamp.Dict{"details": sessionDetails(s), "testaments": list}
}

// clusterJoined announces a session (or its changed testaments) to the other nodes.
func (r *Realm) clusterJoined(s *session.Session) {
	if d := r.config.Sessions; d != nil {
		d.Publish(s.ID, r.clusterEntry(s))
	}
}

// clusterLeft withdraws a session from the other nodes.
func (r *Realm) clusterLeft(s *session.Session) {
	if d := r.config.Sessions; d != nil {
		d.Remove(s.ID)
	}
}

// remoteSessions are the other nodes' sessions' details that keep selects.
func (r *Realm) remoteSessions(keep func(details wamp.Dict) bool) []wamp.Dict {
	d := r.config.Sessions
	if d == nil {
		return nil
	}
	var out []wamp.Dict
	d.Each(func(entry wamp.Dict) {
		if details, ok := entry["details"].(wamp.Dict); ok && keep(details) {
			out = append(out, details)
		}
	})
	return out
}

// remoteKill runs a kill on the other nodes.
func (r *Realm) remoteKill(caller *session.Session, k Kill) ([]wamp.ID, error) {
	d := r.config.Sessions
	if d == nil {
		return nil, nil
	}
	ids, err := d.Kill(caller.Context(), k)
	if err != nil {
		return ids, wamp.NewError(ErrClusterUnavailable, "not every node answered: "+err.Error())
	}
	return ids, nil
}

func remoteWithAuthrole(roles []string) func(wamp.Dict) bool {
	return func(d wamp.Dict) bool {
		role, _ := d.String("authrole")
		return roles == nil || slices.Contains(roles, role)
	}
}

func remoteWithID(id wamp.ID) func(wamp.Dict) bool {
	return func(d wamp.Dict) bool {
		got, _ := wamp.AsID(d["session"])
		return got == id
	}
}

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
		if n := clusterRefusals.Add(1); n&(n-1) == 0 {
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
