package httpbridge

import (
	"context"
	"net/http"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// privateHeaders are not published: whoever subscribes to the webhook's topic should not
// learn the credentials the sender used to reach the router.
var privateHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// webhook publishes any body to the configured topic as one argument
// {"headers": {name: [values]}, "body": text}, as Crossbar.io's webhook service does, and
// answers 202 {"id": publication}.
func (s *Service) webhook(ctx context.Context, c *client.Client, req *request) (int, any, error) {
	headers := wamp.Dict{}
	for name, values := range req.http.Header {
		headers[name] = append([]string(nil), values...)
	}
	for _, name := range privateHeaders {
		delete(headers, name)
	}
	event := wamp.Dict{"headers": headers, "body": string(req.body)}
	return s.publishAcknowledged(ctx, c, s.cfg.Topic, wamp.Dict{}, wamp.List{event}, nil, http.StatusAccepted)
}
