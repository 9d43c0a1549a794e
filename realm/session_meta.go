package realm

import (
	"slices"
	"sync"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// lifecycle is the realm's part of the session meta API and the testament meta API: the
// state they keep about sessions beyond the realm's session table, and the features the realm
// announces.
type lifecycle struct {
	brokerFeatures wamp.Dict
	dealerFeatures wamp.Dict

	lmu        sync.Mutex
	testaments map[*session.Session]*testaments
	// silenced sessions leave without testaments or meta events (wamp.session.kill_all).
	silenced map[*session.Session]bool
}

// initLifecycle adds the broker's meta procedures, the session and testament meta API, and
// builds the features WELCOME announces.
func (r *Realm) initLifecycle() {
	r.testaments = make(map[*session.Session]*testaments)
	r.silenced = make(map[*session.Session]bool)
	for uri, f := range r.broker.MetaProcedures() {
		r.meta[uri] = f
	}
	procs := map[wamp.URI]session.LocalProcedure{
		"wamp.session.count":            r.metaSessionCount,
		"wamp.session.list":             r.metaSessionList,
		"wamp.session.get":              r.metaSessionGet,
		"wamp.session.kill":             r.metaSessionKill,
		"wamp.session.kill_by_authid":   r.metaSessionKillByAuthID,
		"wamp.session.kill_by_authrole": r.metaSessionKillByAuthRole,
		"wamp.session.kill_all":         r.metaSessionKillAll,
		"wamp.session.add_testament":    r.metaAddTestament,
		"wamp.session.flush_testaments": r.metaFlushTestaments,
	}
	for uri, f := range procs {
		r.meta[uri] = f
	}
	r.guardHistory()
	// The session meta API needs both roles and is announced by both; the testament meta API
	// is a dealer feature in the spec and a broker one in practice (the broker publishes).
	realmFeatures := wamp.Dict{"session_meta_api": true, "testament_meta_api": true}
	r.brokerFeatures = mergeFeatures(r.broker.Features(), realmFeatures)
	r.dealerFeatures = mergeFeatures(r.dealer.Features(), realmFeatures)
}

// guardHistory makes the event history readable only by sessions that may subscribe to the
// topic or pattern asked about, as the spec's event history section requires (the right to
// call the procedure itself is checked like any call).
func (r *Realm) guardHistory() {
	if f, ok := r.meta["wamp.subscription.get_events"]; ok {
		get := r.meta["wamp.subscription.get"]
		r.meta["wamp.subscription.get_events"] = func(s *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
			res, _, err := get(s, args, nil)
			if err != nil {
				return nil, nil, err
			}
			d, _ := res[0].(wamp.Dict)
			uri, _ := d.String("uri")
			match, _ := d.String("match")
			if dec := r.authorizer().Authorize(s, authz.ActionSubscribe, wamp.URI(uri), match, nil); !dec.Allow {
				return nil, nil, wamp.NewError(dec.Reason, dec.Message)
			}
			return f(s, args, kwargs)
		}
	}
	if f, ok := r.meta[pubsub.TopicEventsProcedure]; ok {
		r.meta[pubsub.TopicEventsProcedure] = func(s *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
			if len(args) > 0 {
				topic, _ := args[0].(string)
				match := wamp.MatchExact
				if len(args) > 1 {
					if opts, ok := args[1].(wamp.Dict); ok {
						match = authz.MatchOf(opts)
					}
				}
				if dec := r.authorizer().Authorize(s, authz.ActionSubscribe, wamp.URI(topic), match, nil); !dec.Allow {
					return nil, nil, wamp.NewError(dec.Reason, dec.Message)
				}
			}
			return f(s, args, kwargs)
		}
	}
}

func mergeFeatures(maps ...wamp.Dict) wamp.Dict {
	out := wamp.Dict{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// joined publishes wamp.session.on_join for a session that just joined.
func (r *Realm) joined(s *session.Session) {
	r.PublishMeta("wamp.session.on_join", wamp.List{session.Describe(s)}, nil)
}

// left publishes wamp.session.on_leave [session, authid, authrole] for a session that left,
// with kwargs {reason} when the router ended it (e.g. pawl.close.slow_consumer,
// wamp.close.killed), and forgets what the realm kept about it.
func (r *Realm) left(s *session.Session) {
	r.lmu.Lock()
	silenced := r.silenced[s]
	delete(r.silenced, s)
	delete(r.testaments, s)
	r.lmu.Unlock()
	if silenced {
		return
	}
	var kwargs wamp.Dict
	if reason := s.LeaveReason(); reason != "" {
		kwargs = wamp.Dict{"reason": string(reason)}
	}
	r.PublishMeta("wamp.session.on_leave", wamp.List{s.ID, s.AuthID, s.AuthRole}, kwargs)
}

// authroleFilter reads the optional first positional argument filter_authroles|list[string].
func authroleFilter(args wamp.List) ([]string, error) {
	if len(args) == 0 || args[0] == nil {
		return nil, nil
	}
	list, ok := args[0].(wamp.List)
	if !ok {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, "filter_authroles must be a list of strings")
	}
	roles := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, wamp.NewError(wamp.ErrInvalidArgument, "filter_authroles must be a list of strings")
		}
		roles = append(roles, s)
	}
	return roles, nil
}

// sessionsWhere returns the joined sessions for which keep is true, by ID.
func (r *Realm) sessionsWhere(keep func(*session.Session) bool) []*session.Session {
	r.mu.RLock()
	var out []*session.Session
	for _, s := range r.sessions {
		if keep(s) {
			out = append(out, s)
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *session.Session) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func withAuthrole(roles []string) func(*session.Session) bool {
	return func(s *session.Session) bool { return roles == nil || slices.Contains(roles, s.AuthRole) }
}

// wamp.session.count [filter_authroles?] → count
func (r *Realm) metaSessionCount(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	roles, err := authroleFilter(args)
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{int64(len(r.sessionsWhere(withAuthrole(roles))))}, nil, nil
}

// wamp.session.list [filter_authroles?] → [session IDs]
func (r *Realm) metaSessionList(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	roles, err := authroleFilter(args)
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{sessionIDs(r.sessionsWhere(withAuthrole(roles)))}, nil, nil
}

func sessionIDs(list []*session.Session) wamp.List {
	ids := make(wamp.List, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

func sessionArg(args wamp.List) (wamp.ID, error) {
	if len(args) < 1 {
		return 0, wamp.NewError(wamp.ErrInvalidArgument, "missing session ID argument")
	}
	id, ok := wamp.AsID(args[0])
	if !ok {
		return 0, wamp.NewError(wamp.ErrInvalidArgument, "session ID must be an integer in 1..2^53")
	}
	return id, nil
}

// wamp.session.get [session] → details
func (r *Realm) metaSessionGet(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	id, err := sessionArg(args)
	if err != nil {
		return nil, nil, err
	}
	s, ok := r.Session(id)
	if !ok {
		return nil, nil, wamp.NewError(wamp.ErrNoSuchSession, "no session with that ID in this realm")
	}
	return wamp.List{session.Describe(s)}, nil, nil
}

// killOptions reads the kill family's keyword arguments reason|uri and message|string.
func killOptions(kwargs wamp.Dict) (wamp.URI, string, error) {
	reason := wamp.CloseKilled
	if v, ok := kwargs["reason"]; ok && v != nil {
		s, isString := v.(string)
		if !isString || !wamp.ValidURI(wamp.URI(s), false, false) {
			return "", "", wamp.NewError(wamp.ErrInvalidURI, "reason must be a non-empty URI")
		}
		reason = wamp.URI(s)
	}
	message := ""
	if v, ok := kwargs["message"]; ok && v != nil {
		s, isString := v.(string)
		if !isString {
			return "", "", wamp.NewError(wamp.ErrInvalidArgument, "message must be a string")
		}
		message = s
	}
	return reason, message, nil
}

// kill runs a kill procedure: checks that the realm allows it, reads the options, and says
// GOODBYE to every session selected (never the caller).
func (r *Realm) kill(caller *session.Session, kwargs wamp.Dict, silence bool, pick func(*session.Session) bool) ([]*session.Session, error) {
	if err := r.mayKill(caller); err != nil {
		return nil, err
	}
	reason, message, err := killOptions(kwargs)
	if err != nil {
		return nil, err
	}
	victims := r.sessionsWhere(func(s *session.Session) bool { return s != caller && pick(s) })
	if silence {
		r.lmu.Lock()
		for _, s := range victims {
			r.silenced[s] = true
		}
		r.lmu.Unlock()
	}
	for _, s := range victims {
		r.log.Info("killing session", "session", s.ID, "authid", s.AuthID, "reason", reason, "by", caller.ID)
		s.Goodbye(reason, message)
	}
	return victims, nil
}

// mayKill refuses the kill family when the realm disables it, and to sessions of the
// anonymous role unless the realm's anonymous_session_kill allows them: anyone may join as
// anonymous, so by default nobody who merely joined can end everyone else's sessions.
func (r *Realm) mayKill(caller *session.Session) error {
	cfg := &r.sec().cfg // the realm's current configuration (Reconfigure)
	if cfg.DisableSessionKill {
		return wamp.NewError(wamp.ErrNotAuthorized, "killing sessions is disabled in this realm")
	}
	if caller.AuthRole == cfg.anonymousRole() && !cfg.AnonymousSessionKill && !r.authorizer().Trusted(caller) {
		if n := LimitStats.AnonymousKills.Add(1); n&(n-1) == 0 { // logged at 1, 2, 4, ...
			r.log.Warn("limit: refused wamp.session.kill* to an anonymous session (anonymous_session_kill is false)",
				"session", caller.ID, "authid", caller.AuthID, "refused_so_far", n)
		}
		return wamp.NewError(wamp.ErrNotAuthorized, "sessions of the anonymous role may not kill sessions in this realm (anonymous_session_kill)")
	}
	return nil
}

// wamp.session.kill [session] {reason, message}
func (r *Realm) metaSessionKill(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	id, err := sessionArg(args)
	if err != nil {
		return nil, nil, err
	}
	if err := r.mayKill(caller); err != nil {
		return nil, nil, err
	}
	if _, ok := r.Session(id); !ok || id == caller.ID {
		return nil, nil, wamp.NewError(wamp.ErrNoSuchSession, "no other session with that ID in this realm")
	}
	if _, err := r.kill(caller, kwargs, false, func(s *session.Session) bool { return s.ID == id }); err != nil {
		return nil, nil, err
	}
	return nil, nil, nil
}

// wamp.session.kill_by_authid [authid] {reason, message} → [killed session IDs]
func (r *Realm) metaSessionKillByAuthID(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	authid, err := stringArg(args, "authid")
	if err != nil {
		return nil, nil, err
	}
	killed, err := r.kill(caller, kwargs, false, func(s *session.Session) bool { return s.AuthID == authid })
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{sessionIDs(killed)}, nil, nil
}

// wamp.session.kill_by_authrole [authrole] {reason, message} → count
func (r *Realm) metaSessionKillByAuthRole(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	authrole, err := stringArg(args, "authrole")
	if err != nil {
		return nil, nil, err
	}
	killed, err := r.kill(caller, kwargs, false, func(s *session.Session) bool { return s.AuthRole == authrole })
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{int64(len(killed))}, nil, nil
}

// wamp.session.kill_all {reason, message} → count. As the spec says, the sessions killed
// leave without session meta events or testaments.
func (r *Realm) metaSessionKillAll(caller *session.Session, _ wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	killed, err := r.kill(caller, kwargs, true, func(*session.Session) bool { return true })
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{int64(len(killed))}, nil, nil
}

func stringArg(args wamp.List, name string) (string, error) {
	if len(args) < 1 {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "missing "+name+" argument")
	}
	s, ok := args[0].(string)
	if !ok {
		return "", wamp.NewError(wamp.ErrInvalidArgument, name+" must be a string")
	}
	return s, nil
}
