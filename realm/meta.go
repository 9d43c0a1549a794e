package realm

import (
	"errors"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// handleCall serves the router's own meta procedures and hands every other call to the dealer.
func (r *Realm) handleCall(s *session.Session, m *wamp.Call) {
	f, ok := r.meta[m.Procedure]
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
