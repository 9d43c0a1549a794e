package httpbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// startPHPServer runs PHP's built-in server with a router script on a free loopback port
// until the test ends, and returns its base URL.
func startPHPServer(t *testing.T, script string, env ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	abs, _ := filepath.Abs(script)
	cmd := exec.Command("php", "-S", addr, abs)
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("php -S: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("php -S log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("php -S did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Events forwarded to a PHP page, and a procedure served by one, through PHP's own server.
func TestPHPEndpoints(t *testing.T) {
	e := newEnv(t)
	eventsFile := filepath.Join(t.TempDir(), "events.jsonl")
	const secret = "shared with the PHP endpoints"
	php := startPHPServer(t, "testdata/endpoint.php", "EVENTS_FILE="+eventsFile, "PAWL_SECRET="+secret)

	f, err := e.bridge.Forwarder(httpbridge.SubscriberConfig{Realm: "realm1", Role: "backend", Topic: "com.example.shop..paid",
		Match: "wildcard", URL: php + "/events", Headers: map[string]string{"Authorization": "Bearer php-token"}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ce, err := e.bridge.Callee(httpbridge.CalleeConfig{Realm: "realm1", Role: "backend", Procedure: "com.example.php.",
		Match: "prefix", URL: php + "/rpc", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, f.Joined())
	waitJoined(t, ce.Joined())

	c := e.client(t)
	ctx := context.Background()
	for i, shop := range []string{"berlin", "paris", "rome"} {
		if err := c.Publish(ctx, wamp.URI("com.example.shop."+shop+".paid"), wamp.Dict{"acknowledge": true},
			wamp.List{"order", i}, wamp.Dict{"shop": shop}); err != nil {
			t.Fatal(err)
		}
	}
	c.Publish(ctx, "com.example.shop.berlin.refunded", wamp.Dict{"acknowledge": true}, wamp.List{"not forwarded"}, nil)
	waitFor(t, func() bool { return f.Stats().Delivered == 3 }, "3 events delivered to PHP")
	raw, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var got struct {
			Topic, Publication, Authorization string
			Event                             struct {
				Args   []any
				Kwargs map[string]any
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		if got.Publication == "" || got.Authorization != "Bearer php-token" {
			t.Errorf("PHP saw headers %+v", got)
		}
		lines = append(lines, fmt.Sprintf("%s %v %v", got.Topic, got.Event.Args, got.Event.Kwargs))
	}
	want := []string{"com.example.shop.berlin.paid [order 0] map[shop:berlin]", "com.example.shop.paris.paid [order 1] map[shop:paris]",
		"com.example.shop.rome.paid [order 2] map[shop:rome]"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("PHP received\n%v\nwant (in order)\n%v", lines, want)
	}

	res, err := c.Call(ctx, "com.example.php.add2", nil, wamp.List{40, 2}, nil)
	if err != nil || fmt.Sprint(res.Args) != "[42]" {
		t.Errorf("add2 in PHP: %v %v", res, err)
	}
	res, err = c.Call(ctx, "com.example.php.greet", nil, nil, wamp.Dict{"name": "Ratchet"})
	if err != nil || fmt.Sprint(res.Args, res.Kwargs) != "[Hello, Ratchet] map[lang:php]" {
		t.Errorf("greet in PHP: %v %v", res, err)
	}
	_, err = c.Call(ctx, "com.example.php.nothing", nil, nil, nil)
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) || ae.URI != "com.example.error.unknown" || fmt.Sprint(ae.Args) != "[PHP serves no com.example.php.nothing]" {
		t.Errorf("unknown procedure in PHP: %v", err)
	}

	// A callee with the wrong secret: PHP refuses every invocation (401), and the caller
	// hears why.
	wrong, err := e.bridge.Callee(httpbridge.CalleeConfig{Realm: "realm1", Role: "backend", Procedure: "com.example.phpwrong.add2",
		URL: php + "/rpc", Secret: "guess"})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, wrong.Joined())
	_, err = c.Call(ctx, "com.example.phpwrong.add2", nil, wamp.List{1, 2}, nil)
	if !errors.As(err, &ae) || ae.URI != wamp.ErrRuntimeError || !strings.Contains(fmt.Sprint(ae.Args), "answered 401 Unauthorized") {
		t.Errorf("wrongly signed invocation: %v", err)
	}
}
