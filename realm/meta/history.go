package meta

import (
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// GuardHistory makes the broker's event history procedures (in procs, the realm's own
// procedures by URI) answer only sessions that may subscribe to the topic or pattern asked
// about, as the spec's event history section requires (the right to call the procedure itself
// is checked like any call). authorizer returns the realm's current authorization.
func GuardHistory(procs map[wamp.URI]session.LocalProcedure, authorizer func() *authz.Authorizer) {
	if f, ok := procs["wamp.subscription.get_events"]; ok {
		get := procs["wamp.subscription.get"]
		procs["wamp.subscription.get_events"] = func(s *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
			res, _, err := get(s, args, nil)
			if err != nil {
				return nil, nil, err
			}
			d, _ := res[0].(wamp.Dict)
			uri, _ := d.String("uri")
			match, _ := d.String("match")
			if dec := authorizer().Authorize(s, authz.ActionSubscribe, wamp.URI(uri), match, nil); !dec.Allow {
				return nil, nil, wamp.NewError(dec.Reason, dec.Message)
			}
			return f(s, args, kwargs)
		}
	}
	if f, ok := procs[pubsub.TopicEventsProcedure]; ok {
		procs[pubsub.TopicEventsProcedure] = func(s *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
			if len(args) > 0 {
				topic, _ := args[0].(string)
				match := wamp.MatchExact
				if len(args) > 1 {
					if opts, ok := args[1].(wamp.Dict); ok {
						match = authz.MatchOf(opts)
					}
				}
				if dec := authorizer().Authorize(s, authz.ActionSubscribe, wamp.URI(topic), match, nil); !dec.Allow {
					return nil, nil, wamp.NewError(dec.Reason, dec.Message)
				}
			}
			return f(s, args, kwargs)
		}
	}
}
