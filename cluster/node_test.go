package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
)

// Three embedded servers form one cluster: every node claims its own slot, session IDs carry
// it, a message published on one node reaches the others, JetStream replicates, and a node
// that stops is called down by both others within its bound.
func TestThreeEmbeddedNodes(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)

	slots := map[int]bool{}
	for _, n := range nodes {
		if n.Err() != nil {
			t.Fatalf("%s: %v", n.Name(), n.Err())
		}
		slots[n.Slot()] = true
		id := n.SessionID()
		if cluster.SlotOf(id) != n.Slot() || id <= 0 || uint64(id) > 1<<53 {
			t.Fatalf("%s: session ID %d does not carry slot %d", n.Name(), id, n.Slot())
		}
	}
	if len(slots) != 3 {
		t.Fatalf("slots %v: want three distinct", slots)
	}

	// Core NATS across the routes.
	got := make(chan string, 1)
	sub, err := nodes[2].Conn().Subscribe("pawltest.test", func(m *nats.Msg) { got <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nodes[2].Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for received := false; !received; {
		_ = nodes[0].Conn().Publish("pawltest.test", []byte("hello"))
		select {
		case s := <-got:
			if s != "hello" {
				t.Fatalf("got %q", s)
			}
			received = true
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("node3 never received node1's message")
		}
	}

	// JetStream: a replicated bucket written on one node is read on another.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kv, err := nodes[0].JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "pawltest_kv", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	kv2, err := nodes[1].JetStream().KeyValue(ctx, "pawltest_kv")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv2.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("replicated get: %v %v", e, err)
	}

	// Node 3 stops: nodes 1 and 2 call it down, once each, within NodeTimeout and a beat.
	var mu sync.Mutex
	down := map[string][]string{}
	for _, n := range nodes[:2] {
		n.OnNodeDown(func(p cluster.Peer) {
			mu.Lock()
			down[n.Name()] = append(down[n.Name()], p.Name)
			mu.Unlock()
		})
	}
	stopped := time.Now()
	nodes[2].Close()
	for {
		mu.Lock()
		d1, d2 := len(down["node1"]), len(down["node2"])
		mu.Unlock()
		if d1 > 0 && d2 > 0 {
			break
		}
		if time.Since(stopped) > 5*clustertest.NodeTimeout {
			t.Fatalf("node3 not called down after %v: %v", time.Since(stopped), down)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if el := time.Since(stopped); el > clustertest.NodeTimeout+3*clustertest.Heartbeat {
		t.Errorf("node3 called down after %v, bound %v", el, clustertest.NodeTimeout)
	}
	time.Sleep(2 * clustertest.Heartbeat)
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"node1", "node2"} {
		if len(down[name]) != 1 || down[name][0] != "node3" {
			t.Errorf("%s called down %v, want [node3] once", name, down[name])
		}
	}
	if len(nodes[0].Peers()) != 1 {
		t.Errorf("node1 peers %v", nodes[0].Peers())
	}
}
