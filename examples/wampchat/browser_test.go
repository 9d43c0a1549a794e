package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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
	Messages []chatLine `json:"messages"`
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
// list, and exchange a message each way; the test checks both pages' DOM. The screenshots
// go to $PAWL_SCREENSHOT_DIR when set (kept), else to the test's temporary directory.
func TestBrowserChat(t *testing.T) {
	requireBrowser(t)
	base := start(t)
	shots := os.Getenv("PAWL_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
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
	var result struct {
		Alice, Bob  pageDOM
		Screenshots map[string]string
		Problems    []string
		Extensions  map[string]string // each page's WebSocket handshake response, as Chromium saw it
	}
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

	if len(result.Problems) > 0 {
		t.Errorf("the pages reported errors:\n%s", strings.Join(result.Problems, "\n"))
	}
	for _, nick := range []string{"alice", "bob"} {
		// Chromium offers permessage-deflate on every WebSocket; the router accepts it.
		if ext, ok := result.Extensions[nick]; !ok || !strings.HasPrefix(ext, "permessage-deflate") {
			t.Errorf("%s's WebSocket: Sec-WebSocket-Extensions %q (seen: %v), want permessage-deflate", nick, ext, ok)
		}
	}
	aliceSays := chatLine{Nick: "alice", Text: "Hello Bob, this is Alice"}
	bobSays := chatLine{Nick: "bob", Text: "Hi Alice! Bob here"}
	for _, p := range []struct {
		name string
		dom  pageDOM
	}{{"alice", result.Alice}, {"bob", result.Bob}} {
		d := p.dom
		if d.Status != "connected" || d.Me != p.name || d.Room != "lobby" || d.OnlineCount != "2" {
			t.Errorf("%s's page: status %q, me %q, room %q, %s online", p.name, d.Status, d.Me, d.Room, d.OnlineCount)
		}
		var nicks []string
		for _, u := range d.Users {
			nicks = append(nicks, u.Nick)
			if u.Me != (u.Nick == p.name) {
				t.Errorf("%s's page marks %s as me=%v", p.name, u.Nick, u.Me)
			}
		}
		if !slices.Equal(nicks, []string{"alice", "bob"}) {
			t.Errorf("%s's page lists %v online, want [alice bob]", p.name, nicks)
		}
		want := []chatLine{aliceSays, bobSays}
		want[0].Mine, want[1].Mine = p.name == "alice", p.name == "bob"
		if !slices.Equal(d.Messages, want) {
			t.Errorf("%s's page shows %+v, want %+v", p.name, d.Messages, want)
		}
	}
	for name, path := range result.Screenshots {
		png, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
			t.Errorf("screenshot of %s's page: %d bytes, %v", name, len(png), err)
		}
		t.Logf("screenshot of %s's page: %s", name, path)
	}
}
