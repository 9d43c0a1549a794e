package clustered_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/rpc/clustered"
	"github.com/pawl-wamp/pawl/wamp"
)

// realmNode is a router with realm1 on one cluster node, its dealer clustered and its broker
// on the cluster's bus, wired as cmd/pawl wires them.
func realmNode(t *testing.T, n *cluster.Node) *realm.Router {
	t.Helper()
	rt := realm.NewRouter(nil)
	m, err := cluster.Join(n, rt)
	if err != nil {
		t.Fatal(err)
	}
	rc := realm.Config{Name: "realm1", Roles: []authz.Role{{Name: "user",
		Permissions: []authz.Permission{{URI: "", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true}}}}}
	m.ConfigureRealm(&rc)
	rc.NewDealer = func(opts rpc.Options) rpc.Dealer {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		d, err := clustered.New(ctx, clustered.Options{Node: n, Realm: rc.Name, Local: opts,
			Peers: func() int { return len(n.Peers()) }})
		if err != nil {
			t.Fatal(err)
		}
		n.OnNodeDown(func(p cluster.Peer) { d.NodeDown(p.Name, p.Epoch) })
		n.OnNodeUp(func(p cluster.Peer) { d.NodeUp(p.Name, p.Epoch) })
		return d
	}
	rt.AddRealm(realm.New(rc, nil))
	t.Cleanup(func() { // before the node's Close (cleanups run last-in first-out)
		rt.Shutdown(0)
		m.Close()
	})
	return rt
}

func joinRealm(t *testing.T, rt *realm.Router) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rt.ServiceClient(ctx, "realm1", "user", client.Options{AuthID: "someone"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Through whole realms on three cluster nodes: a call on node3 reaches a callee on node1,
// and registration meta events reach a subscriber on node2, once each.
func TestRealmsOnThreeNodes(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)
	routers := make([]*realm.Router, 3)
	for i, n := range nodes {
		routers[i] = realmNode(t, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	watcher := joinRealm(t, routers[1])
	var mu sync.Mutex
	seen := map[string][]wamp.List{}
	got := make(chan struct{}, 16)
	for _, topic := range []wamp.URI{"wamp.registration.on_create", "wamp.registration.on_register"} {
		topic := topic
		if _, err := watcher.Subscribe(ctx, topic, func(e *client.Event) {
			mu.Lock()
			seen[string(topic)] = append(seen[string(topic)], e.Args)
			mu.Unlock()
			got <- struct{}{}
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the subscription's interest reaches the other nodes

	callee := joinRealm(t, routers[0])
	reg, err := callee.Register(ctx, "com.realm.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := wamp.AsInt64(inv.Args[0])
		b, _ := wamp.AsInt64(inv.Args[1])
		return &client.Result{Args: wamp.List{a + b, inv.Details["caller"]}}, nil
	}, wamp.Dict{"disclose_caller": true})
	if err != nil {
		t.Fatal(err)
	}
	caller := joinRealm(t, routers[2])
	res, err := caller.Call(ctx, "com.realm.add", nil, wamp.List{2, 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum, _ := wamp.AsInt64(res.Args[0]); sum != 5 {
		t.Errorf("result %v", res.Args)
	}
	if id, _ := wamp.AsID(res.Args[1]); id != caller.ID() {
		t.Errorf("disclosed caller %v, want %d", res.Args[1], caller.ID())
	}
	for i := 0; i < 2; i++ {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatalf("meta events on node2: %v", seen)
		}
	}
	time.Sleep(100 * time.Millisecond) // no duplicates
	mu.Lock()
	defer mu.Unlock()
	if len(seen["wamp.registration.on_create"]) != 1 || len(seen["wamp.registration.on_register"]) != 1 {
		t.Fatalf("meta events on node2: %v", seen)
	}
	if id, _ := wamp.AsID(seen["wamp.registration.on_register"][0][1]); id != reg.ID {
		t.Errorf("on_register names registration %v, want %d", seen["wamp.registration.on_register"][0], reg.ID)
	}
	if id, _ := wamp.AsID(seen["wamp.registration.on_register"][0][0]); id != callee.ID() {
		t.Errorf("on_register names session %v, want %d", seen["wamp.registration.on_register"][0], callee.ID())
	}
}
