package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

// playwrightDir is where the repository's npm playwright-core is installed: by
// .ci/install-deps, for the wampchat example's browser test, which this test shares.
const playwrightDir = "../../examples/wampchat/node_modules/playwright-core"

const browserHint = "run .ci/install-deps (from the repository root): it installs Debian chromium and runs npm ci in examples/wampchat"

// Headless Chromium opens the status page of a router serving a ticket-authenticated session
// that subscribed to a topic and registered a procedure: the page lists the realm, the
// session (authid, authrole, transport, serializer, queue) and the subscription and
// registration, without an error. The screenshot goes to $PAWL_SCREENSHOT_DIR when set.
func TestStatusPageInBrowser(t *testing.T) {
	for _, f := range []string{"/usr/bin/chromium", filepath.Join(playwrightDir, "package.json")} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s missing: %s", f, browserHint)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found: %v; %s", err, browserHint)
	}
	r := startAdmin(t, routertest.Options{})
	joe := dial(t, r, client.Options{AuthID: "joe", Serializer: "msgpack",
		Credentials: client.Credentials{Ticket: ticketSecret}})
	if _, err := joe.Subscribe(ctxT(t), "com.example.news", func(*client.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := joe.Register(ctxT(t), "com.example.echo", echo, nil); err != nil {
		t.Fatal(err)
	}

	shots := os.Getenv("PAWL_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(shots, "pawl-status.png")
	abs, err := filepath.Abs(playwrightDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", "status.mjs"), r.Admin+"/status", shot, abs,
		"joe", "com.example.news")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser script: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var page struct {
		Realms                                 []string
		Sessions, Subscriptions, Registrations [][]string
		Updated, Error                         string
		Problems                               []string
	}
	found := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			if err := json.Unmarshal([]byte(line), &page); err != nil {
				t.Fatalf("result: %v\n%s", err, line)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("the browser script printed no result\nstderr:\n%s", stderr.String())
	}
	if len(page.Problems) > 0 || page.Error != "" {
		t.Errorf("the page reported errors: %v %q", page.Problems, page.Error)
	}
	if !slices.Equal(page.Realms, []string{"realm1"}) || !strings.HasPrefix(page.Updated, "updated ") {
		t.Errorf("realms %v, %q", page.Realms, page.Updated)
	}
	id := fmt.Sprint(joe.ID())
	// Columns: session, authid, authrole, auth method, transport, serializer, peer, queued messages, queued bytes.
	wantSession := []string{id, "joe", "user", "ticket", "websocket", "msgpack"}
	if !slices.ContainsFunc(page.Sessions, func(row []string) bool {
		return len(row) == 9 && slices.Equal(row[:6], wantSession) && row[6] != "" && row[7] == "0" && row[8] == "0"
	}) {
		t.Errorf("sessions on the page: %v, want a row starting %v with an empty queue", page.Sessions, wantSession)
	}
	if !slices.ContainsFunc(page.Subscriptions, func(row []string) bool {
		return len(row) == 4 && row[1] == "com.example.news" && row[2] == wamp.MatchExact && row[3] == id
	}) {
		t.Errorf("subscriptions on the page: %v", page.Subscriptions)
	}
	if !slices.ContainsFunc(page.Registrations, func(row []string) bool {
		return len(row) == 6 && row[1] == "com.example.echo" && row[3] == "single" && row[4] == id
	}) {
		t.Errorf("registrations on the page: %v", page.Registrations)
	}
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
	t.Logf("screenshot: %s", shot)
}
