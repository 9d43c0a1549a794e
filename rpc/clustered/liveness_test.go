package clustered_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// Three real cluster nodes (embedded nats-servers routed together, JetStream R3, heartbeats):
// a callee's node dies mid-call; its peers call it down within the node timeout, and the
// calls it was serving fail with wamp.error.canceled instead of hanging.
func TestCalleeNodeDiesOnRealCluster(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)
	meta := &metaLog{}
	dealers := make([]*pawlNode, 3)
	for i, n := range nodes {
		d := newDealer(t, n, func() int { return len(n.Peers()) }, rpc.Options{PublishMeta: meta.publish,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)).With("node", n.Name())})
		t.Cleanup(d.Close)
		n.OnNodeDown(func(p cluster.Peer) { d.NodeDown(p.Name, p.Epoch) })
		n.OnNodeUp(func(p cluster.Peer) { d.NodeUp(p.Name, p.Epoch) }) // as cmd/pawl wires it
		dealers[i] = &pawlNode{name: n.Name(), dealer: d}
	}
	for _, pn := range dealers {
		d := pn.dealer
		g := &fakepeer.Gate{OnLeave: d.Leave}
		dispatch.On(&g.Routes, d.Register)
		dispatch.On(&g.Routes, d.Unregister)
		dispatch.On(&g.Routes, d.Call)
		dispatch.On(&g.Routes, d.Cancel)
		dispatch.On(&g.Routes, d.Yield)
		dispatch.On(&g.Routes, d.Error)
		pn.srv = fakepeer.Serve(t, g)
	}
	callee := dealers[2].join(t, "callee")
	register(t, callee, "com.slow", nil)
	caller := dealers[0].join(t, "caller")
	// A call across nodes works, with progressive results.
	req := call(caller, "com.slow", wamp.Dict{"receive_progress": true}, "first")
	inv := fakepeer.Expect[*wamp.Invocation](t, callee)
	callee.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{"progress": true}, Payload: wamp.WithArgs("1")})
	callee.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.WithArgs("2")})
	if m := fakepeer.Expect[*wamp.Result](t, caller); m.Request != req || m.Details["progress"] != true {
		t.Fatalf("progressive result: %v", m)
	}
	if resultOf(t, caller, req) != "2" {
		t.Fatal("final result")
	}

	req = call(caller, "com.slow", nil, "second")
	fakepeer.Expect[*wamp.Invocation](t, callee)
	died := time.Now()
	nodes[2].Close() // its NATS server and connection go; the callee never answers
	m, err := caller.TryRecv(clustertest.NodeTimeout + 5*clustertest.Heartbeat + 2*time.Second)
	if err != nil || m == nil {
		t.Fatalf("the call to a dead node's callee got no answer (%v)", err)
	}
	if e, ok := m.(*wamp.Error); !ok || e.Request != req || e.Error != wamp.ErrCanceled {
		t.Fatalf("got %v, want wamp.error.canceled for %d", m, req)
	}
	t.Logf("the call failed %v after its callee's node died", time.Since(died).Round(time.Millisecond))
	// Calls skip the dead node's callees from the moment it is known down; the listing
	// follows once JetStream has a leader for the directory again (seconds on a loaded
	// 2-core machine).
	for _, pn := range dealers[:2] {
		deadline := time.Now().Add(30 * time.Second)
		for metaCall(t, pn, "wamp.registration.lookup", "com.slow") != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := metaCall(t, pn, "wamp.registration.lookup", "com.slow"); got != nil {
			t.Errorf("%s still lists the dead node's registration", pn.name)
		}
		t.Logf("%s dropped the dead node's registration %v after the node died", pn.name, time.Since(died).Round(time.Millisecond))
	}
	req = call(caller, "com.slow", nil)
	if e := fakepeer.Expect[*wamp.Error](t, caller); e.Request != req || e.Error != wamp.ErrNoSuchProcedure {
		t.Errorf("after the node died: %s", e.Error)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
