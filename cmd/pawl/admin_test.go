package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/redistest"
	"github.com/pawl-wamp/pawl/wamp"
)

var adminURL = regexp.MustCompile(`msg="admin listening" url=(http://\S+)/ `)

// readyz asks the admin listener whether the router is ready.
func readyz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return resp.StatusCode, v
}

// The router with its history in a real Redis: /readyz is 200 while Redis answers and turns
// 503, naming the history store, once Redis is stopped; /healthz stays 200 (the process is
// alive) and /metrics keeps answering.
func TestAdminReadinessFollowsTheHistoryStore(t *testing.T) {
	redis := redistest.Start(t)
	cfg := configFrom(t, fmt.Sprintf(`
listeners: [{listen: "127.0.0.1:0"}]
realms:
  - name: realm1
    history: {topics: [{topic: com.example.kept, limit: 10}]}
history_store: {type: redis, redis: {addr: %q}}
admin: {listen: "127.0.0.1:0"}
`, redis.Addr))
	url, stop, logs := startServe(t, cfg)
	m := adminURL.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no admin URL logged:\n%s", logs)
	}
	base := m[1]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Publish(ctx, "com.example.kept", wamp.Dict{"acknowledge": true}, wamp.List{1}, nil); err != nil {
		t.Fatal(err)
	}

	status, body := readyz(t, base)
	if status != http.StatusOK || body["ready"] != true {
		t.Fatalf("/readyz with Redis up: %d %v", status, body)
	}
	redis.Stop(t)
	status, body = readyz(t, base)
	checks, _ := body["checks"].(map[string]any)
	if status != http.StatusServiceUnavailable || body["ready"] != false || checks["listeners"] != "ok" ||
		!strings.Contains(fmt.Sprint(body["not_ready"]), "history_store") || checks["history_store"] == "ok" {
		t.Fatalf("/readyz with Redis stopped: %d %v", status, body)
	}
	// An event published now reaches no store: its publisher is told, and the metrics say so.
	err = c.Publish(ctx, "com.example.kept", wamp.Dict{"acknowledge": true}, wamp.List{2}, nil)
	if ae := (*wamp.ApplicationError)(nil); !errors.As(err, &ae) || ae.URI != wamp.ErrUnavailable {
		t.Fatalf("acknowledged publication with Redis stopped: %v, want %s", err, wamp.ErrUnavailable)
	}
	notKept := `pawl_history_events_not_kept_total{realm="realm1",reason="store_failed"} 1`
	written := `pawl_history_events_written_total{realm="realm1"} 1`
	for deadline := time.Now().Add(15 * time.Second); ; {
		metrics := get(t, base+"/metrics")
		if strings.Contains(metrics, notKept) && strings.Contains(metrics, written) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q and %q:\n%s", notKept, written, grep(metrics, "pawl_history"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s with Redis stopped: %v %v", path, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	c.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Once the router has stopped, so has its admin listener.
	client := http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("admin listener still answers after shutdown: %d", resp.StatusCode)
	}
}

func TestAdminAddress(t *testing.T) {
	for in, want := range map[string]string{
		"9100":           "127.0.0.1:9100",
		"127.0.0.1:9100": "127.0.0.1:9100",
		":9100":          ":9100", // explicit: every interface
		"":               "",
	} {
		if got := adminAddress(in); got != want {
			t.Errorf("adminAddress(%q) = %q, want %q", in, got, want)
		}
	}
	if err := (AdminConfig{Listen: "127.0.0.1:notaport:1"}).validate(); err == nil {
		t.Error("a malformed admin.listen was accepted")
	}
	var stderr strings.Builder
	if code := run([]string{"serve", "-admin", "1:2:3"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), `admin.listen "1:2:3"`) {
		t.Errorf("pawl serve -admin 1:2:3: exit %d, %q", code, stderr.String())
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// grep returns the lines of text that contain s.
func grep(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// While the router drains its sessions on shutdown, /readyz answers 503 "shutting down", so a
// load balancer stops sending new clients while the old router finishes.
func TestAdminNotReadyWhileShuttingDown(t *testing.T) {
	cfg := configFrom(t, `
listeners: [{listen: "127.0.0.1:0"}]
realms: [{name: realm1}]
admin: {listen: "127.0.0.1:0"}
limits: {shutdown_grace: 1s}
`)
	url, stop, logs := startServe(t, cfg)
	base := adminURL.FindStringSubmatch(logs.String())[1]
	if status, body := readyz(t, base); status != http.StatusOK {
		t.Fatalf("/readyz before shutdown: %d %v", status, body)
	}
	// A peer that never answers the router's close keeps the router draining for a while.
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetCloseHandler(func(int, string) error { return nil }) // gorilla would answer the close
	ws.WriteMessage(websocket.TextMessage, []byte(`[1,"realm1",{"roles":{"subscriber":{}}}]`))
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "[2,") {
		t.Fatalf("expected WELCOME: %s %v", msg, err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// The router's close (or, on older routers, GOODBYE) arrives once shutdown has begun;
	// the peer does not answer it.
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := ws.ReadMessage(); err == nil && !strings.HasPrefix(string(msg), "[6,") {
		t.Fatalf("expected the router's close, got %s", msg)
	} else if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Fatal("no close from the router within 5s of shutdown")
	}
	status, body := readyz(t, base)
	checks, _ := body["checks"].(map[string]any)
	if status != http.StatusServiceUnavailable || checks["listeners"] != "shutting down" {
		t.Errorf("/readyz while draining: %d %v", status, body)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
