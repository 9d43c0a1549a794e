package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// ErrCommandFailed is the error a `pawl register` procedure answers with when its command
// exits non-zero, cannot start, or prints more than --max-output.
const ErrCommandFailed wamp.URI = "pawl.error.command_failed"

// Bounds of what `pawl register` holds for the commands it runs.
const (
	registerMaxWaiting = 1024     // invocations waiting for a free --concurrency slot; beyond: wamp.error.unavailable
	registerMaxStderr  = 64 << 10 // bytes of a command's stderr kept for the error
	registerWaitDelay  = time.Second
)

// registerCommand is `pawl register PROCEDURE [flags] -- CMD [ARGS...]`.
func registerCommand(args []string, stderr io.Writer) int {
	f := newClientFlags("register", "PROCEDURE [flags] -- CMD [ARGS...]",
		`Registers PROCEDURE; each invocation runs CMD with {"args":[...],"kwargs":{...},"details":{...},
"procedure":"..."} as one JSON line on stdin (and PAWL_PROCEDURE in its environment). What CMD
prints on stdout is the result: one JSON value when it parses as JSON, else a string (trailing
newlines removed; no output: an empty result). A non-zero exit answers the caller with
pawl.error.command_failed: args [its stderr], kwargs {"exit_code": N}. The PAWL_TICKET,
PAWL_SECRET, PAWL_PASSWORD and PAWL_PRIVATE_KEY variables are removed from CMD's environment.
Runs until interrupted (SIGINT or SIGTERM: GOODBYE, running commands killed, exit 0).`, false, stderr)
	var (
		match, invoke  string
		concurrency    int
		timeout        time.Duration
		discloseCaller bool
		maxOutput      int
		quiet          bool
	)
	f.fs.StringVar(&match, "match", "exact", "procedure matching: exact, prefix or wildcard")
	f.fs.StringVar(&invoke, "invoke", "single", "shared registration policy: single, roundrobin, random, first or last")
	f.fs.IntVar(&concurrency, "concurrency", 4, "most commands running at once; further invocations wait")
	f.fs.DurationVar(&timeout, "timeout", 0, "kill a command running longer than this; the caller gets wamp.error.timeout (0: no limit)")
	f.fs.BoolVar(&discloseCaller, "disclose-caller", false, "ask the router for the caller's identity (in details on stdin)")
	f.fs.IntVar(&maxOutput, "max-output", 1<<20, "most bytes of stdout a command may print")
	f.fs.BoolVar(&quiet, "quiet", false, "do not log to stderr when the registration is in place or a command fails")
	positional, command, dashDash, err := f.parse(args)
	if err != nil {
		return f.fail(err)
	}
	switch {
	case !dashDash || len(command) == 0:
		return f.fail(usagef("missing -- CMD [ARGS...]: the command to run for each invocation"))
	case len(positional) != 1:
		return f.fail(usagef("want exactly one PROCEDURE before --, got %d arguments", len(positional)))
	case match != "exact" && match != "prefix" && match != "wildcard":
		return f.fail(usagef("-match %q: want exact, prefix or wildcard", match))
	case !slices.Contains([]string{"single", "roundrobin", "random", "first", "last"}, invoke):
		return f.fail(usagef("-invoke %q: want single, roundrobin, random, first or last", invoke))
	case concurrency < 1:
		return f.fail(usagef("-concurrency %d: want 1 or more", concurrency))
	case maxOutput < 1:
		return f.fail(usagef("-max-output %d: want 1 or more", maxOutput))
	}
	if _, err := exec.LookPath(command[0]); err != nil {
		return f.fail(usagef("command %s: %v", command[0], err))
	}
	procedure := wamp.URI(positional[0])
	r := &commandRunner{argv: command, procedure: procedure, timeout: timeout, maxOutput: maxOutput,
		slots: make(chan struct{}, concurrency), env: childEnv(os.Environ())}
	if !quiet {
		r.log = stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := f.dial(ctx)
	if err != nil {
		return f.fail(err)
	}
	regCtx, cancel := context.WithTimeout(ctx, f.connectTimeout)
	reg, err := c.Register(regCtx, procedure, r.invoke, client.RegisterOptions{Match: match, Invoke: invoke,
		Concurrency: concurrency, DiscloseCaller: discloseCaller}.Dict())
	cancel()
	if err != nil {
		c.Close()
		return f.fail(err)
	}
	if !quiet {
		fmt.Fprintf(stderr, "pawl register: registered %s (%s match, %s, registration %d) on realm %s at %s\n",
			procedure, match, invoke, reg.ID, f.realm, f.url)
	}
	code := exitOK
	select {
	case <-ctx.Done(): // SIGINT or SIGTERM
	case <-c.Done():
		code = f.fail(&connectError{fmt.Errorf("session ended: %w", c.Err())})
	}
	// Leaving cancels the running invocations, which kills their commands; wait for them, so
	// that none outlives pawl.
	c.Close()
	r.running.Wait()
	return code
}

// commandRunner runs the command of a registration for each invocation.
type commandRunner struct {
	argv      []string
	procedure wamp.URI
	timeout   time.Duration
	maxOutput int
	env       []string
	log       io.Writer // nil: quiet

	slots   chan struct{} // one per command allowed to run at once
	waiting atomic.Int64  // invocations waiting for a slot
	running sync.WaitGroup
}

// invoke is the registration's procedure handler.
func (r *commandRunner) invoke(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	r.running.Add(1)
	defer r.running.Done()
	if r.waiting.Add(1) > registerMaxWaiting {
		r.waiting.Add(-1)
		return nil, wamp.NewError(wamp.ErrUnavailable, fmt.Sprintf("%d invocations already wait for a free slot", registerMaxWaiting))
	}
	select {
	case r.slots <- struct{}{}:
		r.waiting.Add(-1)
	case <-ctx.Done():
		r.waiting.Add(-1)
		return nil, ctx.Err()
	}
	defer func() { <-r.slots }()
	res, err := r.run(ctx, inv)
	var ae *wamp.ApplicationError
	if r.log != nil && errors.As(err, &ae) {
		fmt.Fprintf(r.log, "pawl register: %s: %s: %v\n", r.calledURI(inv), ae.URI, ae.Args)
	}
	return res, err
}

func (r *commandRunner) calledURI(inv *client.Invocation) wamp.URI {
	if p := inv.Procedure(); p != "" {
		return p
	}
	return r.procedure
}

// run runs the command once for inv.
func (r *commandRunner) run(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
	procedure := r.calledURI(inv)
	input, err := jsonLine(wamp.Dict{"args": listOrEmpty(inv.Args), "kwargs": dictOrEmpty(inv.Kwargs),
		"details": dictOrEmpty(inv.Details), "procedure": string(procedure)})
	if err != nil {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, fmt.Sprintf("arguments not expressible as JSON: %v", err))
	}
	runCtx := ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(runCtx, r.argv[0], r.argv[1:]...)
	ownProcessGroup(cmd)
	cmd.WaitDelay = registerWaitDelay
	cmd.Env = append(slices.Clip(r.env), "PAWL_PROCEDURE="+string(procedure))
	cmd.Stdin = bytes.NewReader(input)
	stdout := &cappedBuffer{max: r.maxOutput}
	stderr := &cappedBuffer{max: registerMaxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()
	switch {
	case ctx.Err() != nil: // the dealer interrupted the call, or pawl is leaving
		return nil, ctx.Err()
	case runCtx.Err() != nil:
		return nil, wamp.NewError(wamp.ErrTimeout, fmt.Sprintf("command ran longer than %v and was killed", r.timeout))
	case runErr != nil:
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			text := strings.TrimRight(stderr.String(), "\r\n")
			if text == "" {
				text = exitErr.Error()
			}
			return nil, &wamp.ApplicationError{URI: ErrCommandFailed, Args: wamp.List{text},
				Kwargs: wamp.Dict{"exit_code": exitErr.ExitCode()}}
		}
		return nil, &wamp.ApplicationError{URI: ErrCommandFailed, Args: wamp.List{runErr.Error()}}
	case stdout.overflow:
		return nil, &wamp.ApplicationError{URI: ErrCommandFailed,
			Args: wamp.List{fmt.Sprintf("the command printed more than %d bytes (-max-output)", r.maxOutput)}}
	}
	return commandResult(stdout.Bytes()), nil
}

// commandResult turns a command's stdout into the call's result: one JSON value when it parses as
// JSON, else the text (trailing newlines removed), else bytes when it is not UTF-8.
func commandResult(out []byte) *client.Result {
	out = bytes.TrimRight(out, "\r\n")
	if len(bytes.TrimSpace(out)) == 0 {
		return &client.Result{}
	}
	if v, err := wamp.DecodeJSONValue(out); err == nil {
		return &client.Result{Args: wamp.List{v}}
	}
	if !utf8.Valid(out) {
		return &client.Result{Args: wamp.List{bytes.Clone(out)}}
	}
	return &client.Result{Args: wamp.List{string(out)}}
}

// childEnv is pawl's environment without its secrets.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(secretEnv, name) && name != "PAWL_PROCEDURE" {
			out = append(out, kv)
		}
	}
	return out
}

// cappedBuffer keeps the first max bytes written to it and drops the rest (still accepting
// them, so the command is never blocked on a full pipe). The buffer is a field, not embedded:
// an embedded bytes.Buffer's ReadFrom would let io.Copy around the cap.
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.overflow = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) Bytes() []byte  { return b.buf.Bytes() }
func (b *cappedBuffer) String() string { return b.buf.String() }
