package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// nginxSite is the proxy configuration README.md ("Behind nginx") recommends, with the
// router's address filled in.
const nginxSite = `
    location /ws {
        proxy_pass http://%s;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 1h;
    }
`

// startNginx runs Debian's nginx in the foreground on a free loopback port, proxying to
// upstream (host:port) with the site configuration above. nginx connects to the router
// from bindAddr, so the test can tell the proxy's address from the client's.
func startNginx(t *testing.T, upstream, bindAddr string) (addr string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("nginx is not installed; run .ci/install-deps (Debian package nginx)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
        proxy_bind %[3]s;
%[4]s
    }
}
`, dir, addr, bindAddr, fmt.Sprintf(nginxSite, upstream))
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt) // fast shutdown
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nnginx error.log:\n%s", out, errLog)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-exited:
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out, errLog)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start listening within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A browser reaches the router through nginx, which rewrites Host to the upstream's address
// and forwards the page's host in X-Forwarded-Host: its Origin is accepted because nginx is a
// trusted proxy, and the meta API and the log show the browser's address (127.0.0.2 here),
// not nginx's (127.0.0.3).
func TestBehindNginx(t *testing.T) {
	leakcheck.Check(t)
	cfg := configFrom(t, `
listeners:
  - listen: 127.0.0.1:0
    trusted_proxies: [127.0.0.3]
    # The test's browser runs on this machine (127.0.0.2), so the host it asks nginx for is
    # held to the DNS rebinding rule; a real site's visitors are not local.
    allowed_hosts: [chat.example.test]
realms: [{name: realm1}]
log: {level: debug}
`)
	url, stop, logs := startServe(t, cfg)
	upstream := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	proxy := startNginx(t, upstream, "127.0.0.3")
	_, port, _ := net.SplitHostPort(proxy)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	site := "chat.example.test:" + port // the name the browser used (resolved by the dialer below)
	fromBrowser := func(origin string) (*client.Client, error) {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		return client.Dial(ctx, "ws://"+proxy+"/ws", "realm1", client.Options{
			Header: http.Header{"Host": {site}, "Origin": {origin}},
			Transport: websocket.Options{NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, proxy)
			}},
		})
	}
	c, err := fromBrowser("http://" + site)
	if err != nil {
		t.Fatalf("a page served by the proxied site could not connect through nginx: %v\nlogs:\n%s", err, logs)
	}
	defer c.Close()
	res, err := c.Call(ctx, "wamp.session.get", nil, wamp.List{c.ID()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	details, _ := res.Args[0].(wamp.Dict)
	tr, _ := details["transport"].(wamp.Dict)
	if peer, _ := tr["peer"].(string); !strings.HasPrefix(strings.TrimPrefix(peer, "tcp4:"), "127.0.0.2:") {
		t.Errorf("wamp.session.get transport.peer = %q, want the browser's address 127.0.0.2, not nginx's", peer)
	}

	// Another site's page is still refused, through the proxy.
	if c2, err := fromBrowser("http://evil.example"); err == nil {
		c2.Close()
		t.Error("a foreign origin was accepted through nginx")
	} else if !strings.Contains(err.Error(), "403") {
		t.Errorf("foreign origin: %v, want HTTP 403", err)
	}
	// DNS rebinding through nginx: a page on evil.example re-pointed at this machine.
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	rebound, err := client.Dial(ctx, "ws://"+proxy+"/ws", "realm1", client.Options{
		Header: http.Header{"Host": {"evil.example:" + port}, "Origin": {"http://evil.example:" + port}},
		Transport: websocket.Options{NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, proxy)
		}},
	})
	if err == nil {
		rebound.Close()
		t.Error("a DNS-rebound page was accepted through nginx")
	} else if !strings.Contains(err.Error(), "403") {
		t.Errorf("DNS-rebound page through nginx: %v, want HTTP 403", err)
	}
	if !strings.Contains(logs.String(), "remote=127.0.0.2") {
		t.Errorf("the router's log does not name the browser's address:\n%s", logs)
	}
	c.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// The first run: `pawl` with the embedded default config serves the README's browser
// snippet loaded from a development server on another local port, and Thruway's PHP client
// (ratchet/pawl), whose Origin has no port. `-allow-origin` adds a site's origin.
func TestFirstRunOrigins(t *testing.T) {
	// os/signal's watcher goroutine, started by the first Notify, lives for good.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR2)
	signal.Stop(sigs)
	leakcheck.Check(t)
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "-listen", "127.0.0.1:0", "-allow-origin", "https://app.example.com"}, logs, logs)
	}()
	var url string
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := listeningURL.FindStringSubmatch(logs.String()); m != nil {
			url = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pawl did not log its URL:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	join := func(origin string) error {
		c, err := client.Dial(ctx, url, "realm1", client.Options{Header: http.Header{"Origin": {origin}}})
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, origin := range []string{"http://localhost:5173", "http://127.0.0.1:3000", "http://127.0.0.1", "https://app.example.com"} {
		if err := join(origin); err != nil {
			t.Errorf("origin %s refused by the default config: %v", origin, err)
		}
	}
	if err := join("https://elsewhere.example"); err == nil {
		t.Error("a foreign origin was accepted by the default config")
	}
	if !strings.Contains(logs.String(), `allow_with="allowed_origins: [\"https://elsewhere.example\"]"`) {
		t.Errorf("the refusal is not logged with the setting that allows it:\n%s", logs)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM) // serve's signal handler catches it
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("pawl exited with %d:\n%s", code, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pawl did not stop on SIGTERM")
	}
}

// A loopback listener answers to the name in its listen address too (DNS rebinding
// protection accepts the listener's own names).
func TestListenNameIsAllowedHost(t *testing.T) {
	l := ListenerConfig{Listen: "pawl.internal:8080", AllowedHosts: []string{"alias.test"}}
	if got := l.allowedHosts(); !slices.Equal(got, []string{"alias.test", "pawl.internal"}) {
		t.Errorf("allowed hosts %v, want allowed_hosts and the listen name", got)
	}
	if got := (ListenerConfig{Listen: "127.0.0.1:8080"}).allowedHosts(); len(got) != 0 {
		t.Errorf("allowed hosts %v for an address", got)
	}
}
