package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/internal/testcert"
)

// The bridge from the configuration file, over the listener's TLS, driven by curl: a publish
// on /publish is forwarded to an HTTP endpoint by bridge.subscribers, and a call on /call is
// served by an HTTP endpoint through bridge.callees.
func TestBridgeFromConfigOverTLS(t *testing.T) {
	leakcheck.Check(t)
	cert, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, err := cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	forwarded := make(chan string, 4)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/events":
			forwarded <- r.Header.Get("Pawl-Topic") + " " + string(body)
		case "/rpc":
			var in struct{ Args []int }
			json.Unmarshal(body, &in)
			fmt.Fprintf(w, `{"args":[%d]}`, in.Args[0]*in.Args[1])
		}
	}))
	defer endpoint.Close()
	cfg := configFrom(t, fmt.Sprintf(`
listeners:
  - listen: 127.0.0.1:0
    tls: {cert: %s, key: %s}
    bridge:
      - {path: /publish, type: publisher, realm: realm1, role: backend}
      - {path: /call, type: caller, realm: realm1, role: backend}
realms:
  - name: realm1
    roles:
      - name: backend
        permissions: [{uri: com.example., match: prefix, call: true, publish: true, subscribe: true, register: true}]
bridge:
  subscribers:
    - {realm: realm1, role: backend, topic: com.example.orders., match: prefix, url: %s/events}
  callees:
    - {realm: realm1, role: backend, procedure: com.example.mul2, url: %s/rpc}
`, certFile, keyFile, endpoint.URL, endpoint.URL))
	url, stop, logs := startServe(t, cfg)
	base := "https://" + strings.TrimSuffix(strings.TrimPrefix(url, "wss://"), "/ws")
	waitForLog(t, logs, "url="+base+"/call")

	curl := func(path, body string) string {
		t.Helper()
		out, err := exec.Command("curl", "-sS", "--cacert", certFile, "-H", "Content-Type: application/json",
			"--data-binary", body, base+path).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", path, err, out)
		}
		return string(out)
	}
	// The callee forwarder registers once its session joined: retry until it is there.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := curl("/call", `{"procedure":"com.example.mul2","args":[6,7]}`)
		if out == "{\"args\":[42]}\n" {
			break
		}
		if !strings.Contains(out, "wamp.error.no_such_procedure") || time.Now().After(deadline) {
			t.Fatalf("call over https: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if !strings.HasPrefix(curl("/publish", `{"topic":"com.example.orders.new","args":[1]}`), `{"id":`) {
			t.Fatal("publish over https failed")
		}
		select {
		case got := <-forwarded:
			if got != `com.example.orders.new {"args":[1],"kwargs":{}}` {
				t.Errorf("forwarded %q", got)
			}
		case <-time.After(200 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue // the forwarder had not subscribed yet
			}
			t.Fatal("no event forwarded")
		}
		break
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// The bridge's services are set up at start; a reload that changes them says they need a
// restart, and the running ones keep serving.
func TestReloadBridgeNeedsRestart(t *testing.T) {
	leakcheck.Check(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /publish, type: publisher, realm: realm1, role: r}]}]\nrealms: [{name: realm1}]\n")
	r, err := start(ctx, cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown()
	same := configFrom(t, "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /publish, type: publisher, realm: realm1, role: r}]}]\nrealms: [{name: realm1}]\n")
	if err := r.apply(same); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "bridge") && strings.Contains(logs.String(), "need a restart") {
		t.Errorf("an unchanged bridge was named as needing a restart:\n%s", logs)
	}
	next := configFrom(t, "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /push, type: publisher, realm: realm1, role: r}]}]\nrealms: [{name: realm1}]\n"+
		"bridge: {subscribers: [{realm: realm1, role: r, topic: a.b, url: 'http://127.0.0.1:1/'}]}\n")
	if err := r.apply(next); err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	if !strings.Contains(line, "listeners[127.0.0.1:0].bridge") || !strings.Contains(line, " bridge]") {
		t.Errorf("the reload's log does not name the bridge changes:\n%s", line)
	}
	base := "http" + strings.TrimSuffix(strings.TrimPrefix(r.listeners[0].url, "ws"), "/ws")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Post(base+"/publish", "application/json", strings.NewReader(`{"topic":"a.b"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) { // 503: its session is still joining
			t.Fatalf("the running publisher answered %d after the reload", resp.StatusCode)
		}
	}
}
