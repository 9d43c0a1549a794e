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
// {"headers": {name: [values]}, "body": text}, and answers as Crossbar.io's webhook service
// does (crossbar/bridge/rest/webhook.py): 202 with the text "OK" once the router acknowledged
// the publication, 500 with the text "NOT OK" when the router refused it (the reason is
// logged; the sender — GitHub, a payment provider — only looks at the status). Both carry the
// Content-Type Crossbar.io sets on every answer. The bridge's own refusals (signature, size,
// UTF-8) are JSON errors, as Crossbar.io's are.
func (s *Service) webhook(ctx context.Context, c *client.Client, req *request) (int, any, error) {
	headers := wamp.Dict{}
	for name, values := range req.http.Header {
		headers[name] = append([]string(nil), values...)
	}
	for _, name := range privateHeaders {
		delete(headers, name)
	}
	event := wamp.Dict{"headers": headers, "body": string(req.body)}
	_, ae, err := s.publishWait(ctx, c, s.cfg.Topic, wamp.Dict{}, wamp.List{event}, nil)
	if err != nil {
		return 0, nil, err
	}
	if ae != nil {
		s.b.stats.refuse(ae.URI)
		s.log.Error("http bridge: webhook not published", "topic", s.cfg.Topic, "error", ae.URI,
			"args", ae.Args, "remote", req.http.RemoteAddr)
		return http.StatusInternalServerError, textAnswer("NOT OK"), nil
	}
	return http.StatusAccepted, textAnswer("OK"), nil
}
