package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/exampletest"
	"github.com/pawl-wamp/pawl/wamp"
)

// start runs the example on a free port until the test ends and returns its base URL.
func start(t *testing.T) string {
	return exampletest.Start(t, func(ctx context.Context, addr string, ready func(string)) error {
		return run(ctx, addr, defaultKey, defaultSecret, ready)
	})
}

// startPHP serves php/ with PHP's built-in server on a free port, pushing to base/push, and
// returns the PHP app's URL.
func startPHP(t *testing.T, base string, env ...string) string {
	t.Helper()
	if _, err := exec.LookPath("php"); err != nil {
		t.Fatalf("php not found (Debian php-cli and php-curl; .ci/install-deps installs them): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, _ := filepath.Abs("php")
	cmd := exec.Command("php", "-S", addr, "-t", dir)
	cmd.Env = append(append(os.Environ(), "PAWL_PUSH="+base+"/push"), env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("php -S log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("php -S did not start:\n%s", logs.String())
		}
	}
}

// submit posts the PHP page's form and returns the page it answers.
func submit(t *testing.T, phpURL, title, body string) string {
	t.Helper()
	resp, err := http.PostForm(phpURL+"/", url.Values{"title": {title}, "body": {body}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return string(page)
}

// The PHP page's form pushes a notification through the bridge; a subscriber gets it.
func TestPHPPushesNotification(t *testing.T) {
	base := start(t)
	php := startPHP(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", realmName, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan *client.Event, 4)
	if _, err := c.Subscribe(ctx, notifications, func(e *client.Event) { got <- e }, nil); err != nil {
		t.Fatal(err)
	}
	page := submit(t, php, "Deploy finished", "v2.3 is live <b>now</b>")
	if !strings.Contains(page, `<p id="result" class="ok">Sent (publication `) {
		t.Fatalf("the PHP page answered:\n%s", page)
	}
	select {
	case e := <-got:
		at, _ := e.Kwargs["at"].(string)
		if fmt.Sprint(e.Args) != "[Deploy finished v2.3 is live <b>now</b>]" || !strings.HasSuffix(at, " UTC") {
			t.Errorf("notification %v %v", e.Args, e.Kwargs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}

	// Browsers (role anonymous) may only listen: publishing there is not authorized.
	err = c.Publish(ctx, notifications, wamp.Dict{"acknowledge": true}, wamp.List{"fake", "news"}, nil)
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) || ae.URI != wamp.ErrNotAuthorized {
		t.Errorf("an anonymous publication: %v, want wamp.error.not_authorized", err)
	}
}

// A PHP app with the wrong secret is refused, and says so.
func TestPHPWrongSecret(t *testing.T) {
	base := start(t)
	php := startPHP(t, base, "PAWL_SECRET=guess")
	page := submit(t, php, "x", "y")
	if !strings.Contains(page, `class="error">Not sent: refused (401): pawl.bridge.error.invalid_signature: wrong signature`) {
		t.Errorf("the PHP page answered:\n%s", page)
	}
}
