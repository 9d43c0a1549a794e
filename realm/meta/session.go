package meta

import (
	"slices"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Joined publishes wamp.session.on_join for a session that just joined.
func (api *API) Joined(s *session.Session) {
	api.announce(s) // before on_join: a node hearing it can look the session up
	api.publishMeta("wamp.session.on_join", wamp.List{session.Describe(s)}, nil)
}

// Left publishes wamp.session.on_leave [session, authid, authrole] for a session that left,
// with kwargs {reason} when the router ended it (e.g. pawl.close.slow_consumer,
// wamp.close.killed), and forgets what the realm kept about it.
func (api *API) Left(s *session.Session) {
	api.withdraw(s)
	api.mu.Lock()
	silenced := api.silenced[s]
	delete(api.silenced, s)
	delete(api.testaments, s)
	api.mu.Unlock()
	if silenced {
		return
	}
	var kwargs wamp.Dict
	if reason := s.LeaveReason(); reason != "" {
		kwargs = wamp.Dict{"reason": string(reason)}
	}
	api.publishMeta("wamp.session.on_leave", wamp.List{s.ID, s.AuthID, s.AuthRole}, kwargs)
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

func withAuthrole(roles []string) func(*session.Session) bool {
	return func(s *session.Session) bool { return roles == nil || slices.Contains(roles, s.AuthRole) }
}

// wamp.session.count [filter_authroles?] → count
func (api *API) metaSessionCount(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	roles, err := authroleFilter(args)
	if err != nil {
		return nil, nil, err
	}
	n := len(api.sessions.Where(withAuthrole(roles))) + len(api.remoteSessions(remoteWithAuthrole(roles)))
	return wamp.List{int64(n)}, nil, nil
}

// wamp.session.list [filter_authroles?] → [session IDs]
func (api *API) metaSessionList(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	roles, err := authroleFilter(args)
	if err != nil {
		return nil, nil, err
	}
	ids := sessionIDs(api.sessions.Where(withAuthrole(roles)))
	if remote := api.remoteSessions(remoteWithAuthrole(roles)); len(remote) > 0 {
		for _, d := range remote {
			ids = append(ids, d["session"])
		}
		sortIDs(ids)
	}
	return wamp.List{ids}, nil, nil
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
func (api *API) metaSessionGet(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	id, err := sessionArg(args)
	if err != nil {
		return nil, nil, err
	}
	s, ok := api.sessions.Session(id)
	if !ok {
		if remote := api.remoteSessions(remoteWithID(id)); len(remote) > 0 {
			return wamp.List{remote[0]}, nil, nil
		}
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
func (api *API) kill(caller *session.Session, kwargs wamp.Dict, silence bool, pick func(*session.Session) bool) ([]*session.Session, error) {
	killed, _, err := api.killAcross(caller, kwargs, silence, pick, Kill{})
	return killed, err
}

// killAcross is kill on this node and, on a cluster node when remote selects something, on
// the other nodes too; it returns the local victims and the other nodes' IDs.
func (api *API) killAcross(caller *session.Session, kwargs wamp.Dict, silence bool, pick func(*session.Session) bool, remote Kill) ([]*session.Session, []wamp.ID, error) {
	if err := api.mayKill(caller); err != nil {
		return nil, nil, err
	}
	reason, message, err := killOptions(kwargs)
	if err != nil {
		return nil, nil, err
	}
	var far []wamp.ID
	if remote != (Kill{}) {
		remote.Reason, remote.Message, remote.Silence = string(reason), message, silence
		if far, err = api.remoteKill(caller, remote); err != nil {
			return nil, far, err
		}
	}
	victims := api.sessions.Where(func(s *session.Session) bool { return s != caller && pick(s) })
	if silence {
		api.mu.Lock()
		for _, s := range victims {
			api.silenced[s] = true
		}
		api.mu.Unlock()
	}
	for _, s := range victims {
		api.log.Info("killing session", "session", s.ID, "authid", s.AuthID, "reason", reason, "by", caller.ID)
		s.Goodbye(reason, message)
	}
	return victims, far, nil
}

// mayKill refuses the kill family when the realm disables it, and to sessions of the
// anonymous role unless the realm's anonymous_session_kill allows them: anyone may join as
// anonymous, so by default nobody who merely joined can end everyone else's sessions.
func (api *API) mayKill(caller *session.Session) error {
	cfg := api.settings() // the realm's current configuration (Reconfigure)
	if cfg.DisableSessionKill {
		return wamp.NewError(wamp.ErrNotAuthorized, "killing sessions is disabled in this realm")
	}
	if caller.AuthRole == cfg.AnonymousRole && !cfg.AnonymousSessionKill && !api.authorizer().Trusted(caller) {
		if n := api.refusals.AnonymousKills.Add(1); n&(n-1) == 0 { // logged at 1, 2, 4, ...
			api.log.Warn("limit: refused wamp.session.kill* to an anonymous session (anonymous_session_kill is false)",
				"session", caller.ID, "authid", caller.AuthID, "refused_so_far", n)
		}
		return wamp.NewError(wamp.ErrNotAuthorized, "sessions of the anonymous role may not kill sessions in this realm (anonymous_session_kill)")
	}
	return nil
}

// wamp.session.kill [session] {reason, message}
func (api *API) metaSessionKill(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	id, err := sessionArg(args)
	if err != nil {
		return nil, nil, err
	}
	if err := api.mayKill(caller); err != nil {
		return nil, nil, err
	}
	if id == caller.ID {
		return nil, nil, wamp.NewError(wamp.ErrNoSuchSession, "no other session with that ID in this realm")
	}
	if _, ok := api.sessions.Session(id); !ok {
		if len(api.remoteSessions(remoteWithID(id))) == 0 {
			return nil, nil, wamp.NewError(wamp.ErrNoSuchSession, "no other session with that ID in this realm")
		}
		_, _, err := api.killAcross(caller, kwargs, false, func(*session.Session) bool { return false }, Kill{Session: id})
		return nil, nil, err
	}
	if _, err := api.kill(caller, kwargs, false, func(s *session.Session) bool { return s.ID == id }); err != nil {
		return nil, nil, err
	}
	return nil, nil, nil
}

// wamp.session.kill_by_authid [authid] {reason, message} → [killed session IDs]
func (api *API) metaSessionKillByAuthID(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	authid, err := stringArg(args, "authid")
	if err != nil {
		return nil, nil, err
	}
	killed, far, err := api.killAcross(caller, kwargs, false, func(s *session.Session) bool { return s.AuthID == authid }, Kill{AuthID: authid})
	if err != nil {
		return nil, nil, err
	}
	ids := sessionIDs(killed)
	for _, id := range far {
		ids = append(ids, id)
	}
	return wamp.List{ids}, nil, nil
}

// wamp.session.kill_by_authrole [authrole] {reason, message} → count
func (api *API) metaSessionKillByAuthRole(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	authrole, err := stringArg(args, "authrole")
	if err != nil {
		return nil, nil, err
	}
	killed, far, err := api.killAcross(caller, kwargs, false, func(s *session.Session) bool { return s.AuthRole == authrole }, Kill{AuthRole: authrole})
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{int64(len(killed) + len(far))}, nil, nil
}

// wamp.session.kill_all {reason, message} → count. As the spec says, the sessions killed
// leave without session meta events or testaments.
func (api *API) metaSessionKillAll(caller *session.Session, _ wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	killed, far, err := api.killAcross(caller, kwargs, true, func(*session.Session) bool { return true }, Kill{All: true})
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{int64(len(killed) + len(far))}, nil, nil
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
