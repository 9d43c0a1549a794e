package websocket_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/websocket"
)

// serve runs a transport server whose handler reports each connection and how its reads end.
func serve(t *testing.T, opts websocket.Options) (url string, conns chan *websocket.Conn, ended chan error) {
	t.Helper()
	return serveWith(t, opts, func(c *websocket.Conn) error {
		for {
			if _, err := c.Read(); err != nil {
				return err
			}
		}
	})
}

// serveWith is serve with a handler of the test's own, which returns how reading ended.
func serveWith(t *testing.T, opts websocket.Options, handle func(*websocket.Conn) error) (url string, conns chan *websocket.Conn, ended chan error) {
	t.Helper()
	leakcheck.Check(t)
	conns, ended = make(chan *websocket.Conn, 64), make(chan error, 64)
	h := websocket.HandlerFunc(func(c *websocket.Conn) {
		conns <- c
		ended <- handle(c)
	})
	srv := httptest.NewServer(websocket.NewServer(h, opts, nil))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), conns, ended
}

func dial(t *testing.T, url string, header http.Header) *gorilla.Conn {
	t.Helper()
	ws, _, err := gorilla.DefaultDialer.Dial(url, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func within(t *testing.T, ch <-chan error, d time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
		return nil
	}
}

// A peer that never answers pings is closed after PingInterval+PongTimeout; one that does
// stays connected for more than twice that. The pong timeout is loose enough that a loaded
// race run delaying one pong does not read as a dead peer.
func TestKeepaliveClosesDeadPeers(t *testing.T) {
	const pingInterval, pongTimeout = 50 * time.Millisecond, 250 * time.Millisecond
	u, _, ended := serve(t, websocket.Options{PingInterval: pingInterval, PongTimeout: pongTimeout})
	alive := dial(t, u, nil)
	go func() { // reading makes gorilla answer pings with pongs
		for {
			if _, _, err := alive.ReadMessage(); err != nil {
				return
			}
		}
	}()
	dial(t, u, nil) // never reads, so never pongs
	if err := within(t, ended, 5*time.Second, "closing the dead peer"); err == nil {
		t.Fatal("read ended without error")
	}
	select {
	case err := <-ended:
		t.Fatalf("the responsive peer was closed too: %v", err)
	case <-time.After(2 * (pingInterval + pongTimeout)):
	}
}

func TestAllowedOrigins(t *testing.T) {
	u, _, _ := serve(t, websocket.Options{AllowedOrigins: []string{"https://app.example.com", "*.trusted.org"}})
	cases := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"https://app.example.com", true},
		{"https://api.trusted.org", true},
		{"http://evil.example.net", false},
		{"https://app.example.com.evil.net", false},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, resp, err := gorilla.DefaultDialer.Dial(u, h)
		if ws != nil {
			ws.Close()
		}
		if tc.ok && err != nil {
			t.Errorf("origin %q refused: %v", tc.origin, err)
		}
		if !tc.ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %q: got %v, want HTTP 403", tc.origin, resp)
		}
	}
}

func TestSameHostOriginByDefault(t *testing.T) {
	u, _, _ := serve(t, websocket.Options{})
	parsed, _ := url.Parse(u)
	h := http.Header{"Origin": {"http://" + parsed.Host}}
	ws, _, err := gorilla.DefaultDialer.Dial(u, h)
	if err != nil {
		t.Fatalf("same-host origin refused: %v", err)
	}
	ws.Close()
	h.Set("Origin", "http://elsewhere.example")
	if ws, _, err := gorilla.DefaultDialer.Dial(u, h); err == nil {
		ws.Close()
		t.Fatal("cross-origin page accepted without an allow list")
	}
}

// The outbound queue is bounded in messages and bytes; Abort tells the peer why.
func TestQueueBoundAndAbort(t *testing.T) {
	u, conns, ended := serve(t, websocket.Options{QueueMessages: 3, QueueBytes: 1 << 20})
	ws := dial(t, u, nil)
	c := <-conns
	big := make([]byte, 512<<10)
	var full bool
	for i := 0; i < 100 && !full; i++ {
		err := c.Send(big)
		if errors.Is(err, websocket.ErrQueueFull) {
			full = true
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("queue never reported full for a peer that does not read")
	}
	c.Abort(websocket.CloseTryAgainLater, "slow consumer")
	var ce *gorilla.CloseError
	for {
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil {
			if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater || ce.Text != "slow consumer" {
				t.Errorf("peer saw %v, want close 1013 \"slow consumer\"", err)
			}
			break
		}
	}
	within(t, ended, 5*time.Second, "server read to end")
}

// A client's SendWait waits for room instead of failing, and gives up with its context.
func TestSendWait(t *testing.T) {
	u, conns, _ := serve(t, websocket.Options{})
	c, err := websocket.Dial(context.Background(), u, nil, nil, websocket.Options{QueueMessages: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Done()
	<-conns
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.SendWait(ctx, []byte("hello"))
		cancel()
		if err != nil {
			t.Fatalf("SendWait %d: %v", i, err)
		}
	}
}

// SetOptions applies to the connections accepted afterwards; the connections being served
// still count against MaxConnections.
func TestSetOptions(t *testing.T) {
	leakcheck.Check(t)
	h := websocket.HandlerFunc(func(c *websocket.Conn) {
		for {
			if _, err := c.Read(); err != nil {
				return
			}
		}
	})
	ts := websocket.NewServer(h, websocket.Options{MaxConnections: 1}, nil)
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	u := "ws" + strings.TrimPrefix(srv.URL, "http")
	const origin = "https://app.example.com"
	status := func() int {
		ws, resp, _ := gorilla.DefaultDialer.Dial(u, http.Header{"Origin": {origin}})
		if ws != nil {
			t.Cleanup(func() { ws.Close() })
		}
		if resp == nil {
			t.Fatal("no HTTP response")
		}
		return resp.StatusCode
	}
	if got := status(); got != http.StatusForbidden {
		t.Fatalf("origin %s before SetOptions: HTTP %d, want 403", origin, got)
	}
	dial(t, u, nil) // the one connection allowed
	ts.SetOptions(websocket.Options{MaxConnections: 2, AllowedOrigins: []string{origin}})
	if got := status(); got != http.StatusSwitchingProtocols {
		t.Fatalf("origin %s after SetOptions: HTTP %d, want 101", origin, got)
	}
	if got := status(); got != http.StatusServiceUnavailable {
		t.Fatalf("a third connection with MaxConnections 2: HTTP %d, want 503 (the first still counts)", got)
	}
}
