package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/internal/testcert"
	"github.com/pawl-wamp/pawl/wamp"
)

// reloadConfig is the config TestReloadOnSIGHUP rewrites: one wss:// listener, one realm
// whose anonymous role may or may not publish, principals, history rules, origins and a
// message size limit.
func reloadConfig(certFile, keyFile, origins string, maxSize int, canPublish bool, principals, history string) string {
	return fmt.Sprintf(`listeners:
  - listen: 127.0.0.1:0
    tls: {cert: %s, key: %s}
    allowed_origins: [%s]
    max_message_size: %d
realms:
  - name: realm1
    anonymous: true
    auth:
      rate_limit: {delay: -1s}
      principals:
%s    roles:
      - name: anonymous
        permissions:
          - {uri: com.example., match: prefix, call: true, register: true, subscribe: true, publish: %t}
      - name: user
        permissions:
          - {uri: com.example., match: prefix, subscribe: true, publish: true}
          - {uri: pawl.topic.get_events, call: true}
    history:
      topics:
%s
data_dir: data
`, certFile, keyFile, origins, maxSize, principals, canPublish, history)
}

// SIGHUP re-reads the config and applies it without dropping sessions: a session of before
// the reload carries on (under its role's new permissions, with the limits it connected
// with), while new connections get the new certificate, principals, origins, limits and
// history rules. A config that does not load, or whose certificate does not, is logged and
// the running one kept.
func TestReloadOnSIGHUP(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	certDir := filepath.Join(dir, "tls")
	os.Mkdir(certDir, 0o700)
	cert1, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := cert1.WriteFiles(certDir)
	if err != nil {
		t.Fatal(err)
	}
	newsOnly := "        - {topic: com.example.news, limit: 10}"
	config := writeFile(t, dir, "pawl.yaml", reloadConfig(certFile, keyFile, "", 1<<20, false, "", newsOnly))
	p := startRouterProcess(t, dir, "serve", "-config", config)
	url := p.url(t)
	_, logAt := p.waitLog(t, 0, "msg=listening")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(cert *testcert.Cert, opts client.Options) (*client.Client, error) {
		opts.TLSConfig = cert.ClientConfig()
		return client.Dial(ctx, url, "realm1", opts)
	}
	old, err := dial(cert1, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	publish := func(c *client.Client, topic wamp.URI, args ...any) error {
		return c.Publish(ctx, topic, wamp.Dict{"acknowledge": true}, wamp.List(args), nil)
	}
	if err := publish(old, "com.example.news", 1); !isURI(err, wamp.ErrNotAuthorized) {
		t.Fatalf("before the reload the anonymous role may not publish, got %v", err)
	}
	if _, err := dial(cert1, client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: "tick3t"}}); err == nil {
		t.Fatal("joe logged in before he was configured")
	}
	const origin = "https://app.example.com"
	if code := upgradeStatus(t, url, cert1, origin); code != http.StatusForbidden {
		t.Fatalf("origin %s before the reload: HTTP %d, want 403", origin, code)
	}

	// The new config: a ticket principal, publishing allowed, an allowed origin, a smaller
	// message size limit, a second history rule, and a new certificate in the same files.
	cert2, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cert2.WriteFiles(certDir); err != nil {
		t.Fatal(err)
	}
	joe := indent(hashSecret(t, "tick3t", "-method", "ticket", "-authid", "joe", "-role", "user", "-iterations", "1", "-memory", "64"), 8)
	withChat := newsOnly + "\n        - {topic: com.example.chat, limit: 10}"
	writeFile(t, dir, "pawl.yaml", reloadConfig(certFile, keyFile, `"`+origin+`"`, 2048, true, joe, withChat))
	p.signal(t, syscall.SIGHUP)
	line, logAt := p.waitLog(t, logAt, "configuration reloaded")
	if strings.Contains(line, "restart") {
		t.Errorf("the reload asks for a restart: %s", line)
	}

	// The session of before is still there, and its role's new permission applies to it.
	select {
	case <-old.Done():
		t.Fatalf("the reload dropped a session: %v", old.Err())
	default:
	}
	if err := publish(old, "com.example.news", 1); err != nil {
		t.Errorf("after the reload the anonymous role may publish, got %v", err)
	}
	// It connected under the old limit: a 4 KiB message still passes.
	if err := publish(old, "com.example.chat", strings.Repeat("x", 4096)); err != nil {
		t.Errorf("the session of before lost its message size limit: %v", err)
	}
	// New connections: the new certificate (the old one is no longer served)...
	if _, err := dial(cert1, client.Options{}); err == nil {
		t.Error("a new connection was served the old certificate")
	}
	// ...the new principal...
	joeClient, err := dial(cert2, client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: "tick3t"}})
	if err != nil {
		t.Fatalf("joe cannot log in after the reload: %v", err)
	}
	defer joeClient.Close()
	// ...the new history rule (the 4 KiB event above was kept under it)...
	if evs, err := joeClient.TopicEvents(ctx, "com.example.chat", "", client.HistoryQuery{}); err != nil || len(evs) != 1 {
		t.Errorf("com.example.chat history after the reload: %d events, %v; want 1", len(evs), err)
	}
	// ...the new origins...
	if code := upgradeStatus(t, url, cert2, origin); code != http.StatusSwitchingProtocols {
		t.Errorf("origin %s after the reload: HTTP %d, want 101", origin, code)
	}
	// ...and the new message size limit.
	publish(joeClient, "com.example.chat", strings.Repeat("x", 4096))
	select {
	case <-joeClient.Done():
	case <-time.After(10 * time.Second):
		t.Error("a new connection was not held to the new message size limit")
	}

	// Configs that do not load: logged, and the running one kept.
	broken := []struct{ name, text string }{
		{"syntax", "listeners: [\n"},
		{"unknown key", reloadConfig(certFile, keyFile, "", 2048, true, joe, withChat) + "limitz: {}\n"},
		{"missing certificate", reloadConfig(filepath.Join(dir, "gone.pem"), keyFile, "", 2048, true, "", withChat)},
	}
	for _, b := range broken {
		writeFile(t, dir, "pawl.yaml", b.text)
		p.signal(t, syscall.SIGHUP)
		line, logAt = p.waitLog(t, logAt, "reload failed")
		if !strings.Contains(line, "running configuration is kept") {
			t.Errorf("%s: %s", b.name, line)
		}
	}
	if _, err := dial(cert2, client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: "tick3t"}}); err != nil {
		t.Errorf("after broken configs, joe (of the running config) cannot log in: %v", err)
	}
	if err := publish(old, "com.example.news", 2); err != nil {
		t.Errorf("after broken configs, the session of before: %v", err)
	}
	old.Close()
	p.stop(t)
}

// upgradeStatus opens a WAMP WebSocket with an Origin header and returns the HTTP status.
func upgradeStatus(t *testing.T, url string, cert *testcert.Cert, origin string) int {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: cert.ClientConfig(), Subprotocols: []string{"wamp.2.json"},
		HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial(url, http.Header{"Origin": {origin}})
	if ws != nil {
		ws.Close()
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return resp.StatusCode
}

func isURI(err error, uri wamp.URI) bool {
	var ae *wamp.ApplicationError
	return errors.As(err, &ae) && ae.URI == uri
}

// What a reload cannot change is named in the log, and the rest still applies.
func TestReloadNamesWhatNeedsRestart(t *testing.T) {
	leakcheck.Check(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: realm1}, {name: realm2}]\n")
	r, err := start(ctx, cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.shutdown()
	next := configFrom(t, "listeners: [{listen: '127.0.0.1:0', path: /wamp}]\nrealms: [{name: realm1, strict_uris: true}, {name: realm3}]\n"+
		"data_dir: elsewhere\nlog: {format: json, level: debug}\nadmin: {listen: '127.0.0.1:0'}\n")
	if err := r.apply(next); err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	for _, key := range []string{"listeners[127.0.0.1:0].path", "realms[realm1].strict_uris", "realms (removing realm2)", "data_dir", "log.format", "admin.listen"} {
		if !strings.Contains(line, key) {
			t.Errorf("the reload's log does not name %s:\n%s", key, line)
		}
	}
	if r.level.Level() != slog.LevelDebug {
		t.Errorf("log level %v after the reload, want debug", r.level.Level())
	}
	if _, ok := r.rt.Realm("realm3"); !ok {
		t.Error("the new realm was not added")
	}
	if _, ok := r.rt.Realm("realm2"); !ok {
		t.Error("a realm taken out of the config was dropped without a restart")
	}
}
