package cluster_test

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// eventually retries f until it reports nil or 5s passed.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if os.Getenv("PAWL_TEST_LOG") != "" {
				buf := make([]byte, 1<<22)
				os.WriteFile("/tmp/stacks.txt", buf[:runtime.Stack(buf, true)], 0o644)
			}
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, c *client.Client, proc wamp.URI, args wamp.List, kwargs wamp.Dict) (*client.Result, error) {
	t.Helper()
	return c.Call(ctxT(t), proc, nil, args, kwargs)
}

// The session meta API and the kill family see the whole cluster; when a node dies, a
// survivor publishes its sessions' testaments and on_leave, and its subscriptions go.
func TestSessionsAcrossNodes(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)
	r := startRouters(t, nodes)

	alice := r[0].join(t, "alice", "user", "json")
	bob := r[1].join(t, "bob", "guest", "msgpack")
	bob2 := r[1].join(t, "bob", "guest", "json")
	carol := r[2].join(t, "carol", "user", "cbor")

	for _, c := range []*client.Client{alice, bob, carol} {
		if got := cluster.SlotOf(c.ID()); got != map[*client.Client]int{alice: nodes[0].Slot(), bob: nodes[1].Slot(), carol: nodes[2].Slot()}[c] {
			t.Errorf("session %d carries slot %d", c.ID(), got)
		}
	}

	eventually(t, "wamp.session.count on node 1", func() error {
		res, err := call(t, alice, "wamp.session.count", nil, nil)
		if err != nil {
			return err
		}
		if n, _ := wamp.AsInt64(res.Args[0]); n != 4 {
			return fmt.Errorf("count %v, want 4", res.Args[0])
		}
		return nil
	})
	res, err := call(t, alice, "wamp.session.list", wamp.List{wamp.List{"guest"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := res.Args[0].(wamp.List); len(ids) != 2 {
		t.Errorf("list of guests from node 1: %v, want bob's two sessions", res.Args[0])
	}
	// A node learns of a session on another within moments (the directory does not hold
	// up a join for the other nodes).
	eventually(t, "wamp.session.get of bob (node 2) on node 3", func() error {
		res, err := call(t, carol, "wamp.session.get", wamp.List{bob.ID()}, nil)
		if err != nil {
			return err
		}
		if d, _ := res.Args[0].(wamp.Dict); d["authid"] != "bob" || d["authrole"] != "guest" {
			t.Errorf("get bob from node 3: %v", res.Args[0])
		}
		return nil
	})
	if _, err := call(t, carol, "wamp.session.get", wamp.List{int64(12345)}, nil); err == nil {
		t.Error("get of an unknown session: no error")
	}

	// Kill across nodes: by ID, then by authid.
	if _, err := call(t, alice, "wamp.session.kill", wamp.List{bob2.ID()}, wamp.Dict{"reason": "com.example.bye"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bob2.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("bob's second session on node 2 not killed from node 1")
	}
	res, err = call(t, carol, "wamp.session.kill_by_authid", wamp.List{"bob"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := res.Args[0].(wamp.List); len(ids) != 1 || fmt.Sprint(ids[0]) != fmt.Sprint(bob.ID()) {
		t.Errorf("kill_by_authid bob from node 3 killed %v, want [%d]", res.Args[0], bob.ID())
	}
	select {
	case <-bob.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("bob not killed from node 3")
	}

	// Carol leaves a testament and subscribes; node 3 then dies.
	if _, err := call(t, carol, "wamp.session.add_testament", wamp.List{"com.example.will", wamp.List{"carol is gone"}}, nil); err != nil {
		t.Fatal(err)
	}
	subscribe(t, carol, "com.example.carol", nil)
	wills, _ := subscribe(t, alice, "com.example.will", nil)
	leaves, _ := subscribe(t, alice, "wamp.session.on_leave", nil)
	eventually(t, "node 1 sees carol's subscription", func() error {
		res, err := call(t, alice, "wamp.subscription.lookup", wamp.List{"com.example.carol"}, nil)
		if err != nil || res.Args[0] == nil {
			return fmt.Errorf("lookup %v %v", res, err)
		}
		return nil
	})
	died := time.Now()
	nodes[2].Close()
	e := wills.wait(t, 1)[0]
	if e.Args[0] != "carol is gone" {
		t.Errorf("testament %v", e.Args)
	}
	if el := time.Since(died); el > clustertest.NodeTimeout+5*clustertest.Heartbeat {
		t.Errorf("testament published %v after the node died, bound %v", el, clustertest.NodeTimeout)
	}
	found := false
	for !found {
		for _, ev := range leaves.wait(t, 1) {
			if fmt.Sprint(ev.Args[0]) == fmt.Sprint(carol.ID()) {
				found = true
				if ev.Kwargs["reason"] != string(cluster.ReasonNodeDown) {
					t.Errorf("on_leave of carol: %v %v", ev.Args, ev.Kwargs)
				}
			}
		}
		if !found {
			leaves.wait(t, leaves.count()+1)
		}
	}
	if n := r[0].member.Sessions.Orphaned.Load() + r[1].member.Sessions.Orphaned.Load(); n != 1 {
		t.Errorf("%d survivors published carol's testaments, want exactly 1", n)
	}
	res, err = call(t, alice, "wamp.subscription.lookup", wamp.List{"com.example.carol"}, nil)
	if err != nil || res.Args[0] != nil {
		t.Errorf("carol's subscription after node 3 died: %v %v", res.Args, err)
	}
	res, err = call(t, alice, "wamp.session.count", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt64(res.Args[0]); n != 1 {
		t.Errorf("count after node 3 died: %v, want 1 (alice)", res.Args[0])
	}
}
