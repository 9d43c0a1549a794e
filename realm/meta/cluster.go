package meta

import (
	"cmp"
	"context"
	"slices"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Directory shares a realm's sessions, with their testaments, with the other nodes of its
// cluster (cluster.RealmSessions implements it), so that the session meta API and the kill
// family see the whole cluster, and a surviving node publishes the testaments of a dead
// node's sessions. Nil on a single node.
type Directory interface {
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

// ErrClusterUnavailable answers what a cluster node cannot do without its cluster.
const ErrClusterUnavailable wamp.URI = "pawl.error.cluster_unavailable"

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

// KillHere ends this node's sessions that k selects (except the caller's), for a kill another
// node was asked for; it returns their IDs.
func (api *API) KillHere(k Kill, caller wamp.ID) []wamp.ID {
	victims := api.sessions.Where(func(s *session.Session) bool { return s.ID != caller && k.selects(s) })
	if k.Silence {
		api.mu.Lock()
		for _, s := range victims {
			api.silenced[s] = true
		}
		api.mu.Unlock()
	}
	ids := make([]wamp.ID, len(victims))
	for i, s := range victims {
		api.log.Info("killing session (asked by another node)", "session", s.ID, "authid", s.AuthID, "reason", k.Reason)
		s.Goodbye(wamp.URI(k.Reason), k.Message)
		ids[i] = s.ID
	}
	return ids
}

// Gone publishes what a session of a node that died leaves behind: its testaments (as the
// router's publications: the session is gone), then wamp.session.on_leave with reason.
func (api *API) Gone(entry wamp.Dict, reason wamp.URI) {
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
		api.publisher.Publish(nil, &wamp.Publish{Request: 1, Options: opts, Topic: wamp.URI(topic),
			Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
	}
	if details != nil {
		api.publishMeta("wamp.session.on_leave", wamp.List{details["session"], details["authid"], details["authrole"]},
			wamp.Dict{"reason": string(reason)})
	}
}

// entry is a session's entry in the cluster's session directory.
func (api *API) entry(s *session.Session) wamp.Dict {
	var list wamp.List
	api.mu.Lock()
	if ts := api.testaments[s]; ts != nil {
		for _, t := range append(append([]testament(nil), ts.detached...), ts.destroyed...) {
			list = append(list, wamp.Dict{"topic": string(t.topic), "args": t.args, "kwargs": t.kwargs, "options": t.options})
		}
	}
	api.mu.Unlock()
	return wamp.Dict{"details": session.Describe(s), "testaments": list}
}

// announce tells the other nodes of a session, or of its changed testaments.
func (api *API) announce(s *session.Session) {
	if api.directory != nil {
		api.directory.Publish(s.ID, api.entry(s))
	}
}

// withdraw tells the other nodes a session left.
func (api *API) withdraw(s *session.Session) {
	if api.directory != nil {
		api.directory.Remove(s.ID)
	}
}

// remoteSessions are the other nodes' sessions' details that keep selects.
func (api *API) remoteSessions(keep func(details wamp.Dict) bool) []wamp.Dict {
	if api.directory == nil {
		return nil
	}
	var out []wamp.Dict
	api.directory.Each(func(entry wamp.Dict) {
		if details, ok := entry["details"].(wamp.Dict); ok && keep(details) {
			out = append(out, details)
		}
	})
	return out
}

// remoteKill runs a kill on the other nodes.
func (api *API) remoteKill(caller *session.Session, k Kill) ([]wamp.ID, error) {
	if api.directory == nil {
		return nil, nil
	}
	ids, err := api.directory.Kill(caller.Context(), k)
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

// sortIDs orders a list of session IDs.
func sortIDs(ids wamp.List) {
	slices.SortFunc(ids, func(a, b any) int {
		x, _ := wamp.AsID(a)
		y, _ := wamp.AsID(b)
		return cmp.Compare(x, y)
	})
}
