// Package clustertest starts real clusters for tests: N Pawl cluster nodes, each with an
// embedded nats-server (JetStream on) listening on free loopback ports and routed to the
// others, all in the test's process. Everything it starts is shut down by t.Cleanup.
package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/cluster"
)

// Fast liveness for tests: a dead node is called down within NodeTimeout plus one Heartbeat.
const (
	Heartbeat   = 100 * time.Millisecond
	NodeTimeout = 600 * time.Millisecond
)

// FreeAddr returns a loopback host:port nobody listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Configs are the cluster sections of n nodes named node1..noden, with embedded servers on
// free loopback ports routed to each other, stores in t's temporary directory, and test
// liveness bounds.
func Configs(t testing.TB, n int) []cluster.Config {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats-route://" + FreeAddr(t)
	}
	dir := t.TempDir()
	cfgs := make([]cluster.Config, n)
	for i := range cfgs {
		node := fmt.Sprintf("node%d", i+1)
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		cfgs[i] = cluster.Config{Name: "pawltest", Node: node, Heartbeat: Heartbeat, NodeTimeout: NodeTimeout,
			Replicas: min(n, 3), Embedded: &cluster.EmbeddedConfig{ClusterListen: routes[i][len("nats-route://"):], Routes: others,
				StoreDir: filepath.Join(dir, node)}}
	}
	return cfgs
}

// Start starts a node from cfg, closed by t.Cleanup; it does not wait for it to be ready.
func Start(t testing.TB, cfg cluster.Config) *cluster.Node {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("PAWL_TEST_LOG") != "" { // to see a cluster's log while debugging a test
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := cluster.Start(cfg, cluster.Options{Logger: log})
	if err != nil {
		t.Fatalf("start cluster node %s: %v", cfg.Node, err)
	}
	t.Cleanup(n.Close)
	return n
}

// StartNodes starts n nodes (Configs, then tweak on each config when given) and waits until
// every one serves and knows all the others.
func StartNodes(t testing.TB, n int, tweak func(*cluster.Config)) []*cluster.Node {
	t.Helper()
	cfgs := Configs(t, n)
	nodes := make([]*cluster.Node, n)
	for i, cfg := range cfgs {
		if tweak != nil {
			tweak(&cfg)
		}
		nodes[i] = Start(t, cfg)
	}
	WaitReady(t, nodes...)
	return nodes
}

// WaitReady waits until every node serves and knows each of the others: 60 s at most, as a
// starved Raft election on a loaded machine runs again only after 4–9 s.
func WaitReady(t testing.TB, nodes ...*cluster.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range nodes {
		if err := n.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for {
		all := true
		for _, n := range nodes {
			if len(n.Peers()) < len(nodes)-1 {
				all = false
			}
		}
		if all {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("nodes do not all know each other after 60s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
