package websocket_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/websocket"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// admissionServer serves opts on a loopback port (httptest listens on 127.0.0.1) and hands
// over each accepted connection; the log is captured.
func admissionServer(t *testing.T, opts websocket.Options) (url, hostport string, conns chan *websocket.Conn, log *syncBuffer) {
	t.Helper()
	leakcheck.Check(t)
	log = &syncBuffer{}
	conns = make(chan *websocket.Conn, 16)
	h := websocket.HandlerFunc(func(c *websocket.Conn) {
		conns <- c
		for {
			if _, err := c.Read(); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(websocket.NewServer(h, opts, slog.New(slog.NewTextHandler(log, nil))))
	t.Cleanup(srv.Close)
	hostport = strings.TrimPrefix(srv.URL, "http://")
	return "ws://" + hostport + "/", hostport, conns, log
}

// upgrade dials with the given headers ("Host" sets the request's Host) and returns the
// HTTP status and, for a refusal, the JSON body's error code and message.
func upgrade(t *testing.T, url string, h http.Header) (status int, code, message string) {
	t.Helper()
	ws, resp, err := gorilla.DefaultDialer.Dial(url, h)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols, "", ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var refusal struct{ Error, Message string }
	if err := json.Unmarshal(body, &refusal); err != nil {
		t.Fatalf("HTTP %d with a body that is not JSON: %q", resp.StatusCode, body)
	}
	return resp.StatusCode, refusal.Error, refusal.Message
}

// The README's browser snippet served by a dev server on another local port connects to a
// loopback listener with the default (empty) allow list, and so does Thruway's PHP client,
// whose Origin has no port. Pages elsewhere are refused with a JSON body naming the setting,
// and the log names the origin and the config line that would allow it.
func TestLoopbackAllowsLocalDevelopmentOrigins(t *testing.T) {
	u, _, _, log := admissionServer(t, websocket.Options{})
	for _, origin := range []string{
		"http://localhost:5173", "http://127.0.0.1:3000", "https://[::1]:8443",
		"http://127.0.0.1", // ratchet/pawl (Thruway's client)
		"http://localhost",
	} {
		if status, code, msg := upgrade(t, u, http.Header{"Origin": {origin}}); status != http.StatusSwitchingProtocols {
			t.Errorf("local development origin %s refused: %d %s %s", origin, status, code, msg)
		}
	}
	for _, origin := range []string{"http://evil.example", "https://localhost.evil.example", "file://localhost"} {
		status, code, msg := upgrade(t, u, http.Header{"Origin": {origin}})
		if status != http.StatusForbidden || code != "origin_not_allowed" || !strings.Contains(msg, "allowed_origins") {
			t.Errorf("origin %s: got %d %q %q, want 403 origin_not_allowed naming allowed_origins", origin, status, code, msg)
		}
	}
	if got := log.String(); !strings.Contains(got, `origin=http://evil.example`) ||
		!strings.Contains(got, `allow_with="allowed_origins: [\"http://evil.example\"]"`) {
		t.Errorf("the refusal log does not name the origin and the setting that would allow it:\n%s", got)
	}
}

// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends Host and
// Origin evil.example, which look "same host". A loopback listener wants a loopback name.
func TestLoopbackRefusesForeignHostNames(t *testing.T) {
	u, hostport, _, _ := admissionServer(t, websocket.Options{AllowedHosts: []string{"pawl.internal"}})
	_, port, _ := strings.Cut(hostport, ":")
	for _, h := range []http.Header{
		{"Host": {"evil.example:" + port}, "Origin": {"http://evil.example:" + port}},
		{"Host": {"evil.example:" + port}}, // not a browser: still not a name of this listener
	} {
		status, code, msg := upgrade(t, u, h)
		if status != http.StatusForbidden || code != "host_not_allowed" || !strings.Contains(msg, "DNS rebinding") {
			t.Errorf("%v: got %d %q %q, want 403 host_not_allowed", h, status, code, msg)
		}
	}
	machine, _ := os.Hostname() // Debian resolves it to 127.0.1.1
	for _, host := range []string{hostport, "localhost:" + port, "app.localhost:" + port, "[::1]:" + port, "pawl.internal:" + port, machine + ":" + port} {
		h := http.Header{"Host": {host}, "Origin": {"http://" + host}}
		if status, code, msg := upgrade(t, u, h); status != http.StatusSwitchingProtocols {
			t.Errorf("Host %s refused: %d %s %s", host, status, code, msg)
		}
	}
}

// Behind a trusted reverse proxy the forwarded client address is the connection's, and the
// origin is judged against the host and scheme the proxy forwards (nginx rewrites Host to
// its upstream's by default). Without trust, the same headers change nothing.
func TestTrustedProxyForwardsClientAndHost(t *testing.T) {
	proxied := http.Header{
		"Host":              {"127.0.0.1:9"}, // nginx's default: the upstream's address
		"Origin":            {"https://app.example.com"},
		"X-Forwarded-For":   {"198.51.100.1, 203.0.113.7"}, // the first one was made up by the client
		"X-Forwarded-Host":  {"app.example.com"},
		"X-Forwarded-Proto": {"https"},
	}
	t.Run("trusted", func(t *testing.T) {
		u, _, conns, _ := admissionServer(t, websocket.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		if status, code, msg := upgrade(t, u, proxied); status != http.StatusSwitchingProtocols {
			t.Fatalf("proxied browser refused: %d %s %s", status, code, msg)
		}
		c := <-conns
		if got := c.RemoteAddr().String(); got != "203.0.113.7:0" {
			t.Errorf("RemoteAddr = %s, want the forwarded client 203.0.113.7:0", got)
		}
		if got := c.Request().RemoteAddr; got != "203.0.113.7:0" {
			t.Errorf("Request().RemoteAddr = %s, want the forwarded client", got)
		}
		rfc := http.Header{"Host": {"127.0.0.1:9"}, "Origin": {"https://app.example.com"},
			"Forwarded": {`for="[2001:db8::7]:4711";host=app.example.com;proto=https`}}
		if status, code, msg := upgrade(t, u, rfc); status != http.StatusSwitchingProtocols {
			t.Fatalf("RFC 7239 proxied browser refused: %d %s %s", status, code, msg)
		}
		if got := (<-conns).RemoteAddr().String(); got != "[2001:db8::7]:4711" {
			t.Errorf("RemoteAddr = %s, want [2001:db8::7]:4711", got)
		}
		// A proxied page is judged by the forwarded host: another site is refused, and local
		// development origins are not special for a remote client.
		for _, origin := range []string{"https://evil.example", "http://localhost:3000", "http://app.example.com"} {
			h := proxied.Clone()
			h.Set("Origin", origin)
			if status, code, _ := upgrade(t, u, h); status != http.StatusForbidden || code != "origin_not_allowed" {
				t.Errorf("proxied origin %s: got %d %s, want 403", origin, status, code)
			}
		}
	})
	t.Run("local browser through the proxy", func(t *testing.T) {
		// DNS rebinding through a proxy on the same machine: the forwarded host is judged.
		u, _, _, _ := admissionServer(t, websocket.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
		rebound := http.Header{"Host": {"127.0.0.1:9"}, "Origin": {"http://evil.example"},
			"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"http"}}
		if status, code, _ := upgrade(t, u, rebound); status != http.StatusForbidden || code != "host_not_allowed" {
			t.Errorf("a rebound page through a local proxy: %d %s, want 403 host_not_allowed", status, code)
		}
		local := rebound.Clone()
		local.Set("X-Forwarded-Host", "localhost:8443")
		local.Set("Origin", "http://localhost:5173")
		if status, code, msg := upgrade(t, u, local); status != http.StatusSwitchingProtocols {
			t.Errorf("a local development page through a local proxy: %d %s %s", status, code, msg)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		u, _, conns, _ := admissionServer(t, websocket.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		if status, code, _ := upgrade(t, u, proxied); status != http.StatusForbidden || code != "origin_not_allowed" {
			t.Errorf("forwarding headers from an untrusted peer were believed: %d %s", status, code)
		}
		h := proxied.Clone()
		h.Del("Origin")
		if status, _, _ := upgrade(t, u, h); status != http.StatusSwitchingProtocols {
			t.Fatalf("non-browser refused: %d", status)
		}
		if got := (<-conns).RemoteAddr().String(); !strings.HasPrefix(got, "127.0.0.1:") {
			t.Errorf("RemoteAddr = %s: an untrusted peer's X-Forwarded-For was believed", got)
		}
	})
}
