package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pubsubChecks are the checks js/pubsub_advanced.js and python/pubsub_advanced.py print,
// in order; README.md says what each covers.
var pubsubChecks = []string{
	"join",
	"broker_features",
	"prefix_subscription",
	"wildcard_subscription",
	"event_per_subscription",
	"exclude",
	"exclude_authid",
	"exclude_authrole",
	"eligible",
	"eligible_authid",
	"eligible_authrole",
	"eligible_and_exclude",
	"publisher_disclosure",
	"retained_event",
	"retained_listing",
	"subscription_on_create",
	"subscription_list",
	"subscription_lookup",
	"subscription_match",
	"subscription_get",
	"subscription_list_subscribers",
	"subscription_count_subscribers",
	"subscription_on_delete",
	"history_get_events",
	"session_on_join",
	"session_count",
	"session_list",
	"session_get",
	"session_kill",
	"session_on_leave",
	"session_kill_by_authid",
	"testament_killed_client",
	"session_kill_by_authrole",
	"session_kill_all",
	"leave",
}

// pubsubConfig is a pawl configuration with an event history for every topic the
// conformance scripts use (they all start with com.example.conformance.), kept in dataDir.
func pubsubConfig(t *testing.T, dataDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pawl.yaml")
	cfg := fmt.Sprintf(`listeners:
  - listen: 127.0.0.1:0
    path: /ws
realms:
  - name: %s
    anonymous: true
    anonymous_session_kill: true   # the scripts kill sessions as anonymous
    history:
      topics:
        - {topic: com.example.conformance., match: prefix, limit: 1000}
data_dir: %s
`, realm, dataDir)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pawlProcess is a pawl started with a configuration file, which a test may stop and start
// again (startRouter's routers live as long as their test).
type pawlProcess struct {
	routerProcess
	stopped bool
}

// startPawl starts pawl with the config file and returns it with its WebSocket URL. It is
// stopped (SIGTERM, exit status 0 expected) by stop or when the test ends.
func startPawl(t *testing.T, config string) (*pawlProcess, string) {
	t.Helper()
	if routerBin == "" {
		t.Fatal("pawl binary was not built (TestMain did not run?)")
	}
	p := &pawlProcess{routerProcess: routerProcess{done: make(chan struct{})}}
	p.cmd = exec.Command(routerBin, "serve", "-config", config)
	p.cmd.Stdout = &p.logs
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", routerBin, err)
	}
	urls := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stderr)
		scanner.Buffer(make([]byte, 64*1024), 1024*1024)
		found := false
		for scanner.Scan() {
			line := scanner.Text()
			fmt.Fprintln(&p.logs, line)
			if m := listeningURL.FindStringSubmatch(line); !found && m != nil && strings.Contains(line, "msg=listening") {
				found = true
				urls <- m[1]
			}
		}
		_, _ = io.Copy(&p.logs, stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case u := <-urls:
		return p, u
	case <-p.done:
		t.Fatalf("pawl exited before listening: %v\n%s", p.err, p.logs.String())
	case <-time.After(routerStartTimeout):
		t.Fatalf("pawl logged no msg=listening line within %v", routerStartTimeout)
	}
	return nil, ""
}

// stop ends pawl with SIGTERM and fails the test unless it exits with status 0.
func (p *pawlProcess) stop(t *testing.T) {
	if p.stopped {
		return
	}
	p.stopped = true
	p.routerProcess.stop(t)
}

// TestAdvancedPubSubAutobahnJS runs js/pubsub_advanced.js (autobahn.js) against pawl, once
// per serializer.
func TestAdvancedPubSubAutobahnJS(t *testing.T) {
	requireNode(t)
	for _, serializer := range []string{"json", "msgpack"} {
		t.Run(serializer, func(t *testing.T) {
			url := pubsubRouter(t)
			run := startScript(t, "autobahn.js pubsub_advanced.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "pubsub_advanced.js", url, serializer)
			})
			run.finish(t, pubsubChecks)
		})
	}
}

// TestAdvancedPubSubAutobahnPython runs python/pubsub_advanced.py (Autobahn|Python) against
// pawl, once per serializer.
func TestAdvancedPubSubAutobahnPython(t *testing.T) {
	requirePython(t)
	for _, serializer := range []string{"json", "msgpack"} {
		t.Run(serializer, func(t *testing.T) {
			url := pubsubRouter(t)
			run := startScript(t, "Autobahn|Python pubsub_advanced.py", func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "pubsub_advanced.py", url, serializer)
			})
			run.finish(t, pubsubChecks)
		})
	}
}

// pubsubRouter starts pawl with an event history, or returns PAWL_CONFORMANCE_URL (whose
// router must then keep a history for com.example.conformance.*).
func pubsubRouter(t *testing.T) string {
	t.Helper()
	if u := os.Getenv(urlEnv); u != "" {
		return u
	}
	_, url := startPawl(t, pubsubConfig(t, t.TempDir()))
	return url
}

// TestHistoryAfterRestart publishes with one client, restarts pawl on the same data
// directory, and reads the event history back with wamp.subscription.get_events: with
// autobahn.js (JSON, then MessagePack) and Autobahn|Python (MessagePack, then JSON).
func TestHistoryAfterRestart(t *testing.T) {
	if os.Getenv(urlEnv) != "" {
		t.Skipf("%s is set: this test restarts the router, so it needs its own", urlEnv)
	}
	clients := []struct {
		name       string
		require    func(*testing.T)
		command    func(ctx context.Context, args ...string) *exec.Cmd
		script     string
		ser1, ser2 string
	}{
		{"autobahn.js", requireNode, func(ctx context.Context, args ...string) *exec.Cmd {
			return nodeCommand(ctx, "pubsub_advanced.js", args...)
		}, "pubsub_advanced.js", "json", "msgpack"},
		{"Autobahn|Python", requirePython, func(ctx context.Context, args ...string) *exec.Cmd {
			return pythonCommand(ctx, "pubsub_advanced.py", args...)
		}, "pubsub_advanced.py", "msgpack", "json"},
	}
	for _, c := range clients {
		t.Run(strings.ReplaceAll(c.name, "|", "_"), func(t *testing.T) {
			c.require(t)
			config := pubsubConfig(t, t.TempDir())
			topic := fmt.Sprintf("com.example.conformance.restart.%d.%d", os.Getpid(), time.Now().UnixNano())

			p, url := startPawl(t, config)
			run := startScript(t, c.name+" "+c.script+" --history-publish", func(ctx context.Context) *exec.Cmd {
				return c.command(ctx, "--history-publish", url, c.ser1, topic)
			})
			run.finish(t, []string{"history_publish"})
			p.stop(t)
			if p.err != nil {
				t.Fatalf("pawl did not stop cleanly: %v", p.err)
			}

			_, url = startPawl(t, config)
			run = startScript(t, c.name+" "+c.script+" --history-read", func(ctx context.Context) *exec.Cmd {
				return c.command(ctx, "--history-read", url, c.ser2, topic)
			})
			run.finish(t, []string{"history_after_restart"})
		})
	}
}
