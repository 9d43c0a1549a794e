package conformance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clusterCallerChecks are what cluster_caller.js reports.
var clusterCallerChecks = []string{
	"cross_node_call_with_disclosure",
	"cross_node_progressive_results",
	"cross_node_timeout",
	"cross_node_cancel_kill",
	"cross_node_cancel_killnowait",
}

// Three pawl processes form a cluster (embedded nats-servers routed to each other): an
// Autobahn|Python callee registers on the first node, and autobahn.js callers on the second
// and third call it — disclosure, progressive results, timeout and cancel (kill, killnowait) cross nodes.
func TestClusterRPCAcrossNodes(t *testing.T) {
	if routerBin == "" {
		t.Fatal("pawl binary was not built (TestMain did not run?)")
	}
	requireNode(t)
	requirePython(t)
	urls, procs := startClusterProcesses(t, 3)

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	callee := startScript(t, "cluster_callee.py", func(ctx context.Context) *exec.Cmd {
		cmd := pythonCommand(ctx, "cluster_callee.py", urls[0], "msgpack")
		cmd.Stdin = stdinR
		return cmd
	})
	stdinR.Close()
	defer stdinW.Close()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(callee.stdout.String(), "ok registered") {
		select {
		case <-callee.done:
			t.Fatalf("the Python callee ended: %v\n%s\n%s", callee.err, callee.stdout.String(), callee.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Python callee did not register:\n%s\n%s", callee.stdout.String(), callee.stderr.String())
		}
	}
	for i, ser := range map[int]string{1: "json", 2: "cbor"} {
		t.Run(fmt.Sprintf("node%d-%s", i+1, ser), func(t *testing.T) {
			r := startScript(t, "cluster_caller.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "cluster_caller.js", urls[i], ser)
			})
			r.finish(t, clusterCallerChecks)
		})
	}
	// kill -9 of the callee's node while a call from node2 runs there: the call fails with
	// wamp.error.canceled once the others call the node down, and nothing hangs.
	waiter := startScript(t, "cluster_caller.js", func(ctx context.Context) *exec.Cmd {
		return nodeCommand(ctx, "cluster_caller.js", urls[1], "json", "until-node-dies")
	})
	for !strings.Contains(waiter.stdout.String(), "ok calling") || strings.Count(callee.stdout.String(), "ok invoked") < 7 {
		select {
		case <-waiter.done:
			t.Fatalf("the waiting caller ended early:\n%s\n%s", waiter.stdout.String(), waiter.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	interrupts := strings.Count(callee.stdout.String(), "ok interrupted")
	procs[0].killed = true
	killed := time.Now()
	if err := procs[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waiter.finish(t, []string{"calling", "canceled_when_node_died"})
	t.Logf("the call failed within %v of kill -9 of its callee's node (node_timeout 2s)", time.Since(killed).Round(10*time.Millisecond))
	stdinW.Close()
	<-callee.done
	// Each caller's timed-out call and two canceled calls interrupted the callee on another
	// node (counted before its node was killed, which drops its connection too).
	if interrupts != 6 {
		t.Errorf("the Python callee's handler was interrupted %d times, want 6 (a timeout and two cancels per caller)\n%s", interrupts, callee.stdout.String())
	}
}

// startClusterProcesses starts n pawl processes, each one node of a cluster with an embedded
// nats-server, and returns their WebSocket URLs. They start together: a node serves once
// JetStream has a quorum.
func startClusterProcesses(t *testing.T, n int) ([]string, []*routerProcess) {
	t.Helper()
	dir := t.TempDir()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats-route://" + freeLoopbackAddr(t)
	}
	procs := make([]*routerProcess, n)
	found := make([]chan string, n)
	for i := range procs {
		node := fmt.Sprintf("node%d", i+1)
		config := filepath.Join(dir, node+".yaml")
		yaml := fmt.Sprintf(`listeners:
  - listen: 127.0.0.1:0
data_dir: %s
realms:
  - name: realm1
    history:
      topics:
        - {topic: com.cluster., match: prefix, limit: 100}
history_store:
  type: jetstream
cluster:
  name: pawlconf
  node: %s
  heartbeat: 200ms
  node_timeout: 2s
  embedded:
    cluster_listen: %s
    routes: [%s]
`, filepath.Join(dir, node), node, strings.TrimPrefix(routes[i], "nats-route://"), strings.Join(routes, ", "))
		if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		p := &routerProcess{done: make(chan struct{})}
		p.cmd = exec.Command(routerBin, "serve", "-config", config)
		p.cmd.Stdout = &p.logs
		stderr, err := p.cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", routerBin, err)
		}
		procs[i] = p
		found[i] = make(chan string, 1)
		go func(p *routerProcess, found chan<- string) {
			scanner := bufio.NewScanner(stderr)
			scanner.Buffer(make([]byte, 64*1024), 1024*1024)
			sent := false
			for scanner.Scan() {
				line := scanner.Text()
				fmt.Fprintln(&p.logs, line)
				if m := listeningURL.FindStringSubmatch(line); !sent && m != nil && strings.Contains(line, "msg=listening") {
					sent = true
					found <- m[1]
				}
			}
			_, _ = io.Copy(&p.logs, stderr)
			p.err = p.cmd.Wait()
			close(p.done)
		}(p, found[i])
		t.Cleanup(func() {
			if p.killed {
				<-p.done
				return
			}
			p.stop(t)
		})
	}
	urls := make([]string, n)
	for i := range urls {
		select {
		case urls[i] = <-found[i]:
		case <-procs[i].done:
			t.Fatalf("node%d exited before listening: %v\n%s", i+1, procs[i].err, procs[i].logs.String())
		case <-time.After(60 * time.Second):
			t.Fatalf("node%d did not listen within 60s:\n%s", i+1, procs[i].logs.String())
		}
	}
	return urls, procs
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
