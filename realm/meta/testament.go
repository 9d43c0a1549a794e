package meta

import (
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Testament scopes (wamp.session.add_testament's scope keyword argument).
const (
	ScopeDestroyed = "destroyed"
	ScopeDetached  = "detached"
)

// maxTestaments bounds the testaments one session may hold per scope.
const maxTestaments = 256

// testament is an event the router publishes for a session once it is gone.
type testament struct {
	topic   wamp.URI
	args    wamp.List
	kwargs  wamp.Dict
	options wamp.Dict
	size    int // its payload's bytes (MessagePack), counted against the realm's testament_bytes
}

// testaments are a session's testaments by scope, in the order they were added.
type testaments struct {
	detached, destroyed []testament
}

// bytes is the payload size of all the session's testaments.
func (t *testaments) bytes() int64 {
	var n int64
	for _, list := range [][]testament{t.detached, t.destroyed} {
		for _, x := range list {
			n += int64(x.size)
		}
	}
	return n
}

// payloadSize is the size of a testament's payload, encoded as MessagePack.
func payloadSize(args wamp.List, kwargs wamp.Dict) (int, error) {
	enc := wamp.MsgPack.(wamp.ValueEncoder)
	var buf []byte
	var err error
	if args != nil {
		if buf, err = enc.EncodeValue(buf, args); err != nil {
			return 0, err
		}
	}
	if kwargs != nil {
		if buf, err = enc.EncodeValue(buf, kwargs); err != nil {
			return 0, err
		}
	}
	return len(buf), nil
}

func (t *testaments) scope(name string) *[]testament {
	if name == ScopeDetached {
		return &t.detached
	}
	return &t.destroyed
}

func scopeArg(kwargs wamp.Dict) (string, error) {
	v, ok := kwargs["scope"]
	if !ok || v == nil {
		return ScopeDestroyed, nil
	}
	switch v {
	case ScopeDestroyed, ScopeDetached:
		return v.(string), nil
	}
	return "", wamp.NewError(wamp.ErrInvalidArgument, "scope must be \"destroyed\" or \"detached\"")
}

// wamp.session.add_testament [topic, args, kwargs] {publish_options, scope}
func (api *API) metaAddTestament(caller *session.Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	if len(args) < 1 {
		return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, "missing topic argument")
	}
	topic, ok := args[0].(string)
	if !ok || !wamp.ValidURI(wamp.URI(topic), api.settings().StrictURIs, false) {
		return nil, nil, wamp.NewError(wamp.ErrInvalidURI, "invalid testament topic")
	}
	if max := api.settings().MaxURILength; max > 0 && len(topic) > max {
		api.refusals.URITooLong.Add(1)
		return nil, nil, wamp.NewError(wamp.ErrInvalidURI, "testament topic longer than this realm allows (max_uri_length)")
	}
	if wamp.Reserved(wamp.URI(topic), wamp.MatchExact) {
		// The broker would refuse it when the session leaves, when nobody can hear why.
		return nil, nil, wamp.NewError(wamp.ErrInvalidURI, "topics under wamp. and pawl. are reserved for the router")
	}
	t := testament{topic: wamp.URI(topic), options: wamp.Dict{}}
	if len(args) > 1 && args[1] != nil {
		if t.args, ok = args[1].(wamp.List); !ok {
			return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, "args must be a list")
		}
	}
	if len(args) > 2 && args[2] != nil {
		if t.kwargs, ok = args[2].(wamp.Dict); !ok {
			return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, "kwargs must be a dict")
		}
	}
	if v, present := kwargs["publish_options"]; present && v != nil {
		opts, isDict := v.(wamp.Dict)
		if !isDict {
			return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, "publish_options must be a dict")
		}
		if err := wamp.Validate(&wamp.Publish{Request: 1, Options: opts, Topic: t.topic}); err != nil {
			return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, "publish_options: "+err.Error())
		}
		for k, v := range opts {
			if k != "acknowledge" { // nobody is left to acknowledge to
				t.options[k] = v
			}
		}
	}
	scope, err := scopeArg(kwargs)
	if err != nil {
		return nil, nil, err
	}
	if t.size, err = payloadSize(t.args, t.kwargs); err != nil {
		return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, err.Error())
	}
	// A testament is a publication of the session: it needs the right to publish there
	// (and to retain, when it asks to be retained).
	if d := api.authorizer().Authorize(caller, authz.ActionPublish, t.topic, wamp.MatchExact, t.options); !d.Allow {
		return nil, nil, wamp.NewError(d.Reason, d.Message)
	} else if retain, _ := t.options.Bool("retain"); retain && !api.authorizer().MayRetain(caller, t.topic) {
		return nil, nil, wamp.NewError(wamp.ErrNotAuthorized, "authrole "+caller.AuthRole+" may not retain events on "+topic)
	} else if d.Disclose {
		t.options["disclose_me"] = true
	}
	added := false
	defer func() {
		if added {
			api.announce(caller) // after the unlock below: the other nodes keep it too
		}
	}()
	api.mu.Lock()
	defer api.mu.Unlock()
	if _, joined := api.sessions.Session(caller.ID); !joined {
		return nil, nil, wamp.NewError(wamp.ErrNoSuchSession, "the session is leaving")
	}
	ts := api.testaments[caller]
	if ts == nil {
		ts = &testaments{}
		api.testaments[caller] = ts
	}
	list := ts.scope(scope)
	if len(*list) >= maxTestaments {
		return nil, nil, wamp.NewError(wamp.ErrInvalidArgument, "too many testaments in this scope")
	}
	if max := api.settings().TestamentBytes; max > 0 && ts.bytes()+int64(t.size) > max {
		if n := api.refusals.TestamentBytes.Add(1); n&(n-1) == 0 {
			api.log.Warn("limit: testament bytes per session", "session", caller.ID, "authid", caller.AuthID,
				"testament_bytes", max, "refused_so_far", n)
		}
		return nil, nil, wamp.NewError(wamp.ErrInvalidArgument,
			"the session's testaments would exceed this realm's testament_bytes")
	}
	*list = append(*list, t)
	added = true
	return nil, nil, nil
}

// wamp.session.flush_testaments {scope}
func (api *API) metaFlushTestaments(caller *session.Session, _ wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error) {
	scope, err := scopeArg(kwargs)
	if err != nil {
		return nil, nil, err
	}
	api.mu.Lock()
	if ts := api.testaments[caller]; ts != nil {
		*ts.scope(scope) = nil
	}
	api.mu.Unlock()
	api.announce(caller)
	return nil, nil, nil
}

// PublishTestaments publishes a leaving session's testaments: the detached scope first, then
// the destroyed one (Pawl has no session resumption, so a session is detached and destroyed
// at once), each in the order they were added. They are published as the session's own
// publications, so that disclose_me and exclude_me in their options mean what they say.
func (api *API) PublishTestaments(s *session.Session) {
	api.mu.Lock()
	ts := api.testaments[s]
	delete(api.testaments, s)
	silenced := api.silenced[s]
	api.mu.Unlock()
	if ts == nil || silenced {
		return
	}
	for _, t := range append(ts.detached, ts.destroyed...) {
		api.publisher.Publish(s, &wamp.Publish{Request: 1, Options: t.options, Topic: t.topic,
			Payload: wamp.Payload{Args: t.args, Kwargs: t.kwargs}})
	}
}
