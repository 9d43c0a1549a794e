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

// call: {"procedure", "args", "kwargs", "options"} → {"args", "kwargs"}, or the WAMP error as
// {"error", "args", "kwargs"} — with status 200 as Crossbar.io answers it, except the router's
// own refusals (not authorized: 403, invalid URI: 400).
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
			return wampStatus(ae.URI), errorBody(ae.URI, ae.Args, ae.Kwargs), nil
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return http.StatusOK, errorBody(wamp.ErrTimeout, wamp.List{fmt.Sprintf("the call took longer than %v", timeout)}, nil), nil
		}
		return 0, nil, sessionFailure(ctx, err)
	}
	out := wamp.Dict{"args": res.Args}
	if res.Args == nil {
		out["args"] = wamp.List{}
	}
	if len(res.Kwargs) > 0 {
		out["kwargs"] = res.Kwargs
	}
	return http.StatusOK, out, nil
}
