package conformance

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// scriptTimeout bounds one JS or Python driver run; the scripts have
	// their own, shorter, hard timeout.
	scriptTimeout = 60 * time.Second
	// debianPython is Debian's interpreter, which has python3-autobahn; the
	// python3 on PATH may be another installation.
	debianPython = "/usr/bin/python3"
	installHint  = "run .ci/install-deps (from the repository root) to install the conformance client dependencies"
)

// clientChecks are the check names client_checks.js and client_checks.py
// print, in order. Every one must report "ok".
var clientChecks = []string{
	"join",
	"pubsub_all_types",
	"publish_acknowledge",
	"exclude_me_default",
	"exclude_me_false",
	"call_roundtrip",
	"call_application_error",
	"call_no_such_procedure",
	"mixed_join",
	"mixed_event_to_other",
	"mixed_event_from_other",
	"mixed_call_to_other",
	"mixed_call_from_other",
	"mixed_error_to_other",
	"leave",
}

// requireNode fails the test unless node and the npm dependencies are there.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found on PATH: %v; %s", err, installHint)
	}
	for _, pkg := range []string{"autobahn", "msgpack5", "cbor"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s missing in conformance/node_modules: %s", pkg, installHint)
		}
	}
}

// requirePython fails the test unless Debian's python3 can import Autobahn
// and msgpack.
func requirePython(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, "-c", "import autobahn, msgpack, autobahn.asyncio.wamp")
	cmd.Env = pythonEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import autobahn and msgpack (%v): %s\n%s", debianPython, err, installHint, out)
	}
}

// pythonEnv keeps Debian's interpreter on its own packages.
func pythonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHONPATH=") || strings.HasPrefix(kv, "PYTHONHOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
}

func nodeCommand(ctx context.Context, script string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "node", append([]string{filepath.Join("js", script)}, args...)...)
}

func pythonCommand(ctx context.Context, script string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, debianPython, append([]string{filepath.Join("python", script)}, args...)...)
	cmd.Env = pythonEnv()
	return cmd
}

// scriptRun is a started driver script.
type scriptRun struct {
	name   string
	cmd    *exec.Cmd
	ctx    context.Context
	cancel context.CancelFunc
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error
}

// startScript starts a driver built by mk; it is killed after scriptTimeout
// and in any case when the test ends.
func startScript(t *testing.T, name string, mk func(ctx context.Context) *exec.Cmd) *scriptRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	r := &scriptRun{name: name, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	r.cmd = mk(ctx)
	r.cmd.Stdout = &r.stdout
	r.cmd.Stderr = &r.stderr
	r.cmd.WaitDelay = 5 * time.Second // do not hang on pipes a stray child keeps open
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// finish waits for the script and turns its output into subtests, one per
// expected check. Unexpected FAIL lines (e.g. a hard timeout) and a non-zero
// exit status fail t as well.
func (r *scriptRun) finish(t *testing.T, checks []string) {
	t.Helper()
	<-r.done
	defer r.cancel()

	passed := map[string]bool{}
	failed := map[string][]string{}
	scanner := bufio.NewScanner(strings.NewReader(r.stdout.String()))
	scanner.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case strings.HasPrefix(line, "ok "):
			passed[strings.TrimPrefix(line, "ok ")] = true
		case strings.HasPrefix(line, "FAIL "):
			name, detail, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ": ")
			failed[name] = append(failed[name], detail)
		}
	}

	expected := map[string]bool{}
	for _, check := range checks {
		expected[check] = true
		t.Run(check, func(t *testing.T) {
			switch {
			case len(failed[check]) > 0:
				for _, detail := range failed[check] {
					t.Errorf("%s: %s", r.name, detail)
				}
			case !passed[check]:
				t.Errorf("%s reported no result for this check", r.name)
			}
		})
	}
	for name, details := range failed {
		if !expected[name] {
			for _, detail := range details {
				t.Errorf("%s: FAIL %s: %s", r.name, name, detail)
			}
		}
	}

	switch {
	case errors.Is(r.ctx.Err(), context.DeadlineExceeded):
		t.Errorf("%s killed after %v", r.name, scriptTimeout)
	case r.err != nil:
		t.Errorf("%s exited with %v", r.name, r.err)
	}
	if t.Failed() {
		t.Logf("%s stdout:\n%s", r.name, r.stdout.String())
		t.Logf("%s stderr:\n%s", r.name, r.stderr.String())
	}
}
