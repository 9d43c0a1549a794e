package httpbridge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// publishOptions are the PUBLISH options a publisher request may set (acknowledge is always
// on: the answer carries the publication's ID).
var publishOptions = []string{"acknowledge", "exclude", "exclude_authid", "exclude_authrole",
	"eligible", "eligible_authid", "eligible_authrole", "retain", "disclose_me"}

// publishTimeout bounds the wait for the router's acknowledgement.
const publishTimeout = 10 * time.Second

// publish: {"topic", "args", "kwargs", "options"} → {"id": publication}.
func (s *Service) publish(ctx context.Context, c *client.Client, req *request) (int, any, error) {
	topic, err := uriField(req.json, "topic")
	if err != nil {
		return 0, nil, err
	}
	args, kwargs, err := payload(req.json)
	if err != nil {
		return 0, nil, err
	}
	opts, err := optionsField(req.json, publishOptions...)
	if err != nil {
		return 0, nil, err
	}
	return s.publishAcknowledged(ctx, c, topic, opts, args, kwargs)
}

// publishAcknowledged publishes and answers {"id": publication} with status 200, or the
// router's refusal (wamp.error.not_authorized, wamp.error.invalid_uri, ...) as
// {"error", "args", "kwargs"} — with status 200 too: Crossbar.io answers every WAMP error of
// the bridge's session with 200 (crossbar/bridge/rest/common.py, _fail_request), and the
// clients written for it read the "error" key, not the status.
func (s *Service) publishAcknowledged(ctx context.Context, c *client.Client, topic wamp.URI, opts wamp.Dict,
	args wamp.List, kwargs wamp.Dict) (int, any, error) {
	id, ae, err := s.publishWait(ctx, c, topic, opts, args, kwargs)
	if err != nil {
		return 0, nil, err
	}
	if ae != nil {
		return http.StatusOK, errorBody(ae.URI, ae.Args, ae.Kwargs), nil
	}
	return http.StatusOK, wamp.Dict{"id": id}, nil
}

// publishWait publishes with acknowledge and waits for the router's answer: the publication's
// ID, the router's WAMP error, or the failure of the service's session.
func (s *Service) publishWait(ctx context.Context, c *client.Client, topic wamp.URI, opts wamp.Dict,
	args wamp.List, kwargs wamp.Dict) (wamp.ID, *wamp.ApplicationError, error) {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	id, err := c.PublishAcknowledged(ctx, topic, opts, args, kwargs)
	if err != nil {
		var ae *wamp.ApplicationError
		if errors.As(err, &ae) {
			return 0, ae, nil
		}
		return 0, nil, sessionFailure(ctx, err)
	}
	return id, nil, nil
}
