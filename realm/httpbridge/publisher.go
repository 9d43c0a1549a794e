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
	return s.publishAcknowledged(ctx, c, topic, opts, args, kwargs, http.StatusOK)
}

// publishAcknowledged publishes and answers {"id": publication} with status ok, or the
// router's refusal.
func (s *Service) publishAcknowledged(ctx context.Context, c *client.Client, topic wamp.URI, opts wamp.Dict,
	args wamp.List, kwargs wamp.Dict, ok int) (int, any, error) {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	id, err := c.PublishAcknowledged(ctx, topic, opts, args, kwargs)
	if err != nil {
		var ae *wamp.ApplicationError
		if errors.As(err, &ae) {
			status := wampStatus(ae.URI)
			if status == http.StatusOK {
				status = http.StatusBadRequest // the router refused the publication
			}
			return status, errorBody(ae.URI, ae.Args, ae.Kwargs), nil
		}
		return 0, nil, sessionFailure(ctx, err)
	}
	return ok, wamp.Dict{"id": id}, nil
}
