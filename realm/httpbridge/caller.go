package httpbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// callOptions are the CALL options a caller request may set.
var callOptions = []string{"timeout", "disclose_me"}

// call: {"procedure", "args", "kwargs", "options"} → {"args", "kwargs"} (see callResult), or
// the WAMP error as {"error", "args", "kwargs"} — with status 200 as Crossbar.io answers every
// WAMP error, the router's refusals (not_authorized, invalid_uri, no_such_procedure) included
// (crossbar/bridge/rest/common.py, _fail_request).
func (s *Service) call(ctx context.Context, c *client.Client, req *request) (int, any, error) {
	proc, err := uriField(req.json, "procedure")
	if err != nil {
		return 0, nil, err
	}
	args, kwargs, err := payload(req.json)
	if err != nil {
		return 0, nil, err
	}
	opts, err := optionsField(req.json, callOptions...)
	if err != nil {
		return 0, nil, err
	}
	timeout := s.cfg.Timeout
	if v, ok := opts["timeout"]; ok {
		ms, isInt := wamp.AsInt64(v)
		if !isInt || ms < 0 {
			return 0, nil, refuse(http.StatusBadRequest, ErrBadRequest, "options.timeout must be a number of milliseconds")
		}
		if ms > 0 && time.Duration(ms)*time.Millisecond < timeout {
			timeout = time.Duration(ms) * time.Millisecond
		}
		delete(opts, "timeout") // the context's deadline sets it
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.Call(ctx, proc, opts, args, kwargs)
	if err != nil {
		var ae *wamp.ApplicationError
		if errors.As(err, &ae) {
			return http.StatusOK, errorBody(ae.URI, ae.Args, ae.Kwargs), nil
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return http.StatusOK, errorBody(wamp.ErrTimeout, wamp.List{fmt.Sprintf("the call took longer than %v", timeout)}, nil), nil
		}
		return 0, nil, sessionFailure(ctx, err)
	}
	return http.StatusOK, callResult(res.Args, res.Kwargs), nil
}

// callResult shapes a RESULT as Crossbar.io's caller does (crossbar/bridge/rest/caller.py over
// Autobahn|Python's call, which returns None for an empty RESULT, the value itself for one
// positional result, and a CallResult otherwise):
//   - no args, no kwargs: {"args": [null]};
//   - args only: {"args": [...]};
//   - kwargs only: {"kwargs": {...}} (no "args" key);
//   - both: {"args": [...], "kwargs": {...}}.
func callResult(args wamp.List, kwargs wamp.Dict) wamp.Dict {
	switch {
	case len(args) == 0 && len(kwargs) == 0:
		return wamp.Dict{"args": wamp.List{nil}}
	case len(kwargs) == 0:
		return wamp.Dict{"args": args}
	case len(args) == 0:
		return wamp.Dict{"kwargs": kwargs}
	}
	return wamp.Dict{"args": args, "kwargs": kwargs}
}
