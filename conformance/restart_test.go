package conformance

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRestartReconnect stops pawl with SIGTERM while autobahn.js and Autobahn|Python clients
// are joined, starts it again on the same port, and expects every client to join again by
// itself, with its own automatic reconnection. A GOODBYE at shutdown would stop autobahn.js
// for good (its Connection never retries after a session ends with GOODBYE or ABORT,
// whatever the reason); pawl closes the connections instead (1001, reason
// wamp.close.system_shutdown).
func TestRestartReconnect(t *testing.T) {
	if os.Getenv(urlEnv) != "" {
		t.Skipf("%s is set: the test cannot restart a router it did not start", urlEnv)
	}
	requireNode(t)
	requirePython(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	first, url := launchRouter(t, addr)
	var clients []*scriptRun
	for _, ser := range []string{"json", "msgpack"} {
		clients = append(clients,
			startScript(t, "autobahn.js restart.js "+ser, func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "restart.js", url, ser)
			}),
			startScript(t, "Autobahn|Python restart.py "+ser, func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "restart.py", url, ser)
			}))
	}
	for _, c := range clients {
		c.waitLine(t, "open 1", 20*time.Second)
	}
	first.stop(t) // SIGTERM; fails the test unless pawl exits 0
	second, _ := launchRouter(t, addr)
	t.Cleanup(func() { second.stop(t) })
	for _, c := range clients {
		c.waitLine(t, "ok reconnected", 20*time.Second)
		<-c.done
		if c.err != nil {
			t.Errorf("%s: %v\nstdout:\n%s\nstderr:\n%s", c.name, c.err, c.stdout.String(), c.stderr.String())
		}
	}
}

// waitLine waits until the script has printed line (a whole line of its stdout).
func (r *scriptRun) waitLine(t *testing.T, line string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range strings.Split(r.stdout.String(), "\n") {
			if l == line {
				return
			}
		}
		select {
		case <-r.done:
			t.Fatalf("%s ended (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", r.name, r.err, line, r.stdout.String(), r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %v\nstdout:\n%s\nstderr:\n%s", r.name, line, timeout, r.stdout.String(), r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
