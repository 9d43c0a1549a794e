package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// clusterNodeTimeout is the test cluster's bound on a dead node's state.
const clusterNodeTimeout = time.Second

// clusterConfigs writes the config files of n pawl nodes clustered through embedded NATS
// servers on free loopback ports, and returns their paths and WebSocket URLs.
func clusterConfigs(t *testing.T, n int) (paths, urls []string) {
	t.Helper()
	dir := t.TempDir()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = freeLoopbackAddr(t)
	}
	for i := range n {
		listen := freeLoopbackAddr(t)
		cfg := fmt.Sprintf(`listeners:
  - listen: %s
    path: /ws
realms:
  - name: realm1
    anonymous: true
data_dir: %s
cluster:
  name: pawlproc
  node: node%d
  heartbeat: 100ms
  node_timeout: %s
  embedded:
    cluster_listen: %s
    routes: [%s]
`, listen, filepath.Join(dir, fmt.Sprintf("data%d", i+1)), i+1, clusterNodeTimeout, routes[i], strings.Join(routes, ", "))
		p := filepath.Join(dir, fmt.Sprintf("node%d.yaml", i+1))
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		urls = append(urls, "ws://"+listen+"/ws")
	}
	return paths, urls
}

// clusterPatience bounds each wait for a cluster node's log line. A node serves once
// JetStream has elected the leaders of its meta group and of the registrations bucket; on
// CI's loaded 2-core machine, under -race beside other packages, that once took over 20 s
// (each Raft election times out after 4–9 s, and a starved one runs again).
const clusterPatience = 90 * time.Second

// startClusterProcess starts one pawl cluster node from config without waiting for it.
func startClusterProcess(t *testing.T, config string) *pawlProcess {
	t.Helper()
	p := startRouterProcess(t, "", "serve", "-config", config)
	p.patience = clusterPatience
	return p
}

// startNodeProcess starts one pawl process and waits until it has joined its cluster.
func startNodeProcess(t *testing.T, config string) *pawlProcess {
	t.Helper()
	p := startClusterProcess(t, config)
	p.url(t)
	p.waitLog(t, 0, "cluster: joined")
	return p
}

func dialNode(t *testing.T, url string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var c *client.Client
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err = client.Dial(ctx, url, "realm1", client.Options{}); err == nil {
			break
		}
		if time.Now().After(deadline) { // refused while the node waits for its cluster
			t.Fatalf("dial %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Three pawl processes from the command line form one router: an Autobahn|Python client and
// an autobahn.js client on different nodes exchange events; a node killed with SIGKILL takes
// only its sessions, its subscriptions go within the bound, its sessions' testaments are
// published by a survivor; it restarts and rejoins.
func TestClusterOfThreeProcesses(t *testing.T) {
	configs, urls := clusterConfigs(t, 3)
	procs := make([]*pawlProcess, 3)
	for i := range procs { // all started first: each waits for the others' JetStream to claim its slot
		procs[i] = startClusterProcess(t, configs[i])
	}
	for _, p := range procs {
		p.url(t)
		p.waitLog(t, 0, "cluster: joined")
		p.waitLog(t, 0, "cluster: node up")
	}

	t.Run("Python and autobahn.js on different nodes", func(t *testing.T) {
		conformance, err := filepath.Abs(filepath.Join("..", "..", "conformance"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(conformance, "node_modules", "autobahn")); err != nil {
			t.Fatalf("conformance/node_modules missing (run .ci/install-deps): %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		py := exec.CommandContext(ctx, "/usr/bin/python3", filepath.Join(conformance, "python", "cluster_peer.py"), urls[1], "msgpack", "py", "js")
		py.Env = append(cliEnv(), "PYTHONDONTWRITEBYTECODE=1")
		js := exec.CommandContext(ctx, "node", filepath.Join(conformance, "js", "cluster_peer.js"), urls[2], "json", "js", "py")
		js.Dir = conformance
		var pyOut, jsOut []byte
		var pyErr, jsErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); pyOut, pyErr = py.CombinedOutput() }()
		go func() { defer wg.Done(); jsOut, jsErr = js.CombinedOutput() }()
		wg.Wait()
		if pyErr != nil || !strings.Contains(string(pyOut), `ok received ["js", `) {
			t.Errorf("Autobahn|Python on node 2: %v\n%s", pyErr, pyOut)
		}
		if jsErr != nil || !strings.Contains(string(jsOut), `ok received ["py",`) {
			t.Errorf("autobahn.js on node 3: %v\n%s", jsErr, jsOut)
		}
	})

	t.Run("kill -9 and rejoin", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		watcher := dialNode(t, urls[0])
		wills := make(chan *client.Event, 4)
		if _, err := watcher.Subscribe(ctx, "com.cluster.will", func(e *client.Event) { wills <- e }, nil); err != nil {
			t.Fatal(err)
		}
		doomed := dialNode(t, urls[2])
		if _, err := doomed.Call(ctx, "wamp.session.add_testament", nil, wamp.List{"com.cluster.will", wamp.List{"node 3 is gone"}}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := doomed.Subscribe(ctx, "com.cluster.doomed", func(*client.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
		lookup := func() any {
			res, err := watcher.Call(ctx, "wamp.subscription.lookup", nil, wamp.List{"com.cluster.doomed"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return res.Args[0]
		}
		for deadline := time.Now().Add(5 * time.Second); lookup() == nil; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("node 1 never saw node 3's subscription")
			}
		}

		killed := time.Now()
		procs[2].signal(t, syscall.SIGKILL)
		procs[2].wait(t)
		select {
		case e := <-wills:
			if len(e.Args) != 1 || e.Args[0] != "node 3 is gone" {
				t.Errorf("testament %v", e.Args)
			}
			if el := time.Since(killed); el > clusterNodeTimeout+2*time.Second {
				t.Errorf("testament came %v after the kill; bound %v", el, clusterNodeTimeout)
			}
		case <-time.After(clusterNodeTimeout + 10*time.Second):
			t.Fatal("no testament of node 3's session")
		}
		if got := lookup(); got != nil {
			t.Errorf("node 3's subscription still known on node 1 after the testament: %v", got)
		}
		// Meanwhile nodes 1 and 2 go on: publishing does not hang.
		other := dialNode(t, urls[1])
		got := make(chan *client.Event, 1)
		if _, err := other.Subscribe(ctx, "com.cluster.after", func(e *client.Event) { got <- e }, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := watcher.PublishAcknowledged(ctx, "com.cluster.after", nil, wamp.List{"still here"}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("node 2 missed node 1's event after node 3 died")
		}

		// Node 3 restarts on its data and rejoins.
		procs[2] = startNodeProcess(t, configs[2])
		back := dialNode(t, urls[2])
		again := make(chan *client.Event, 1)
		if _, err := back.Subscribe(ctx, "com.cluster.again", func(e *client.Event) { again <- e }, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := watcher.PublishAcknowledged(ctx, "com.cluster.again", nil, wamp.List{"welcome back"}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-again:
			if e.Args[0] != "welcome back" {
				t.Errorf("event %v", e.Args)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the restarted node 3 missed node 1's event")
		}
		procs[2].stop(t)
	})
	for _, p := range procs[:2] {
		p.stop(t)
	}
}
