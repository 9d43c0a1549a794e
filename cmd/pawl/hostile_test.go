package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// Finding 8 of issue 17: an idle keep-alive connection (here after the 426 a plain GET of the
// WebSocket path gets) is closed after limits.http_idle_timeout instead of held forever.
func TestIdleHTTPConnectionsAreClosed(t *testing.T) {
	leakcheck.Check(t)
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: realm1}]\nlimits: {http_idle_timeout: 300ms}\n")
	url, stop, _ := startServe(t, cfg)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Close {
		t.Fatalf("status %d (close %v), want a kept-alive 426", resp.StatusCode, resp.Close)
	}
	// Idle now: the router must close the connection (well before this deadline).
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle keep-alive connection: read %v, want EOF (closed by the router)", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// The default HTTP timeouts are set, and a slow request header is cut off.
func TestDefaultHTTPTimeouts(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.HTTPIdleTimeout != 60*time.Second || l.HTTPReadTimeout != 30*time.Second || l.HTTPReadHeaderTimeout != 10*time.Second {
		t.Errorf("default HTTP timeouts: idle %v, read %v, read header %v", l.HTTPIdleTimeout, l.HTTPReadTimeout, l.HTTPReadHeaderTimeout)
	}
}

// Finding 7 of issue 17: the shipped default config does not let an anonymous session kill.
func TestDefaultConfigRefusesAnonymousKill(t *testing.T) {
	leakcheck.Check(t)
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[0].Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	url, stop, _ := startServe(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, proc := range []wamp.URI{"wamp.session.kill_all", "wamp.session.kill_by_authrole"} {
		_, err := a.Call(ctx, proc, nil, wamp.List{"anonymous"}, nil)
		var ae *wamp.ApplicationError
		if !errors.As(err, &ae) || ae.URI != wamp.ErrNotAuthorized {
			t.Errorf("%s as anonymous with the default config: %v, want %s", proc, err, wamp.ErrNotAuthorized)
		}
	}
	if _, err := b.Call(ctx, "wamp.session.count", nil, nil, nil); err != nil {
		t.Errorf("the other session: %v", err)
	}
	a.Close()
	b.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
