package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const browserHint = "run .ci/install-deps (from the repository root): it installs Debian chromium, php-cli and php-curl, runs npm ci in examples/php-push and builds the page's bundle"

// Two headless Chromium pages show the notifications page; a third submits the PHP app's
// form; both readers show the notification (as text: the markup in it stays text).
func TestBrowserPush(t *testing.T) {
	for _, f := range []string{"/usr/bin/chromium", "node_modules/playwright-core/package.json", "assets/autobahn.min.js"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s missing: %s", f, browserHint)
		}
	}
	base := start(t)
	php := startPHP(t, base)
	shots := os.Getenv("PAWL_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", "browser.mjs"), base, php, shots)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser script: %v (%s)\nstdout:\n%s\nstderr:\n%s", err, browserHint, stdout.String(), stderr.String())
	}
	type notification struct {
		Title, Body, At string
		Markup          int
	}
	var result struct {
		Readers map[string]struct {
			Status        string
			Notifications []notification
		}
		PHP         string
		Screenshots map[string]string
		Problems    []string
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
	if !regexp.MustCompile(`^Sent \(publication \d+\)\.$`).MatchString(result.PHP) {
		t.Errorf("the PHP page says %q", result.PHP)
	}
	if len(result.Readers) != 2 {
		t.Fatalf("readers %+v", result.Readers)
	}
	for name, r := range result.Readers {
		want := notification{Title: "Order #1042 shipped", Body: "It leaves the warehouse today <script>alert(1)</script>"}
		if r.Status != "connected" || len(r.Notifications) != 1 {
			t.Errorf("%s: status %q, notifications %+v", name, r.Status, r.Notifications)
			continue
		}
		got := r.Notifications[0]
		if got.Title != want.Title || got.Body != want.Body || got.Markup != 0 || !strings.HasSuffix(got.At, " UTC") {
			t.Errorf("%s shows %+v, want %+v as text", name, got, want)
		}
	}
	for name, path := range result.Screenshots {
		png, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 5_000 {
			t.Errorf("screenshot of %s: %d bytes, %v", name, len(png), err)
		}
		t.Logf("screenshot of %s: %s", name, path)
	}
}
