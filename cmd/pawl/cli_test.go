package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/internal/testcert"
	"github.com/pawl-wamp/pawl/wamp"
)

// The client subcommands are tested as users run them: the real pawl binary, built once per
// test run (with -race when the tests run with it), against a router started in the test.

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// pawlBinary builds ./cmd/pawl into a temporary directory, once.
func pawlBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "pawl-cli-test-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "pawl")
		args := []string{"build", "-o", binPath}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cliEnv is the test's environment without any PAWL_ variable, plus extra. A race report in
// the binary makes it exit 66, which no test expects; atexit_sleep_ms=0 spares each run the
// race runtime's second of sleep at exit.
func cliEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PAWL_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "GORACE=atexit_sleep_ms=0 exitcode=66"), extra...)
}

// proc is a process started by a test.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
}

// startProc starts name with args and env; cleanup ends it (SIGTERM, then SIGKILL).
func startProc(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// Its own process group, so that cleanup reaches the children of a shell pipeline; and a
	// bounded wait for output pipes a stray child may hold open.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// startPawl starts the pawl binary.
func startPawl(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startProc(t, env, pawlBinary(t), args...)
}

// waitStderr waits until the process says text on stderr.
func (p *proc) waitStderr(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), text) {
		select {
		case <-p.done:
			t.Fatalf("%v exited (%v) before saying %q; stderr:\n%s", p.cmd.Args, p.cmd.ProcessState, text, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not say %q within 10s; stderr:\n%s", p.cmd.Args, text, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		t.Fatalf("%v still running after 20s; stderr:\n%s", p.cmd.Args, p.stderr)
		return -1
	}
}

// cliResult is what one pawl run printed and its exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runPawl runs the pawl binary to completion.
func runPawl(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	p := startPawl(t, env, args...)
	code := p.wait(t)
	return cliResult{p.stdout.String(), p.stderr.String(), code}
}

// mustRun runs pawl and fails the test unless it exits with code.
func mustRun(t *testing.T, code int, env []string, args ...string) cliResult {
	t.Helper()
	r := runPawl(t, env, args...)
	if r.code != code {
		t.Fatalf("pawl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// decodeJSON parses one JSON value the way a script would (numbers kept exact).
func decodeJSON(t *testing.T, text string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, text)
	}
	return v
}

// sameJSON reports whether got holds the JSON value want (written as JSON text).
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	return reflect.DeepEqual(decodeJSON(t, got), decodeJSON(t, want))
}

// startDefaultRouter runs the router with its default config on a free port.
func startDefaultRouter(t *testing.T) (url string, stop func() error) {
	t.Helper()
	pawlBinary(t) // built first: a build on a busy machine must not eat into a test's deadlines
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[0].Listen = "127.0.0.1:0"
	url, stop, _ = startServe(t, cfg)
	return url, stop
}

// Events published with `pawl publish` (JSON and plain-string arguments, kwargs from --kwargs
// and -k, JSON and MessagePack) reach `pawl subscribe`, which prints them as JSON lines and
// exits 0 after --count events.
func TestCLIPublishReachesSubscribe(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	sub := startPawl(t, env, "subscribe", "com.example.news", "--count", "3")
	sub.waitStderr(t, "subscribed to com.example.news")

	mustRun(t, 0, env, "publish", "com.example.news", "42", "hello world", `{"a":[1,2]}`, "--acknowledge",
		"--kwargs", `{"z":true}`, "-k", "who=joe", "-k", "n=7")
	mustRun(t, 0, env, "publish", "--serializer", "msgpack", "com.example.news", "-5", "9007199254740993", "null")
	mustRun(t, 0, env, "publish", "com.example.news", "--string", "42", "true", "-k", "n=7")
	if code := sub.wait(t); code != 0 {
		t.Fatalf("subscribe exited %d; stderr:\n%s", code, sub.stderr)
	}
	lines := strings.Split(strings.TrimRight(sub.stdout.String(), "\n"), "\n")
	want := []struct{ args, kwargs string }{
		{`[42,"hello world",{"a":[1,2]}]`, `{"z":true,"who":"joe","n":7}`},
		{`[-5,9007199254740993,null]`, `{}`},
		{`["42","true"]`, `{"n":"7"}`},
	}
	if len(lines) != len(want) {
		t.Fatalf("subscribe printed %d lines, want %d:\n%s", len(lines), len(want), sub.stdout)
	}
	for i, line := range lines {
		var ev struct {
			Topic       string
			Publication json.Number
			Args        json.RawMessage
			Kwargs      json.RawMessage
			Details     map[string]any
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i, err, line)
		}
		if ev.Topic != "com.example.news" || ev.Publication == "" || ev.Details == nil {
			t.Errorf("line %d: topic %q, publication %q, details %v", i, ev.Topic, ev.Publication, ev.Details)
		}
		if !sameJSON(t, string(ev.Args), want[i].args) || !sameJSON(t, string(ev.Kwargs), want[i].kwargs) {
			t.Errorf("line %d: args %s kwargs %s, want %s %s", i, ev.Args, ev.Kwargs, want[i].args, want[i].kwargs)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// The README's recipe: `pawl subscribe` piped into jq, with a pattern subscription.
func TestCLISubscribePipedIntoJq(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed (Debian package jq, installed by .ci/install-deps)")
	}
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	pipeline := startProc(t, env, "sh", "-c",
		pawlBinary(t)+` subscribe com.example.chat. --match prefix --count 2 | jq -r '"\(.topic): \(.args[0]) (\(.kwargs.from))"'`)
	pipeline.waitStderr(t, "subscribed to com.example.chat.")
	mustRun(t, 0, env, "publish", "com.example.chat.lobby", "hello everyone", "-k", "from=ann")
	mustRun(t, 0, env, "publish", "com.example.chat.dev", "build is green", "-k", "from=bob")
	if code := pipeline.wait(t); code != 0 {
		t.Fatalf("pipeline exited %d; stderr:\n%s", code, pipeline.stderr)
	}
	want := "com.example.chat.lobby: hello everyone (ann)\ncom.example.chat.dev: build is green (bob)\n"
	if got := pipeline.stdout.String(); got != want {
		t.Errorf("jq printed %q, want %q", got, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// subscriptionOf asks the router's meta API for the subscription to topic (0: none).
func subscriptionOf(t *testing.T, c *client.Client, topic string) wamp.ID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Call(ctx, "wamp.subscription.lookup", nil, wamp.List{topic}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := wamp.AsID(res.Args[0])
	return id
}

// SIGINT and SIGTERM end `pawl subscribe` cleanly: exit 0, nothing on stdout, and the router
// has dropped the subscription.
func TestCLISubscribeStopsOnSignal(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	observer, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer observer.Close()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		sub := startPawl(t, env, "subscribe", "com.example.quiet")
		sub.waitStderr(t, "subscribed to")
		if subscriptionOf(t, observer, "com.example.quiet") == 0 {
			t.Fatal("the router has no subscription for the running subscriber")
		}
		sub.cmd.Process.Signal(sig)
		if code := sub.wait(t); code != 0 {
			t.Errorf("%v: exit %d, want 0; stderr:\n%s", sig, code, sub.stderr)
		}
		if strings.Contains(sub.stderr.String(), "level=") {
			t.Errorf("%v: the client logged a problem:\n%s", sig, sub.stderr)
		}
		if id := subscriptionOf(t, observer, "com.example.quiet"); id != 0 {
			t.Errorf("%v: subscription %d still there after the subscriber left", sig, id)
		}
	}
	observer.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// `pawl call` reaches procedures registered with `pawl register`, run as shell commands:
// stdin carries the call as JSON, stdout is the result, a non-zero exit is the caller's
// pawl.error.command_failed with the command's stderr.
func TestCLICallReachesRegister(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	register := func(args ...string) {
		t.Helper()
		p := startPawl(t, env, append([]string{"register"}, args...)...)
		p.waitStderr(t, "registered "+args[0])
	}
	register("com.example.echo", "--disclose-caller", "--", "cat")
	register("com.example.fail", "--", "sh", "-c", "echo 'disk full' >&2; exit 3")
	register("com.example.hello.", "--match", "prefix", "--", "sh", "-c", `echo "hello from $PAWL_PROCEDURE"`)
	register("com.example.nothing", "--", "true")
	register("com.example.binary", "--", "printf", `\377\376`)
	register("com.example.chatty", "--max-output", "100", "--", "seq", "1000")

	// The command sees the call as one JSON line on stdin; the JSON it prints is the result.
	r := mustRun(t, 0, env, "call", "com.example.echo", "7", "seven", "-k", "unit=cm", "--disclose-me")
	var echoed struct {
		Args []json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.stdout), &echoed); err != nil || len(echoed.Args) != 1 {
		t.Fatalf("call printed %q (%v)", r.stdout, err)
	}
	var input struct {
		Args      json.RawMessage
		Kwargs    json.RawMessage
		Procedure string
		Details   map[string]any
	}
	if err := json.Unmarshal(echoed.Args[0], &input); err != nil {
		t.Fatalf("the command's stdin was not the call as JSON: %v\n%s", err, echoed.Args[0])
	}
	if !sameJSON(t, string(input.Args), `[7,"seven"]`) || !sameJSON(t, string(input.Kwargs), `{"unit":"cm"}`) ||
		input.Procedure != "com.example.echo" || input.Details["caller"] == nil {
		t.Errorf("the command read %s", echoed.Args[0])
	}

	// Text that is not JSON is a string; a pattern registration's command learns the URI called.
	r = mustRun(t, 0, env, "call", "com.example.hello.world")
	if !sameJSON(t, r.stdout, `{"args":["hello from com.example.hello.world"],"kwargs":{}}`) {
		t.Errorf("call printed %s", r.stdout)
	}
	// No output: an empty result.
	r = mustRun(t, 0, env, "call", "com.example.nothing")
	if !sameJSON(t, r.stdout, `{"args":[],"kwargs":{}}`) {
		t.Errorf("call printed %s", r.stdout)
	}
	// Output that is not UTF-8 is bytes (in JSON, WAMP's "\u0000" + base64).
	r = mustRun(t, 0, env, "call", "com.example.binary")
	if !sameJSON(t, r.stdout, `{"args":["\u0000//4="],"kwargs":{}}`) {
		t.Errorf("call printed %s", r.stdout)
	}
	// More than --max-output: an error, not a truncated result.
	r = mustRun(t, 1, env, "call", "com.example.chatty")
	if !strings.Contains(r.stderr, "pawl.error.command_failed") || !strings.Contains(r.stderr, "more than 100 bytes") {
		t.Errorf("chatty call: stderr %q", r.stderr)
	}
	// A failing command: exit 1 and the WAMP error as JSON on stderr.
	r = mustRun(t, 1, env, "call", "com.example.fail")
	if r.stdout != "" || !sameJSON(t, r.stderr, `{"error":"pawl.error.command_failed","args":["disk full"],"kwargs":{"exit_code":3}}`) {
		t.Errorf("failed call printed stdout %q stderr %q", r.stdout, r.stderr)
	}
	if _, err := exec.LookPath("jq"); err == nil {
		register("com.example.add2", "--", "jq", ".args[0] + .args[1]")
		r = mustRun(t, 0, env, "call", "com.example.add2", "2", "3", "--serializer", "msgpack")
		if !sameJSON(t, r.stdout, `{"args":[5],"kwargs":{}}`) {
			t.Errorf("add2 printed %s", r.stdout)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// waitFiles waits until dir holds n files named prefix*.
func waitFiles(t *testing.T, dir, prefix string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
		if len(got) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s* files after 10s, want %d", len(got), prefix, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// `pawl register --concurrency 2` runs at most two commands at once; a third invocation waits
// for a free slot and then completes.
func TestCLIRegisterConcurrency(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	dir := t.TempDir()
	script := `touch "$0/started.$$"; while [ ! -e "$0/release" ]; do sleep 0.02; done; echo done`
	reg := startPawl(t, env, "register", "com.example.slow", "--concurrency", "2", "--", "sh", "-c", script, dir)
	reg.waitStderr(t, "registered")
	var calls []*proc
	for range 3 {
		calls = append(calls, startPawl(t, env, "call", "com.example.slow"))
	}
	waitFiles(t, dir, "started.", 2)
	time.Sleep(300 * time.Millisecond) // a third command, were it allowed, would have started
	if got, _ := filepath.Glob(filepath.Join(dir, "started.*")); len(got) != 2 {
		t.Fatalf("%d commands running at once, want 2 (--concurrency 2)", len(got))
	}
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		if code := c.wait(t); code != 0 || !sameJSON(t, c.stdout.String(), `{"args":["done"],"kwargs":{}}`) {
			t.Errorf("call %d: exit %d, stdout %q, stderr %q", i, code, c.stdout, c.stderr)
		}
	}
	waitFiles(t, dir, "started.", 3)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// closedPort is a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Every exit code: 0 done, 1 WAMP error, 2 usage (with a clear message, nothing sent),
// 3 connection or join failure or a lost session, 4 timeout.
func TestCLIExitCodes(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	slow := startPawl(t, env, "register", "com.example.sleep", "--", "sleep", "30")
	slow.waitStderr(t, "registered")
	killed := startPawl(t, env, "register", "com.example.sleep.short", "--timeout", "200ms", "--", "sleep", "30")
	killed.waitStderr(t, "registered")

	closed := "ws://" + closedPort(t) + "/ws"
	for _, tc := range []struct {
		code int
		args []string
		says string   // stderr contains it
		like string   // stderr matches this regular expression
		err  wamp.URI // stderr is this WAMP error as JSON
	}{
		{code: 0, args: []string{"publish", "com.example.topic", "--acknowledge"}},
		{code: 0, args: []string{"call", "wamp.session.count"}},
		// -h is not a mistake: the usage on stderr, exit 0.
		{code: 0, args: []string{"register", "-h"}, like: `(?s)Usage: pawl register PROCEDURE.*Exit codes:`},

		{code: 1, args: []string{"call", "com.example.missing", "1"}, err: wamp.ErrNoSuchProcedure},
		{code: 1, args: []string{"publish", "com.example.has space", "--acknowledge"}, says: string(wamp.ErrInvalidURI)},

		// Usage mistakes also point to -h, print nothing on stdout and not the whole usage.
		{code: 2, args: []string{"call", "com.example.p", "--kwargs", `{"a":`}, says: "-kwargs: not valid JSON"},
		{code: 2, args: []string{"call", "com.example.p", "--kwargs", `[1,2]`}, says: "-kwargs: want a JSON object"},
		{code: 2, args: []string{"publish", "com.example.t", "--frobnicate"}, says: "flag provided but not defined: -frobnicate"},
		{code: 2, args: []string{"publish", "com.example.t", "-k", "novalue"}, says: `-k "novalue": want key=value`},
		{code: 2, args: []string{"publish"}, says: "missing TOPIC"},
		{code: 2, args: []string{"call", "com.example.p", "--timeout", "soon"}, says: `invalid value "soon" for flag -timeout`},
		{code: 2, args: []string{"call", "com.example.p", "--serializer", "xml"}, says: `-serializer "xml": want one of json, msgpack`},
		{code: 2, args: []string{"subscribe", "com.example.t", "--match", "regex"}, says: `-match "regex"`},
		{code: 2, args: []string{"subscribe"}, says: "want exactly one TOPIC"},
		{code: 2, args: []string{"register", "com.example.p", "sh"}, says: "missing -- CMD"},
		{code: 2, args: []string{"register", "com.example.p", "--", "no-such-command-here"}, says: "command no-such-command-here"},
		{code: 2, args: []string{"publish", "com.example.t", "--eligible", "abc"}, says: `-eligible "abc": want a session ID`},
		{code: 2, args: []string{"call", "com.example.p", "--ticket", "s3cret"}, says: "secrets are never taken from flags"},
		{code: 2, args: []string{"call", "com.example.p", "--ticket-file", "/nonexistent/ticket"}, says: "-ticket-file"},

		{code: 3, args: []string{"call", "wamp.session.count", "--url", closed}, says: "connection refused"},
		{code: 3, args: []string{"publish", "com.example.t", "--realm", "no.such.realm"}, says: "cannot join realm no.such.realm"},

		// The caller's timeout: the dealer cancels the call (and the callee kills its command).
		{code: 4, args: []string{"call", "com.example.sleep", "--timeout", "300ms"}, like: `wamp\.error\.timeout|deadline exceeded`},
		// The callee's timeout: the command is killed, the caller gets wamp.error.timeout.
		{code: 4, args: []string{"call", "com.example.sleep.short"}, err: wamp.ErrTimeout},
		{code: 4, args: []string{"subscribe", "com.example.silence", "--count", "1", "--timeout", "200ms"}, says: "0 of 1 events"},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.code, strings.Join(tc.args, " ")), func(t *testing.T) {
			r := mustRun(t, tc.code, env, tc.args...)
			switch {
			case tc.says != "" && !strings.Contains(r.stderr, tc.says):
				t.Errorf("stderr %q, want it to say %q", r.stderr, tc.says)
			case tc.like != "" && !regexp.MustCompile(tc.like).MatchString(r.stderr):
				t.Errorf("stderr %q, want it to match %s", r.stderr, tc.like)
			case tc.err != "":
				if e, _ := decodeJSON(t, r.stderr).(map[string]any); e["error"] != string(tc.err) {
					t.Errorf("stderr %q, want the error %s as JSON", r.stderr, tc.err)
				}
			}
			if tc.code == 2 {
				if !strings.Contains(r.stderr, "for usage") || r.stdout != "" {
					t.Errorf("stdout %q, stderr %q: want nothing on stdout and a pointer to -h", r.stdout, r.stderr)
				}
				if strings.Contains(r.stderr, "Flags (") {
					t.Errorf("a mistake printed the whole usage:\n%s", r.stderr)
				}
			}
		})
	}
	// A lost session (here: the router shuts down) ends subscribe and register with exit 3.
	sub := startPawl(t, env, "subscribe", "com.example.topic")
	sub.waitStderr(t, "subscribed to")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*proc{sub, slow, killed} {
		if code := p.wait(t); code != 3 || !strings.Contains(p.stderr.String(), "session ended") {
			t.Errorf("%v after the router stopped: exit %d, stderr:\n%s", p.cmd.Args[1:], code, p.stderr)
		}
	}
}

// Every authentication method the Go client speaks, with its secret from an environment
// variable or a file, over wss:// with the router's certificate trusted through --ca-file.
// The secrets never reach the commands `pawl register` runs, nor its command line.
func TestCLIAuthAndTLS(t *testing.T) {
	leakcheck.Check(t)
	pawlBinary(t)
	dir := t.TempDir()
	cert, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	seed := hex.EncodeToString(priv.Seed())
	entries := hashSecret(t, "tick3t", "-method", "ticket", "-authid", "joe", "-role", "user", "-iterations", "1", "-memory", "64") +
		hashSecret(t, "cr4secret", "-method", "wampcra", "-authid", "peter", "-role", "user") +
		hashSecret(t, "penc1l", "-method", "scram", "-authid", "sara", "-role", "user", "-iterations", "1", "-memory", "64") +
		hashSecret(t, seed, "-method", "cryptosign", "-authid", "carl", "-role", "device")
	cfg := configFrom(t, fmt.Sprintf(`listeners:
  - listen: 127.0.0.1:0
    tls: {cert: %s, key: %s}
realms:
  - name: realm1
    anonymous: false
    auth:
      rate_limit: {delay: -1s}
      principals:
%s`, certFile, keyFile, indent(entries, 8)))
	url, stop, _ := startServe(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A procedure that tells its caller who the router says the caller is.
	backend, err := client.Dial(ctx, url, "realm1", client.Options{AuthID: "joe",
		Credentials: client.Credentials{Ticket: "tick3t"}, TLSConfig: cert.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	if _, err := backend.Register(ctx, "com.example.whoami", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: wamp.List{inv.Details["caller_authid"], inv.Details["caller_authrole"]}}, nil
	}, client.RegisterOptions{DiscloseCaller: true}.Dict()); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tls := []string{"--url", url, "--ca-file", certFile}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"ticket from PAWL_TICKET", []string{"PAWL_TICKET=tick3t", "PAWL_AUTHID=joe"}, nil, `["joe","user"]`},
		{"ticket from a file", nil, []string{"--authid", "joe", "--ticket-file", write("ticket", "tick3t")}, `["joe","user"]`},
		{"wampcra from PAWL_SECRET", []string{"PAWL_SECRET=cr4secret"}, []string{"--authid", "peter"}, `["peter","user"]`},
		{"wampcra from a file", nil, []string{"--authid", "peter", "--secret-file", write("secret", "cr4secret")}, `["peter","user"]`},
		{"wamp-scram from PAWL_PASSWORD", []string{"PAWL_PASSWORD=penc1l"}, []string{"--authid", "sara", "--authmethod", "wamp-scram"}, `["sara","user"]`},
		{"wamp-scram from a file", nil, []string{"--authid", "sara", "--password-file", write("password", "penc1l")}, `["sara","user"]`},
		{"cryptosign from PAWL_PRIVATE_KEY", []string{"PAWL_PRIVATE_KEY=" + seed}, nil, `["carl","device"]`},
		{"cryptosign from a file", nil, []string{"--private-key-file", write("key", seed), "--serializer", "msgpack"}, `["carl","device"]`},
	} {
		r := mustRun(t, 0, cliEnv(tc.env...), append(append([]string{"call", "com.example.whoami"}, tls...), tc.args...)...)
		if !sameJSON(t, r.stdout, `{"args":`+tc.want+`,"kwargs":{}}`) {
			t.Errorf("%s: whoami answered %s, want %s", tc.name, r.stdout, tc.want)
		}
	}

	// Refusals: a wrong secret, the certificate not trusted, a key that is not a key.
	r := mustRun(t, 3, cliEnv("PAWL_TICKET=guess", "PAWL_AUTHID=joe"), append([]string{"call", "com.example.whoami"}, tls...)...)
	if !strings.Contains(r.stderr, string(wamp.ErrAuthenticationFailed)) {
		t.Errorf("wrong ticket: stderr %q", r.stderr)
	}
	r = mustRun(t, 3, cliEnv("PAWL_TICKET=tick3t", "PAWL_AUTHID=joe"), "call", "com.example.whoami", "--url", url)
	if !strings.Contains(r.stderr, "certificate") {
		t.Errorf("untrusted certificate: stderr %q", r.stderr)
	}
	mustRun(t, 0, cliEnv("PAWL_TICKET=tick3t", "PAWL_AUTHID=joe"), "call", "com.example.whoami", "--url", url, "--insecure")
	r = mustRun(t, 2, cliEnv("PAWL_PRIVATE_KEY=xyz"), append([]string{"call", "com.example.whoami"}, tls...)...)
	if !strings.Contains(r.stderr, "cryptosign private key") {
		t.Errorf("bad private key: stderr %q", r.stderr)
	}

	// pawl register logs in with the ticket, but its command does not see it.
	env := cliEnv("PAWL_TICKET=tick3t", "PAWL_AUTHID=joe", "PAWL_URL="+url)
	reg := startPawl(t, env, "register", "com.example.env", "--ca-file", certFile, "--", "sh", "-c", `echo "${PAWL_TICKET:-no ticket here}"`)
	reg.waitStderr(t, "registered")
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", reg.cmd.Process.Pid)); err == nil && bytes.Contains(cmdline, []byte("tick3t")) {
		t.Errorf("the ticket is on the command line: %q", cmdline)
	}
	r = mustRun(t, 0, env, "call", "com.example.env", "--ca-file", certFile)
	if !sameJSON(t, r.stdout, `{"args":["no ticket here"],"kwargs":{}}`) {
		t.Errorf("the command saw %s", r.stdout)
	}
	backend.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Publish options reach the broker: black- and whitelisting by session ID, publisher
// disclosure, retained events; call --progress prints progressive results as they come.
func TestCLIPublishOptionsAndProgress(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := make(chan *client.Event, 10)
	if _, err := c.Subscribe(ctx, "com.example.opts", func(e *client.Event) { events <- e }, nil); err != nil {
		t.Fatal(err)
	}
	me := fmt.Sprint(c.ID())
	mustRun(t, 0, env, "publish", "com.example.opts", "not for me", "--eligible", "1,2", "--acknowledge")
	mustRun(t, 0, env, "publish", "com.example.opts", "excluded", "--exclude", me, "--acknowledge")
	mustRun(t, 0, env, "publish", "com.example.opts", "for me", "--eligible", me, "--disclose-me", "--acknowledge")
	select {
	case e := <-events:
		if len(e.Args) != 1 || e.Args[0] != "for me" || e.Publisher() == 0 {
			t.Errorf("got event %v with details %v, want only \"for me\" with its publisher", e.Args, e.Details)
		}
	case <-ctx.Done():
		t.Fatal("the eligible event did not arrive")
	}

	mustRun(t, 0, env, "publish", "com.example.kept", "last word", "--retain", "--acknowledge")
	r := mustRun(t, 0, env, "subscribe", "com.example.kept", "--get-retained", "--count", "1", "--quiet")
	var ev struct {
		Args    []any
		Details map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || len(ev.Args) != 1 || ev.Args[0] != "last word" || ev.Details["retained"] != true {
		t.Errorf("retained event printed as %q (%v)", r.stdout, err)
	}
	if r.stderr != "" {
		t.Errorf("--quiet, but stderr %q", r.stderr)
	}

	if _, err := c.Register(ctx, "com.example.countdown", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		for i := 3; i > 0; i-- {
			inv.Progress(wamp.List{i}, nil)
		}
		return &client.Result{Args: wamp.List{"liftoff"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, 0, env, "call", "com.example.countdown", "--progress")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	want := []string{`{"args":[3],"kwargs":{},"progress":true}`, `{"args":[2],"kwargs":{},"progress":true}`,
		`{"args":[1],"kwargs":{},"progress":true}`, `{"args":["liftoff"],"kwargs":{}}`}
	if len(lines) != len(want) {
		t.Fatalf("call --progress printed %q", r.stdout)
	}
	for i := range want {
		if !sameJSON(t, lines[i], want[i]) {
			t.Errorf("line %d: %s, want %s", i, lines[i], want[i])
		}
	}
	c.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// A subscriber whose reader goes away (`pawl subscribe t | head -n 1`) leaves cleanly: exit 0
// and the router drops its subscription.
func TestCLISubscribeReaderGone(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	observer, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer observer.Close()
	pipeline := startProc(t, env, "sh", "-c",
		`{ "$0" subscribe com.example.feed; echo "pawl exited $?" >&2; } | head -n 1`, pawlBinary(t))
	pipeline.waitStderr(t, "subscribed to")
	// head exits after the first line; the write of a later event finds the pipe closed.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; !strings.Contains(pipeline.stderr.String(), "pawl exited"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("pawl still running 10s after its reader left; stderr:\n%s", pipeline.stderr)
		}
		if err := observer.Publish(ctx, "com.example.feed", wamp.Dict{"acknowledge": true}, wamp.List{i}, nil); err != nil {
			t.Fatalf("publish: %v; stderr:\n%s", err, pipeline.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := pipeline.wait(t); code != 0 || !strings.Contains(pipeline.stderr.String(), "pawl exited 0") {
		t.Errorf("pipeline exit %d; stderr:\n%s", code, pipeline.stderr)
	}
	if got := pipeline.stdout.String(); !strings.HasPrefix(got, `{"args":[0],`) || strings.Count(got, "\n") != 1 {
		t.Errorf("head printed %q, want the first event", got)
	}
	if id := subscriptionOf(t, observer, "com.example.feed"); id != 0 {
		t.Errorf("subscription %d still there after the subscriber left", id)
	}
	observer.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// alive reports whether a process runs (a zombie waiting for its reaper does not count).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// pid (comm) STATE ...: the state follows the last ')'.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	return !bytes.HasPrefix(bytes.TrimSpace(rest), []byte("Z"))
}

// SIGTERM ends `pawl register` with exit 0 and kills the commands it runs — children of a
// shell included — so that none outlives it; their callers get an error. Two `pawl register`
// processes share a procedure with --invoke roundrobin.
func TestCLIRegisterStopsOnSignal(t *testing.T) {
	leakcheck.Check(t)
	url, stop := startDefaultRouter(t)
	env := cliEnv("PAWL_URL=" + url)

	a := startPawl(t, env, "register", "com.example.shared", "--invoke", "roundrobin", "--", "echo", "a")
	a.waitStderr(t, "registered")
	b := startPawl(t, env, "register", "com.example.shared", "--invoke", "roundrobin", "--", "echo", "b")
	b.waitStderr(t, "registered")
	got := map[string]bool{}
	for range 2 {
		r := mustRun(t, 0, env, "call", "com.example.shared")
		got[r.stdout] = true
	}
	if !got[`{"args":["a"],"kwargs":{}}`+"\n"] || !got[`{"args":["b"],"kwargs":{}}`+"\n"] {
		t.Errorf("two calls of a roundrobin procedure with two callees answered %v", got)
	}

	dir := t.TempDir()
	reg := startPawl(t, env, "register", "com.example.long", "--", "sh", "-c", `sleep 30 & echo $! > "$0/pid"; wait`, dir)
	reg.waitStderr(t, "registered")
	call := startPawl(t, env, "call", "com.example.long")
	waitFiles(t, dir, "pid", 1)
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		text, _ := os.ReadFile(filepath.Join(dir, "pid"))
		fmt.Sscan(string(text), &pid)
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 || !alive(pid) {
		t.Fatalf("the command's child (pid %d) is not running", pid)
	}
	reg.cmd.Process.Signal(syscall.SIGTERM)
	if code := reg.wait(t); code != 0 {
		t.Errorf("register after SIGTERM: exit %d; stderr:\n%s", code, reg.stderr)
	}
	if alive(pid) {
		t.Errorf("the command's child %d outlived pawl register", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if code := call.wait(t); code != 1 || !strings.Contains(call.stderr.String(), `"error":`) {
		t.Errorf("the call whose callee left: exit %d, stderr %q", code, call.stderr)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
