package httpbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// testRealm lets role "backend" publish and call under com.example. and nothing else; role
// "reader" may only subscribe and register (so its HTTP requests are refused).
func testRealm() realm.Config {
	return realm.Config{Name: "realm1", Roles: []authz.Role{
		{Name: "anonymous", Permissions: []authz.Permission{{URI: "com.", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true}}},
		{Name: "backend", Permissions: []authz.Permission{{URI: "com.example.", Match: "prefix", Call: true, Publish: true, Subscribe: true, Register: true}}},
		{Name: "reader", Permissions: []authz.Permission{{URI: "com.example.", Match: "prefix", Subscribe: true, Register: true}}},
	}}
}

// env is a router with the bridge's services on an HTTP server of their own.
type env struct {
	router *routertest.Router
	bridge *httpbridge.Bridge
	mux    *http.ServeMux
	srv    *httptest.Server
	log    *slog.Logger
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvLogging(t, os.Stderr)
}

// newEnvLogging is newEnv with the router's and the bridge's warnings written to w.
func newEnvLogging(t testing.TB, w io.Writer) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rt := routertest.Start(t, routertest.Options{Realms: []realm.Config{testRealm()}, Logger: log})
	e := &env{router: rt, log: log, mux: http.NewServeMux()}
	e.bridge = httpbridge.New(rt.Router, httpbridge.Options{Logger: log})
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(func() {
		e.srv.Close()
		e.bridge.Close()
	})
	return e
}

// mount adds a service and waits for its session to join.
func (e *env) mount(t testing.TB, cfg httpbridge.ServiceConfig) string {
	t.Helper()
	s, err := e.bridge.Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.mux.Handle(cfg.Path, s)
	waitJoined(t, s.Joined())
	return e.srv.URL + cfg.Path
}

func waitJoined(t testing.TB, joined <-chan struct{}) {
	t.Helper()
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		t.Fatal("the service's session did not join")
	}
}

// client joins the router over WebSocket as an anonymous peer.
func (e *env) client(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.router.URL, "realm1", client.Options{Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// logBuffer collects log lines while the router writes them.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// reply is a decoded bridge answer.
type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func post(t *testing.T, url, contentType string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	// Every answer carries the Content-Type Crossbar.io's bridge sets on all of them
	// (crossbar/bridge/rest/common.py), the webhook's plain "OK" and "NOT OK" included.
	if len(raw) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
			t.Errorf("answer's Content-Type %q", ct)
		}
		if string(raw) == "OK" || string(raw) == "NOT OK" {
			return r // the webhook's answers (webhook.go)
		}
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("answer %d is not a JSON object: %v\n%s", resp.StatusCode, err, raw)
		}
	}
	return r
}

// expectError checks a refusal: its status and the error URI of its JSON body, with a message.
func expectError(t *testing.T, r reply, status int, uri wamp.URI) {
	t.Helper()
	if r.Status != status || r.Body["error"] != string(uri) {
		t.Fatalf("got %d %s, want %d with error %s", r.Status, r.Raw, status, uri)
	}
	args, _ := r.Body["args"].([]any)
	if len(args) == 0 {
		if status >= 400 && uri != wamp.ErrNotAuthorized {
			t.Errorf("refusal without a message: %s", r.Raw)
		}
	}
	if _, ok := r.Body["kwargs"].(map[string]any); !ok {
		t.Errorf("error body without kwargs: %s", r.Raw)
	}
}

// events collects the events of a subscription.
func subscribe(t *testing.T, c *client.Client, topic wamp.URI) <-chan *client.Event {
	t.Helper()
	ch := make(chan *client.Event, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Subscribe(ctx, topic, func(e *client.Event) { ch <- e }, nil); err != nil {
		t.Fatal(err)
	}
	return ch
}

func nextEvent(t *testing.T, ch <-chan *client.Event) *client.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return nil
}

func register(t *testing.T, c *client.Client, proc wamp.URI, h client.ProcedureHandler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Register(ctx, proc, h, nil); err != nil {
		t.Fatal(err)
	}
}
