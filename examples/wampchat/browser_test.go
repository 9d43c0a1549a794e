package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/realm"
)

const browserHint = "run .ci/install-deps (from the repository root): it installs Debian chromium, runs npm ci in examples/wampchat and builds the page's bundle"

// pageDOM is what e2e/browser.mjs reads from one page.
type pageDOM struct {
	Status      string `json:"status"`
	Me          string `json:"me"`
	Room        string `json:"room"`
	OnlineCount string `json:"onlineCount"`
	Users       []struct {
		Nick string `json:"nick"`
		Me   bool   `json:"me"`
	} `json:"users"`
	Messages        []chatLine `json:"messages"`
	System          []string   `json:"system"`
	Width           int        `json:"width"`
	ScrollWidth     int        `json:"scrollWidth"`
	ComposerVisible bool       `json:"composerVisible"`
}

type chatLine struct {
	Nick string `json:"nick"`
	Text string `json:"text"`
	Mine bool   `json:"mine"`
}

// requireBrowser fails the test unless Chromium, node, playwright-core and the page's bundle
// are there: nothing is skipped.
func requireBrowser(t *testing.T) {
	t.Helper()
	for _, f := range []string{"/usr/bin/chromium", "node_modules/playwright-core/package.json", "web/vendor/autobahn.min.js"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s missing: %s", f, browserHint)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found: %v; %s", err, browserHint)
	}
}

// Two headless Chromium pages join the chat as alice and bob, see each other in the online
// list, and exchange a message each way; then carol joins late on a phone-sized page (375 px)
// and sees the conversation so far from the room's history, laid out without sideways
// scrolling. The test checks the pages' DOM. The screenshots
// go to $PAWL_SCREENSHOT_DIR when set (kept), else to the test's temporary directory.
func TestBrowserChat(t *testing.T) {
	requireBrowser(t)
	checkBrowserChat(t, runBrowser(t, start(t), "embedded"))
}

// The same with -router: the program runs no router; the page, served from the program's
// port, connects to a router on another loopback port — a cross-origin page the router
// admits as local development — and the chat service, an anonymous session there too, is
// still left out of the online list.
func TestBrowserChatExternalRouter(t *testing.T) {
	requireBrowser(t)
	r := externalRouter(t)
	checkBrowserChat(t, runBrowser(t, start(t), "external"))
	if n := r.Realm.SessionCount(); n < 1 {
		t.Errorf("the external router serves %d sessions", n)
	}
}

// browserResult is what e2e/browser.mjs reports.
type browserResult struct {
	Alice, Bob  pageDOM
	Carol       pageDOM
	Screenshots map[string]string
	Problems    []string
}

// runBrowser runs e2e/browser.mjs against the page at base; screenshots are named with tag.
func runBrowser(t *testing.T, base, tag string) browserResult {
	t.Helper()
	shots := os.Getenv("PAWL_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(filepath.Join(shots, tag), 0o755); err != nil {
		t.Fatal(err)
	} else {
		shots = filepath.Join(shots, tag)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", "browser.mjs"), base, shots)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser script: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var result browserResult
	found := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			if err := json.Unmarshal([]byte(line), &result); err != nil {
				t.Fatalf("result: %v\n%s", err, line)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("the browser script printed no result\nstderr:\n%s", stderr.String())
	}
	return result
}

func checkBrowserChat(t *testing.T, result browserResult) {
	t.Helper()
	if len(result.Problems) > 0 {
		t.Errorf("the pages reported errors:\n%s", strings.Join(result.Problems, "\n"))
	}
	aliceSays := chatLine{Nick: "alice", Text: "Hello Bob, this is Alice"}
	bobSays := chatLine{Nick: "bob", Text: "Hi Alice! Bob here"}
	for _, p := range []struct {
		name string
		dom  pageDOM
	}{{"alice", result.Alice}, {"bob", result.Bob}} {
		d := p.dom
		if d.Status != "connected" || d.Me != p.name || d.Room != "lobby" || d.OnlineCount != "3" {
			t.Errorf("%s's page: status %q, me %q, room %q, %s online", p.name, d.Status, d.Me, d.Room, d.OnlineCount)
		}
		var nicks []string
		for _, u := range d.Users {
			nicks = append(nicks, u.Nick)
			if u.Me != (u.Nick == p.name) {
				t.Errorf("%s's page marks %s as me=%v", p.name, u.Nick, u.Me)
			}
		}
		if !slices.Equal(nicks, []string{"alice", "bob", "carol"}) {
			t.Errorf("%s's page lists %v online, want [alice bob carol]", p.name, nicks)
		}
		want := []chatLine{aliceSays, bobSays}
		want[0].Mine, want[1].Mine = p.name == "alice", p.name == "bob"
		if !slices.Equal(d.Messages, want) {
			t.Errorf("%s's page shows %+v, want %+v", p.name, d.Messages, want)
		}
	}
	// carol came late, on a phone: the two earlier messages come from the history, under a
	// note saying so, and the page fits the screen.
	c := result.Carol
	if c.Status != "connected" || c.Me != "carol" {
		t.Errorf("carol's page: status %q, me %q", c.Status, c.Me)
	}
	if !slices.Equal(c.Messages, []chatLine{aliceSays, bobSays}) {
		t.Errorf("carol, who joined late, sees %+v, want the earlier %+v and %+v", c.Messages, aliceSays, bobSays)
	}
	if !slices.Contains(c.System, "Earlier messages") {
		t.Errorf("carol's page does not mark the earlier messages: %q", c.System)
	}
	if c.Width != 375 || c.ScrollWidth > c.Width || !c.ComposerVisible {
		t.Errorf("at phone width: viewport %d px, content %d px wide, message box visible %v", c.Width, c.ScrollWidth, c.ComposerVisible)
	}
	if len(result.Screenshots) != 3 {
		t.Errorf("screenshots: %v", result.Screenshots)
	}
	for name, path := range result.Screenshots {
		png, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
			t.Errorf("screenshot of %s's page: %d bytes, %v", name, len(png), err)
		}
		t.Logf("screenshot of %s's page: %s", name, path)
	}
}

// serveRouter runs a router for realm1 on addr until stop, which shuts it down as pawl does
// on SIGTERM: stop accepting, then close every session's connection (1001,
// wamp.close.system_shutdown).
func serveRouter(t *testing.T, addr string) (stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rt := realm.NewRouter(nil)
	rt.AddRealm(realm.New(realm.Config{Name: realmName}, nil))
	mux := http.NewServeMux()
	mux.Handle("/ws", rt.WebSocketHandler(realm.EndpointOptions{}))
	hs := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hs.Shutdown(ctx)
			rt.Shutdown(2 * time.Second)
			<-served
		})
	}
	t.Cleanup(stop)
	return stop
}

// A browser page survives a restart of the router: autobahn.js in Chromium reconnects by
// itself after the router closed its connection on shutdown (a GOODBYE would have stopped
// it for good), the chat service (the Go client with a ReconnectPolicy) rejoins and
// registers its procedures again, the page takes its nickname back, and a message sent after
// the restart goes through.
func TestBrowserSurvivesRouterRestart(t *testing.T) {
	requireBrowser(t)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	stopFirst := serveRouter(t, addr)
	routerURL = "ws://" + addr + "/ws"
	t.Cleanup(func() { routerURL = "" })
	base := start(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", "restart.mjs"), base)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	next := func() string {
		if !lines.Scan() {
			cmd.Wait()
			t.Fatalf("the restart script ended early\nstderr:\n%s", stderr.String())
		}
		return lines.Text()
	}
	if l := next(); l != "READY" {
		t.Fatalf("restart script: %q\nstderr:\n%s", l, stderr.String())
	}
	stopFirst()
	serveRouter(t, addr) // the same port
	io.WriteString(stdin, "restarted\n")
	var result struct {
		Status, Me      string
		ComposerEnabled bool
		Statuses        []string
	}
	line, ok := strings.CutPrefix(next(), "RESULT ")
	if !ok {
		t.Fatalf("no result: %q\nstderr:\n%s", line, stderr.String())
	}
	if err := json.Unmarshal([]byte(line), &result); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restart script: %v\nstderr:\n%s", err, stderr.String())
	}
	if result.Status != "connected" || result.Me != "alice" || !result.ComposerEnabled {
		t.Errorf("after the restart the page shows %+v", result)
	}
	if !slices.Contains(result.Statuses, "reconnecting…") {
		t.Errorf("the page never said it was reconnecting: %q", result.Statuses)
	}
}
