package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

var rawSocketURL = regexp.MustCompile(`rawsocket"?[=:]"?((?:rss?|unix)://[^\s"]+)`)

// TestServeRawSocket: the three ways a config serves RawSocket — on the WebSocket port, on a
// TCP listener of its own and on a Unix socket — each carry a session that talks to a
// WebSocket session through the router.
func TestServeRawSocket(t *testing.T) {
	leakcheck.Check(t)
	sock := filepath.Join(t.TempDir(), "pawl.sock")
	cfg := configFrom(t, fmt.Sprintf(`listeners:
  - {listen: '127.0.0.1:0'}
  - {type: rawsocket, listen: '127.0.0.1:0'}
  - {type: rawsocket, unix: %q}
realms: [{name: realm1}]
`, sock))
	wsURL, stop, logs := startServe(t, cfg)
	var urls []string
	deadline := time.Now().Add(5 * time.Second)
	for len(urls) < 3 {
		urls = nil
		for _, m := range rawSocketURL.FindAllStringSubmatch(logs.String(), -1) {
			urls = append(urls, m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("listeners logged %v; logs:\n%s", urls, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := "unix://" + sock; urls[2] != want {
		t.Errorf("unix listener logged %s, want %s", urls[2], want)
	}
	if strings.TrimPrefix(urls[0], "rs://") != strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/ws") {
		t.Errorf("WebSocket listener %s logged RawSocket at %s, want its own port", wsURL, urls[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := client.Dial(ctx, wsURL, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, u := range urls {
		t.Run(u[:strings.Index(u, ":")], func(t *testing.T) {
			c, err := client.Dial(ctx, u, "realm1", client.Options{Serializer: "msgpack"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echoThrough(t, ctx, c, ws, u)
		})
	}
	ws.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// echoThrough registers an echo procedure on callee and calls it from caller with value: a
// call that crosses the router from one session's transport to the other's.
func echoThrough(t *testing.T, ctx context.Context, callee, caller *client.Client, value string) {
	t.Helper()
	reg, err := callee.Register(ctx, "test.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Unregister(ctx, reg)
	res, err := caller.Call(ctx, "test.echo", nil, wamp.List{value}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Args) != 1 || res.Args[0] != value {
		t.Fatalf("echo of %q: %v", value, res.Args)
	}
}

func TestRawSocketConfigErrors(t *testing.T) {
	cases := map[string]string{
		"unknown type":           "listeners: [{type: carrier-pigeon, listen: '127.0.0.1:0'}]\nrealms: [{name: r}]\n",
		"listen and unix":        "listeners: [{type: rawsocket, listen: '127.0.0.1:0', unix: /tmp/x.sock}]\nrealms: [{name: r}]\n",
		"websocket on unix":      "listeners: [{unix: /tmp/x.sock}]\nrealms: [{name: r}]\n",
		"path on rawsocket":      "listeners: [{type: rawsocket, listen: '127.0.0.1:0', path: /ws}]\nrealms: [{name: r}]\n",
		"tls on a unix socket":   "listeners: [{type: rawsocket, unix: /tmp/x.sock, tls: {cert: a, key: b}}]\nrealms: [{name: r}]\n",
		"rawsocket on rawsocket": "listeners: [{type: rawsocket, listen: '127.0.0.1:0', rawsocket: false}]\nrealms: [{name: r}]\n",
		"unix_mode not octal":    "listeners: [{type: rawsocket, unix: /tmp/x.sock, unix_mode: '0989'}]\nrealms: [{name: r}]\n",
		"unix_mode beyond 0777":  "listeners: [{type: rawsocket, unix: /tmp/x.sock, unix_mode: '4770'}]\nrealms: [{name: r}]\n",
		"unix_mode on TCP":       "listeners: [{type: rawsocket, listen: '127.0.0.1:0', unix_mode: '0660'}]\nrealms: [{name: r}]\n",
		"unknown unix_group":     "listeners: [{type: rawsocket, unix: /tmp/x.sock, unix_group: no-such-group-here}]\nrealms: [{name: r}]\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "pawl.yaml", text)
			if _, err := loadConfig(path); err == nil {
				t.Errorf("config accepted:\n%s", text)
			}
		})
	}
}
