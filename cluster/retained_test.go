package cluster_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// stoppable starts a router on n whose stop (router, member, node) the test calls itself, once.
func stoppable(t *testing.T, n *cluster.Node) (*testRouter, func()) {
	tr := startRouter(t, n)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			tr.rt.Shutdown(0)
			tr.member.Close()
			n.Close()
		})
	}
	t.Cleanup(stop)
	return tr, stop
}

// A retained event outlives the nodes alive when it was published: a router that starts later,
// and a node that restarts after a newer one was retained, hand the current one to a subscriber
// asking with get_retained at once (no waiting for any traffic), with its details and rules.
func TestRetainedReachNodesThatJoinLater(t *testing.T) {
	leakcheck.Check(t)
	cfgs := clustertest.Configs(t, 3)
	// Node 3 runs (JetStream needs a quorum of the three) but serves no realm yet: a router
	// that starts on it later has missed every publication.
	n1, n2, n3 := clustertest.Start(t, cfgs[0]), clustertest.Start(t, cfgs[1]), clustertest.Start(t, cfgs[2])
	clustertest.WaitReady(t, n1, n2, n3)
	r1, r2 := startRouter(t, n1), startRouter(t, n2)
	pub := r1.join(t, "alice", "user", "json")
	const topic wamp.URI = "com.example.late"
	if _, err := pub.PublishAcknowledged(ctxT(t), topic, wamp.Dict{"retain": true, "disclose_me": true},
		wamp.List{"v1"}, wamp.Dict{"k": 1}); err != nil {
		t.Fatal(err)
	}
	// Retained for eve only: nobody else may get it, on any node.
	if _, err := pub.PublishAcknowledged(ctxT(t), "com.example.late.private", wamp.Dict{"retain": true,
		"eligible_authid": wamp.List{"eve"}}, wamp.List{"secret"}, nil); err != nil {
		t.Fatal(err)
	}

	getRetained := func(t *testing.T, tr *testRouter, authid string, topic wamp.URI, match string) []*client.Event {
		t.Helper()
		c := tr.join(t, authid, "user", "msgpack")
		opts := wamp.Dict{"get_retained": true}
		if match != "" {
			opts["match"] = match
		}
		in, _ := subscribe(t, c, topic, opts)
		// The retained events are queued before SUBSCRIBED: the client hands them to the
		// handler a moment later.
		in.wait(t, 1)
		time.Sleep(50 * time.Millisecond)
		in.mu.Lock()
		defer in.mu.Unlock()
		return append([]*client.Event(nil), in.events...)
	}

	r3, stop3 := stoppable(t, n3)
	e := getRetained(t, r3, "bob", topic, "")
	if len(e) != 1 {
		t.Fatalf("subscriber on the node that started later got %d retained events at once, want 1", len(e))
	}
	if e[0].Args[0] != "v1" || e[0].Kwargs["k"] != uint64(1) && e[0].Kwargs["k"] != int64(1) ||
		e[0].Details["retained"] != true || e[0].Details["publisher_authid"] != "alice" {
		t.Errorf("retained event on node 3: args %v kwargs %v details %v", e[0].Args, e[0].Kwargs, e[0].Details)
	}
	if in := getRetained(t, r3, "bob", "com.example.la", "prefix"); len(in) != 1 || in[0].Args[0] != "v1" {
		t.Errorf("prefix subscriber not eligible for the private one got %d events, want only v1", len(in))
	}
	if in := getRetained(t, r3, "eve", "com.example.late.private", ""); len(in) != 1 || in[0].Args[0] != "secret" {
		t.Errorf("eligible subscriber on node 3 got %d retained events, want the private one", len(in))
	}

	// Node 3 goes; a newer event is retained meanwhile (on node 2); node 3 comes back with it.
	stop3()
	pub2 := r2.join(t, "carol", "user", "json")
	if _, err := pub2.PublishAcknowledged(ctxT(t), topic, wamp.Dict{"retain": true}, wamp.List{"v2"}, nil); err != nil {
		t.Fatal(err)
	}
	n3 = clustertest.Start(t, cfgs[2])
	clustertest.WaitReady(t, n1, n2, n3)
	r3 = startRouter(t, n3)
	if in := getRetained(t, r3, "bob", topic, ""); len(in) != 1 || in[0].Args[0] != "v2" {
		t.Fatalf("restarted node 3 handed out %d retained events (%v), want v2", len(in), in[0].Args)
	}
	// Every node agrees on the latest.
	for i, tr := range []*testRouter{r1, r2} {
		if in := getRetained(t, tr, "bob", topic, ""); len(in) != 1 || in[0].Args[0] != "v2" {
			t.Errorf("node %d: retained %d events, want v2", i+1, len(in))
		}
	}
}
