package httpbridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// maxCalleeAnswer bounds what the bridge reads of an endpoint's answer.
const maxCalleeAnswer = 16 << 20

// Callee serves a procedure with an HTTP endpoint: each INVOCATION is POSTed as
// {"procedure", "args", "kwargs", "details"}; a 2xx JSON answer {"args", "kwargs"} is the
// RESULT, an answer {"error": uri, "args", "kwargs"} (any status) is an ERROR, and an endpoint
// that cannot be reached fails the call with wamp.error.unavailable.
type Callee struct {
	b      *Bridge
	cfg    CalleeConfig
	keeper *keeper
}

// Callee registers cfg.Procedure for cfg.URL. cfg is validated (and its defaults filled in)
// first.
func (b *Bridge) Callee(cfg CalleeConfig) (*Callee, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ce := &Callee{b: b, cfg: cfg}
	log := b.log.With("bridge", "callee", "procedure", cfg.Procedure, "url", cfg.URL)
	ce.keeper = newKeeper(b.rt, cfg.Realm, cfg.Role, cfg.AuthID, log, ce.register)
	b.startKeeper(ce.keeper)
	return ce, nil
}

// Joined is closed once the callee's session has registered for the first time (or the
// bridge closed before it could).
func (ce *Callee) Joined() <-chan struct{} { return ce.keeper.joined }

func (ce *Callee) register(ctx context.Context, c *client.Client) error {
	_, err := c.Register(ctx, ce.cfg.Procedure, ce.invoke,
		client.RegisterOptions{Match: ce.cfg.Match, Concurrency: ce.cfg.Concurrency}.Dict())
	return err
}

// invoke runs one invocation as a POST; ctx ends when the caller cancels or times out.
func (ce *Callee) invoke(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	ce.b.stats.Invoked.Add(1)
	proc := inv.Procedure()
	if proc == "" {
		proc = ce.cfg.Procedure
	}
	args, kwargs, details := inv.Args, inv.Kwargs, inv.Details
	if args == nil {
		args = wamp.List{}
	}
	if kwargs == nil {
		kwargs = wamp.Dict{}
	}
	if details == nil {
		details = wamp.Dict{}
	}
	body, err := wamp.EncodeJSONValue(wamp.Dict{"procedure": string(proc), "args": args, "kwargs": kwargs, "details": details})
	if err != nil {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, "the call's arguments cannot be sent as JSON: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, ce.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ce.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range ce.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if ce.cfg.Secret != "" {
		req.Header.Set("X-Hub-Signature-256", githubSignature(ce.cfg.Secret, body))
	}
	resp, err := ce.b.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, wamp.NewError(wamp.ErrTimeout, fmt.Sprintf("the endpoint did not answer within %v", ce.cfg.Timeout))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err() // canceled by the caller: nobody waits for the answer
		}
		return nil, wamp.NewError(wamp.ErrUnavailable, "the procedure's HTTP endpoint cannot be reached: "+err.Error())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxCalleeAnswer+1))
	if err != nil {
		return nil, wamp.NewError(wamp.ErrRuntimeError, "reading the endpoint's answer failed: "+err.Error())
	}
	if len(raw) > maxCalleeAnswer {
		return nil, wamp.NewError(wamp.ErrRuntimeError, fmt.Sprintf("the endpoint's answer is larger than %d bytes", maxCalleeAnswer))
	}
	return answer(resp.StatusCode, raw)
}

// answer turns an endpoint's response into a RESULT or an error.
func answer(status int, raw []byte) (*client.Result, error) {
	var d wamp.Dict
	if len(bytes.TrimSpace(raw)) > 0 && utf8.Valid(raw) {
		if v, err := wamp.DecodeJSONValue(raw); err == nil {
			d, _ = v.(wamp.Dict)
		}
	}
	if uri, ok := d["error"].(string); ok && uri != "" {
		ae := &wamp.ApplicationError{URI: wamp.URI(uri)}
		ae.Args, _ = d["args"].(wamp.List)
		ae.Kwargs, _ = d["kwargs"].(wamp.Dict)
		return nil, ae
	}
	if status < 200 || status > 299 {
		return nil, wamp.NewError(wamp.ErrRuntimeError, fmt.Sprintf("the endpoint answered %d %s: %s",
			status, http.StatusText(status), snippet(raw)))
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return &client.Result{}, nil
	}
	if d == nil {
		return nil, wamp.NewError(wamp.ErrRuntimeError, "the endpoint's answer is not a JSON object {\"args\", \"kwargs\"}: "+snippet(raw))
	}
	res := &client.Result{}
	var ok bool
	if v, present := d["args"]; present && v != nil {
		if res.Args, ok = v.(wamp.List); !ok {
			return nil, wamp.NewError(wamp.ErrRuntimeError, "the endpoint's 'args' is not a list")
		}
	}
	if v, present := d["kwargs"]; present && v != nil {
		if res.Kwargs, ok = v.(wamp.Dict); !ok {
			return nil, wamp.NewError(wamp.ErrRuntimeError, "the endpoint's 'kwargs' is not an object")
		}
	}
	return res, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
