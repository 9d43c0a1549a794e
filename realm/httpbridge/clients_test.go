package httpbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// clientEnv serves every inbound service for the third-party clients: /publish, /call,
// /signed (a publisher taking signed requests only) and /hook (a webhook), all as role
// backend; a WAMP peer registers com.example.add2 and com.example.fail and listens.
type clientEnv struct {
	*env
	base   string
	events chan *client.Event
}

const clientKey, clientSecret = "shop", "s3cr3t-of-the-shop"

func newClientEnv(t *testing.T) *clientEnv {
	e := &clientEnv{env: newEnv(t), events: make(chan *client.Event, 32)}
	for _, cfg := range []httpbridge.ServiceConfig{
		{Path: "/publish", Type: "publisher"},
		{Path: "/call", Type: "caller"},
		{Path: "/signed", Type: "publisher", Keys: map[string]string{clientKey: clientSecret}},
		{Path: "/hook", Type: "webhook", Topic: "com.example.hook"},
	} {
		cfg.Realm, cfg.Role = "realm1", "backend"
		e.mount(t, cfg)
	}
	e.base = e.srv.URL
	c := e.client(t)
	ctx := context.Background()
	for _, topic := range []wamp.URI{"com.example.php", "com.example.python", "com.example.curl", "com.example.hook"} {
		if _, err := c.Subscribe(ctx, topic, func(ev *client.Event) { e.events <- ev }, nil); err != nil {
			t.Fatal(err)
		}
	}
	register(t, c, "com.example.add2", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := wamp.AsInt64(inv.Args[0])
		b, _ := wamp.AsInt64(inv.Args[1])
		return &client.Result{Args: wamp.List{a + b}}, nil
	})
	register(t, c, "com.example.fail", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return nil, &wamp.ApplicationError{URI: "com.example.error.out_of_stock", Args: wamp.List{"sold out"}}
	})
	return e
}

func (e *clientEnv) event(t *testing.T) *client.Event {
	t.Helper()
	select {
	case ev := <-e.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return nil
}

// clientResult is one line a client script printed.
type clientResult struct {
	Name   string         `json:"name"`
	Status int            `json:"status"`
	Answer map[string]any `json:"answer"`
}

// runScript runs a client script and returns its results by name.
func runScript(t *testing.T, cmd ...string) map[string]clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	x := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	var stderr bytes.Buffer
	x.Stderr = &stderr
	out, err := x.Output()
	if err != nil {
		t.Fatalf("%v: %v\nstdout:\n%s\nstderr:\n%s", cmd, err, out, stderr.String())
	}
	results := map[string]clientResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r clientResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v printed %q: %v", cmd, sc.Text(), err)
		}
		results[r.Name] = r
	}
	return results
}

// checkClientResults asserts what every client script must have seen.
func checkClientResults(t *testing.T, results map[string]clientResult) {
	t.Helper()
	want := []struct {
		name   string
		status int
		error  string // "" for a success
		check  func(a map[string]any) bool
	}{
		{"signed publish", 200, "", func(a map[string]any) bool { id, _ := a["id"].(float64); return id > 0 }},
		{"replayed publish", 401, string(httpbridge.ErrReplay), nil},
		{"stale publish", 400, string(httpbridge.ErrStale), nil},
		{"wrong secret", 401, string(httpbridge.ErrSignature), nil},
		{"unsigned", 400, string(httpbridge.ErrSignature), nil},
		{"call", 200, "", func(a map[string]any) bool { return fmt.Sprint(a) == "map[args:[42]]" }},
		{"call error", 200, "com.example.error.out_of_stock", func(a map[string]any) bool { return fmt.Sprint(a["args"]) == "[sold out]" }},
		{"call not authorized", 403, string(wamp.ErrNotAuthorized), nil},
		{"webhook", 202, "", func(a map[string]any) bool { id, _ := a["id"].(float64); return id > 0 }},
		{"bad json", 400, string(httpbridge.ErrInvalidJSON), nil},
	}
	for _, w := range want {
		r, ok := results[w.name]
		if !ok {
			t.Errorf("%s: no result", w.name)
			continue
		}
		errURI, _ := r.Answer["error"].(string)
		if r.Status != w.status || errURI != w.error || (w.check != nil && !w.check(r.Answer)) {
			t.Errorf("%s: %d %v, want %d error %q", w.name, r.Status, r.Answer, w.status, w.error)
		}
		if w.error != "" && w.status >= 400 {
			if args, _ := r.Answer["args"].([]any); len(args) != 1 || args[0] == "" {
				t.Errorf("%s: refusal without a message: %v", w.name, r.Answer)
			}
		}
	}
}

func TestPHPClient(t *testing.T) {
	e := newClientEnv(t)
	checkClientResults(t, runScript(t, "php", "testdata/client.php", e.base, clientKey, clientSecret))
	ev := e.event(t)
	if ev.Topic() != "com.example.php" || fmt.Sprint(ev.Args, ev.Kwargs) != "[from PHP 42] map[é:ü]" {
		t.Errorf("signed publication from PHP: %s %v %v", ev.Topic(), ev.Args, ev.Kwargs)
	}
	hook := e.event(t)
	msg, _ := hook.Args[0].(wamp.Dict)
	headers, _ := msg["headers"].(wamp.Dict)
	if msg["body"] != "order=7&paid=yes" || fmt.Sprint(headers["X-Shop"]) != "[php-test]" {
		t.Errorf("webhook from PHP: %v", hook.Args)
	}
	select {
	case ev := <-e.events:
		t.Errorf("a refused request published %s %v", ev.Topic(), ev.Args)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestPythonClient(t *testing.T) {
	e := newClientEnv(t)
	checkClientResults(t, runScript(t, "/usr/bin/python3", "testdata/client.py", e.base, clientKey, clientSecret))
	ev := e.event(t)
	if n, _ := wamp.AsInt64(ev.Args[1]); ev.Topic() != "com.example.python" || ev.Args[0] != "from Python" || n != 1<<60 || ev.Kwargs["ok"] != true {
		t.Errorf("signed publication from Python: %s %v %v", ev.Topic(), ev.Args, ev.Kwargs)
	}
	hook := e.event(t)
	msg, _ := hook.Args[0].(wamp.Dict)
	headers, _ := msg["headers"].(wamp.Dict)
	if msg["body"] != "order=7&paid=yes" || fmt.Sprint(headers["X-Shop"]) != "[python-test]" {
		t.Errorf("webhook from Python: %v", hook.Args)
	}
	select {
	case ev := <-e.events:
		t.Errorf("a refused request published %s %v", ev.Topic(), ev.Args)
	case <-time.After(50 * time.Millisecond):
	}
}

// curl is the transport; the signatures are computed here (a shell has no HMAC of its own).
func TestCurlClient(t *testing.T) {
	e := newClientEnv(t)
	curl := func(name, path, contentType, body string) clientResult {
		t.Helper()
		args := []string{"-sS", "-o", "-", "-w", "\n%{http_code}", "--data-binary", body}
		if contentType != "" {
			args = append(args, "-H", "Content-Type: "+contentType)
		}
		args = append(args, "-H", "X-Shop: curl-test", e.base+path)
		out, err := exec.Command("curl", args...).Output()
		if err != nil {
			t.Fatalf("%s: curl: %v", name, err)
		}
		answer, status, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		r := clientResult{Name: name}
		fmt.Sscan(status, &r.Status)
		if err := json.Unmarshal([]byte(answer), &r.Answer); err != nil {
			t.Fatalf("%s: answer %q: %v", name, answer, err)
		}
		return r
	}
	body := `{"topic":"com.example.curl","args":["from curl"]}`
	q := httpbridge.SignedQuery(clientKey, clientSecret, 1, 12345, []byte(body)).Encode()
	stale := httpbridge.SignedQuery(clientKey, clientSecret, 1, 12346, []byte(body))
	stale.Set("timestamp", time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z"))
	stale.Set("signature", httpbridge.Sign(clientKey, clientSecret, stale.Get("timestamp"), "1", "12346", []byte(body)))
	wrong := httpbridge.SignedQuery(clientKey, "guess", 1, 12347, []byte(body)).Encode()
	results := map[string]clientResult{}
	for _, r := range []clientResult{
		curl("signed publish", "/signed?"+q, "application/json", body),
		curl("replayed publish", "/signed?"+q, "application/json", body),
		curl("stale publish", "/signed?"+stale.Encode(), "application/json", body),
		curl("wrong secret", "/signed?"+wrong, "application/json", body),
		curl("unsigned", "/signed", "application/json", body),
		curl("call", "/call", "application/json", `{"procedure":"com.example.add2","args":[20,22]}`),
		curl("call error", "/call", "application/json", `{"procedure":"com.example.fail"}`),
		curl("call not authorized", "/call", "application/json", `{"procedure":"org.other.proc"}`),
		curl("webhook", "/hook", "", "order=7&paid=yes"),
		curl("bad json", "/publish", "application/json", `{"topic": `),
	} {
		results[r.Name] = r
	}
	checkClientResults(t, results)
	if ev := e.event(t); ev.Topic() != "com.example.curl" || fmt.Sprint(ev.Args) != "[from curl]" {
		t.Errorf("signed publication from curl: %s %v", ev.Topic(), ev.Args)
	}
	hook := e.event(t)
	if msg, _ := hook.Args[0].(wamp.Dict); msg["body"] != "order=7&paid=yes" {
		t.Errorf("webhook from curl: %v", hook.Args)
	}
	// curl -d without a JSON Content-Type: a clear 415.
	r := curl("form", "/publish", "application/x-www-form-urlencoded", body)
	if r.Status != 415 || r.Answer["error"] != string(httpbridge.ErrContentType) {
		t.Errorf("publish as a form: %d %v", r.Status, r.Answer)
	}
}
