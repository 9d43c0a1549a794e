package realm

import (
	"errors"

	"github.com/pawl-wamp/pawl/realm/meta"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// handleCall serves the router's own meta procedures and hands every other call to the dealer.
func (r *Realm) handleCall(s *session.Session, m *wamp.Call) {
	f, ok := r.procs[m.Procedure]
	if !ok {
		r.dealer.Call(s, m)
		return
	}
	args, kwargs, err := m.Payload.Values()
	if err == nil {
		args, kwargs, err = f(s, args, kwargs)
	}
	if err != nil {
		var ae *wamp.ApplicationError
		if !errors.As(err, &ae) {
			ae = wamp.NewError(wamp.ErrRuntimeError, err.Error())
		}
		s.Send(&wamp.Error{RequestType: wamp.TypeCall, Request: m.Request, Details: wamp.Dict{}, Error: ae.URI,
			Payload: wamp.Payload{Args: ae.Args, Kwargs: ae.Kwargs}})
		return
	}
	s.Send(&wamp.Result{Request: m.Request, Details: wamp.Dict{}, Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
}

// PublishMeta publishes a meta event from the router itself to the realm's subscribers.
func (r *Realm) PublishMeta(topic wamp.URI, args wamp.List, kwargs wamp.Dict) {
	r.broker.Publish(nil, &wamp.Publish{Options: wamp.Dict{}, Topic: topic, Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
}

// initProcedures gathers the router's own procedures (the dealer's and broker's meta
// procedures, the session and testament meta API) and the features WELCOME announces.
func (r *Realm) initProcedures() {
	r.procs = make(map[wamp.URI]session.LocalProcedure)
	r.sessionMeta = meta.New(meta.Options{Sessions: &r.sessions, Publisher: r.broker, Settings: r.metaSettings,
		Authorizer: r.authorizer, Logger: r.log, Refusals: meta.Refusals{URITooLong: &LimitStats.URITooLong,
			AnonymousKills: &LimitStats.AnonymousKills, TestamentBytes: &LimitStats.TestamentBytes},
		Directory: r.config.Sessions})
	for _, procs := range []map[wamp.URI]session.LocalProcedure{r.dealer.MetaProcedures(), r.broker.MetaProcedures(),
		r.sessionMeta.Procedures()} {
		for uri, f := range procs {
			r.procs[uri] = f
		}
	}
	meta.GuardHistory(r.procs, r.authorizer)
	r.brokerFeatures = mergeFeatures(r.broker.Features(), meta.Features())
	r.dealerFeatures = mergeFeatures(r.dealer.Features(), meta.Features())
}

// metaSettings is what the meta API reads of the realm's configuration: the kill settings as
// they are now (Reconfigure changes them), the limits as the realm started with them.
func (r *Realm) metaSettings() meta.Settings {
	cfg := &r.sec().cfg
	return meta.Settings{DisableSessionKill: cfg.DisableSessionKill, AnonymousSessionKill: cfg.AnonymousSessionKill,
		AnonymousRole: cfg.anonymousRole(), StrictURIs: r.config.StrictURIs, MaxURILength: r.config.Limits.maxURILength(),
		TestamentBytes: r.config.Limits.testamentBytes()}
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
