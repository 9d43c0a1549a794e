package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// syncBuffer is a log sink that tests can read while the router writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningURL = regexp.MustCompile(`url"?[=:]"?(wss?://[^\s"]+)`) // text or JSON

// startServe runs serve with cfg and returns the WebSocket URL it logged.
func startServe(t *testing.T, cfg *Config) (url string, stop func() error, logs *syncBuffer) {
	t.Helper()
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logs) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := listeningURL.FindStringSubmatch(logs.String()); m != nil {
			url = m[1]
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("router did not log its URL; logs:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("serve did not return within 10s of shutdown")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return url, stop, logs
}

// configFrom loads a config file with the given YAML text, as `pawl serve -config` would.
func configFrom(t *testing.T, text string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pawl.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return cfg
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listeners[0].Listen != "127.0.0.1:8080" || cfg.Listeners[0].Path != "/ws" {
		t.Errorf("default listener %+v, want 127.0.0.1:8080 /ws", cfg.Listeners[0])
	}
	if len(cfg.Realms) != 1 || cfg.Realms[0].Name != "realm1" {
		t.Errorf("default realms %+v, want realm1", cfg.Realms)
	}
	if cfg.Limits.PingInterval != 30*time.Second || cfg.Limits.MaxMessageSize != 16<<20 {
		t.Errorf("default limits %+v", cfg.Limits)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown key":     "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: r}]\nlimitz: {}\n",
		"no realms":       "listeners: [{listen: '127.0.0.1:0'}]\n",
		"duplicate realm": "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: r}, {name: r}]\n",
		"bad duration":    "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: r}]\nlimits: {ping_interval: soon}\n",
		"bad log level":   "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: r}]\nlog: {level: loud}\n",
	}
	for name, text := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadConfig(path); err == nil {
			t.Errorf("%s: config accepted", name)
		}
	}
	if code := run([]string{"serve", "-config", filepath.Join(dir, "missing.yaml")}, &bytes.Buffer{}, &bytes.Buffer{}); code != 1 {
		t.Errorf("missing config file: exit %d, want 1", code)
	}
	if code := run([]string{"frobnicate"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// A config file's realms and limits take effect.
func TestServeWithConfigFile(t *testing.T) {
	leakcheck.Check(t)
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0', path: /wamp}]\nrealms: [{name: com.example.app}]\nlimits: {max_message_size: 2048}\n")
	url, stop, _ := startServe(t, cfg)
	if !strings.HasSuffix(url, "/wamp") {
		t.Errorf("listening on %s, want path /wamp", url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Dial(ctx, url, "realm1", client.Options{}); err == nil {
		t.Error("joined realm1, which the config does not define")
	}
	c, err := client.Dial(ctx, url, "com.example.app", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Over the configured 2 KiB limit: the router closes the connection.
	c.Publish(ctx, "com.example.big", nil, wamp.List{strings.Repeat("x", 4096)}, nil)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Error("oversized message did not close the connection")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// SIGINT/SIGTERM (here: the context) shut the router down gracefully: every session's
// connection is closed (1001) with reason wamp.close.system_shutdown.
func TestGracefulShutdown(t *testing.T) {
	leakcheck.Check(t)
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[0].Listen = "127.0.0.1:0"
	url, stop, logs := startServe(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var clients []*client.Client
	for _, ser := range []string{"json", "msgpack"} {
		c, err := client.Dial(ctx, url, "realm1", client.Options{Serializer: ser})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		<-c.Done()
		var ae *wamp.ApplicationError
		if !errors.As(c.Err(), &ae) || ae.URI != wamp.CloseSystemShutdown {
			t.Errorf("client saw %v, want %s", c.Err(), wamp.CloseSystemShutdown)
		}
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("no 'stopped' log line:\n%s", logs)
	}
}

// limits.write_delay spaces writes of events to one connection by the delay, so that one write
// carries several; call results are written at once all the same.
func TestWriteDelayFromConfig(t *testing.T) {
	leakcheck.Check(t)
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: realm1}]\nlimits: {write_delay: 400ms}\n")
	url, stop, _ := startServe(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if _, err := pub.Register(ctx, "com.example.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := sub.Call(ctx, "com.example.echo", nil, wamp.List{1}, nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= 400*time.Millisecond {
		t.Fatalf("call took %v: results must not wait for the write delay", took)
	}

	got := make(chan time.Time, 3)
	if _, err := sub.Subscribe(ctx, "com.example.news", func(*client.Event) { got <- time.Now() }, nil); err != nil {
		t.Fatal(err)
	}
	publish := func(i int) {
		t.Helper()
		if err := pub.Publish(ctx, "com.example.news", wamp.Dict{"acknowledge": true}, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	next := func(i int) time.Time {
		t.Helper()
		select {
		case at := <-got:
			return at
		case <-ctx.Done():
			t.Fatalf("event %d never arrived", i)
			return time.Time{}
		}
	}
	// The subscriber's connection has been quiet: the first event goes out at once; the next
	// ones, published once it arrived, wait for the delay.
	published := time.Now()
	publish(0)
	first := next(0)
	if waited := first.Sub(published); waited >= 400*time.Millisecond {
		t.Fatalf("the first event waited %v: a quiet connection must not wait", waited)
	}
	publish(1)
	publish(2)
	next(1)
	if waited := next(2).Sub(first); waited < 200*time.Millisecond {
		t.Fatalf("the last event arrived %v after the first: the write delay was not applied", waited)
	}
	sub.Close()
	pub.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// limits.max_fragments bounds the frames one message may arrive in: a HELLO in more closes
// the connection with 1009 (the default is websocket.DefaultMaxFragments).
func TestMaxFragmentsFromConfig(t *testing.T) {
	leakcheck.Check(t)
	if cfg, err := loadConfig(""); err != nil || cfg.endpointOptions(cfg.Listeners[0], nil).Transport.MaxFragments != websocket.DefaultMaxFragments {
		t.Fatalf("default config: %v, max_fragments not %d", err, websocket.DefaultMaxFragments)
	}
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: realm1}]\nlimits: {max_fragments: 4}\n")
	url, stop, _ := startServe(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}()
	hello := []byte(`[1,"realm1",{"roles":{"caller":{}}}]`)
	for _, n := range []int{4, 5} { // fragments
		ws, _, err := (&gorilla.Dialer{Subprotocols: []string{"wamp.2.json"}}).Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		size := (len(hello) + n - 1) / n
		for i := 0; i < len(hello); i += size {
			b0 := byte(0) // continuation
			if i == 0 {
				b0 = 1 // text
			}
			end := min(i+size, len(hello))
			if end == len(hello) {
				b0 |= 0x80
			}
			// Masked with the all-zero key, so the payload goes as it is.
			frame := append([]byte{b0, 0x80 | byte(end-i), 0, 0, 0, 0}, hello[i:end]...)
			if _, err := ws.NetConn().Write(frame); err != nil {
				t.Fatal(err)
			}
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := ws.ReadMessage()
		var ce *gorilla.CloseError
		switch {
		case n == 4 && (err != nil || !bytes.HasPrefix(msg, []byte("[2,"))):
			t.Errorf("HELLO in 4 fragments: got %q, %v; want WELCOME", msg, err)
		case n == 5 && (!errors.As(err, &ce) || ce.Code != gorilla.CloseMessageTooBig):
			t.Errorf("HELLO in 5 fragments: got %q, %v; want close 1009", msg, err)
		}
		ws.Close()
	}
}
