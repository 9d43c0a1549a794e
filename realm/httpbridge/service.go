package httpbridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// Service is a publisher, caller or webhook service: an http.Handler that turns each request
// into a WAMP action of the service's session.
type Service struct {
	b      *Bridge
	cfg    ServiceConfig
	log    *slog.Logger
	keeper *keeper
	signer *verifier     // nil: unsigned requests
	slots  chan struct{} // one per request in progress, up to MaxInFlight

	rawBody bool // webhook: the body is not JSON
	process func(ctx context.Context, c *client.Client, req *request) (int, any, error)
}

// request is what the checks made of an HTTP request.
type request struct {
	http *http.Request
	body []byte
	json wamp.Dict // the decoded body (JSON services)
}

// Joined is closed once the service's session has joined its realm for the first time (or
// the bridge closed before it could).
func (s *Service) Joined() <-chan struct{} { return s.keeper.joined }

// Config is the service's configuration, with its defaults filled in.
func (s *Service) Config() ServiceConfig { return s.cfg }

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.b.stats.Requests.Add(1)
	if done := s.cors(w, r); done {
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		rf := refuse(http.StatusServiceUnavailable, ErrBusy,
			fmt.Sprintf("this service is working on %d requests already; retry shortly", s.cfg.MaxInFlight))
		rf.header = map[string]string{"Retry-After": "1"}
		s.writeRefusal(w, r, rf)
		return
	}
	req, err := s.check(w, r)
	if err != nil {
		s.writeRefusal(w, r, err)
		return
	}
	c := s.keeper.current()
	if c == nil {
		rf := refuse(http.StatusServiceUnavailable, ErrUnavailable, errNoSession.Error())
		rf.header = map[string]string{"Retry-After": "1"}
		s.writeRefusal(w, r, rf)
		return
	}
	status, body, err := s.process(r.Context(), c, req)
	if err != nil {
		s.writeRefusal(w, r, err)
		return
	}
	if status >= 400 {
		s.b.stats.Refused.Add(1)
	}
	writeJSON(w, status, body)
}

// check runs the checks every request passes: method, content type, body size, signature,
// UTF-8 and (for JSON services) a JSON object.
func (s *Service) check(w http.ResponseWriter, r *http.Request) (*request, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		rf := refuse(http.StatusMethodNotAllowed, ErrMethod, r.Method+" is not allowed here; use POST (or PUT)")
		rf.header = map[string]string{"Allow": s.allowed()}
		return nil, rf
	}
	if err := s.checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	if r.ContentLength > s.cfg.MaxBody {
		return nil, s.tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, s.tooLarge()
		}
		return nil, refuse(http.StatusBadRequest, ErrBadRequest, "reading the body failed: "+err.Error())
	}
	if s.cfg.GitHubSecret != "" {
		if err := checkGitHubSignature(r.Header, s.cfg.GitHubSecret, body); err != nil {
			return nil, err
		}
	}
	if s.signer != nil {
		if err := s.signer.verify(r.URL.Query(), body); err != nil {
			return nil, err
		}
	}
	if !utf8.Valid(body) {
		return nil, refuse(http.StatusBadRequest, ErrInvalidUTF8, "the body is not valid UTF-8")
	}
	req := &request{http: r, body: body}
	if s.rawBody {
		return req, nil
	}
	if len(body) == 0 {
		return nil, refuse(http.StatusBadRequest, ErrInvalidJSON, "the body is empty; want a JSON object")
	}
	v, err := wamp.DecodeJSONValue(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, ErrInvalidJSON, "the body is not valid JSON: "+err.Error())
	}
	d, ok := v.(wamp.Dict)
	if !ok {
		return nil, refuse(http.StatusBadRequest, ErrInvalidJSON, "the body must be a JSON object")
	}
	req.json = d
	return req, nil
}

func (s *Service) tooLarge() error {
	return refuse(http.StatusRequestEntityTooLarge, ErrTooLarge,
		"the body is larger than this service accepts ("+strconv.FormatInt(s.cfg.MaxBody, 10)+" bytes)")
}

// checkContentType: JSON services take application/json or no Content-Type at all (as
// Crossbar.io does; note that curl -d sends a form type unless told otherwise), and no service
// takes a charset other than UTF-8.
func (s *Service) checkContentType(header string) error {
	if header == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		return refuse(http.StatusUnsupportedMediaType, ErrContentType, "malformed Content-Type "+strconv.Quote(header))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return refuse(http.StatusUnsupportedMediaType, ErrContentType, "charset "+strconv.Quote(cs)+" is not accepted; send UTF-8")
	}
	if !s.rawBody && mt != "application/json" {
		return refuse(http.StatusUnsupportedMediaType, ErrContentType, "Content-Type "+strconv.Quote(mt)+" is not accepted; send application/json")
	}
	return nil
}

func (s *Service) allowed() string {
	if len(s.cfg.CORSOrigins) > 0 {
		return "POST, PUT, OPTIONS"
	}
	return "POST, PUT"
}

// sessionFailure turns an error of the service's session (not a WAMP error) into a refusal.
func sessionFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		// The HTTP client went away (or our own deadline passed): nobody reads this answer
		// but a timeout deserves its status.
		return refuse(http.StatusGatewayTimeout, wamp.ErrTimeout, "the request ended before the router answered: "+err.Error())
	}
	if errors.Is(err, client.ErrClosed) {
		rf := refuse(http.StatusServiceUnavailable, ErrUnavailable, "the service's session ended; retry shortly")
		rf.header = map[string]string{"Retry-After": "1"}
		return rf
	}
	return refuse(http.StatusInternalServerError, wamp.ErrRuntimeError, err.Error())
}
