package httpbridge

import (
	"errors"
	"net/http"

	"github.com/pawl-wamp/pawl/wamp"
)

// Error URIs of the bridge's own refusals (the WAMP ones keep their standard URIs).
const (
	ErrBadRequest      wamp.URI = "pawl.bridge.error.bad_request" // malformed body or query
	ErrMethod          wamp.URI = "pawl.bridge.error.method_not_allowed"
	ErrContentType     wamp.URI = "pawl.bridge.error.unsupported_content_type"
	ErrTooLarge        wamp.URI = "pawl.bridge.error.body_too_large"
	ErrInvalidUTF8     wamp.URI = "pawl.bridge.error.invalid_utf8"
	ErrInvalidJSON     wamp.URI = "pawl.bridge.error.invalid_json"
	ErrSignature       wamp.URI = "pawl.bridge.error.invalid_signature" // missing, unknown key, wrong
	ErrStale           wamp.URI = "pawl.bridge.error.stale_timestamp"
	ErrReplay          wamp.URI = "pawl.bridge.error.replayed_request"
	ErrBusy            wamp.URI = "pawl.bridge.error.busy"        // the nonce memory or max_in_flight is full
	ErrUnavailable     wamp.URI = "pawl.bridge.error.unavailable" // the service's session is not joined
	ErrGitHubSignature wamp.URI = "pawl.bridge.error.invalid_github_signature"
	ErrOrigin          wamp.URI = "pawl.bridge.error.origin_not_allowed" // CORS preflight
)

// refusal is an HTTP answer with a JSON error body {"error", "args": [message], "kwargs"}.
type refusal struct {
	status  int
	uri     wamp.URI
	message string
	header  map[string]string
}

func (r *refusal) Error() string { return string(r.uri) + ": " + r.message }

func refuse(status int, uri wamp.URI, message string) *refusal {
	return &refusal{status: status, uri: uri, message: message}
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := wamp.EncodeJSONValue(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = wamp.EncodeJSONValue(errorBody(wamp.ErrRuntimeError, wamp.List{"the response could not be encoded: " + err.Error()}, nil))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func errorBody(uri wamp.URI, args wamp.List, kwargs wamp.Dict) wamp.Dict {
	if args == nil {
		args = wamp.List{}
	}
	if kwargs == nil {
		kwargs = wamp.Dict{}
	}
	return wamp.Dict{"error": string(uri), "args": args, "kwargs": kwargs}
}

// writeRefusal answers a refusal, logging it at debug level (a refusal is the client's
// business; the counters tell the operator).
func (s *Service) writeRefusal(w http.ResponseWriter, r *http.Request, err error) {
	var rf *refusal
	if !errors.As(err, &rf) {
		rf = refuse(http.StatusInternalServerError, wamp.ErrRuntimeError, err.Error())
	}
	for k, v := range rf.header {
		w.Header().Set(k, v)
	}
	s.b.stats.Refused.Add(1)
	s.log.Debug("http bridge: request refused", "status", rf.status, "error", rf.uri, "message", rf.message,
		"remote", r.RemoteAddr)
	writeJSON(w, rf.status, errorBody(rf.uri, wamp.List{rf.message}, nil))
}

// wampStatus is the HTTP status of a WAMP error the router (not a callee) answered: refusals
// get their 4xx; everything else is the application's answer, 200 as Crossbar.io does.
func wampStatus(uri wamp.URI) int {
	switch uri {
	case wamp.ErrNotAuthorized:
		return http.StatusForbidden
	case wamp.ErrInvalidURI:
		return http.StatusBadRequest
	}
	return http.StatusOK
}
