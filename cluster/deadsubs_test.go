package cluster_test

import (
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// When a node dies, the survivors publish the subscription meta events of its sessions'
// subscriptions, each once cluster-wide: on_unsubscribe for every one, on_delete for those no
// other node holds.
func TestDeadNodeSubscriptionMetaEvents(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)
	r := startRouters(t, nodes)
	var unsub, del [2]*inbox
	for i := range 2 {
		w := r[i].join(t, "watcher", "trusted", "json")
		unsub[i], _ = subscribe(t, w, "wamp.subscription.on_unsubscribe", nil)
		del[i], _ = subscribe(t, w, "wamp.subscription.on_delete", nil)
	}
	bob := r[2].join(t, "bob", "user", "json")
	_, only := subscribe(t, bob, "com.example.only3", nil)
	_, shared := subscribe(t, bob, "com.example.shared", nil)
	carol := r[1].join(t, "carol", "user", "json")
	subscribe(t, carol, "com.example.shared", nil)
	if only.ID == shared.ID {
		t.Fatal("two patterns, one subscription ID")
	}

	nodes[2].Close() // node 3 dies: no goodbye from its sessions
	for i := range 2 {
		evs := unsub[i].wait(t, 2)
		got := map[wamp.ID]bool{}
		for _, e := range evs {
			if wamp.ID(toUint(e.Args[0])) != bob.ID() {
				t.Errorf("node %d: on_unsubscribe of session %v, want bob %v", i+1, e.Args[0], bob.ID())
			}
			got[wamp.ID(toUint(e.Args[1]))] = true
		}
		if !got[only.ID] || !got[shared.ID] {
			t.Errorf("node %d: on_unsubscribe for %v, want %v and %v", i+1, got, only.ID, shared.ID)
		}
		d := del[i].wait(t, 1)
		if wamp.ID(toUint(d[0].Args[1])) != only.ID || wamp.ID(toUint(d[0].Args[0])) != bob.ID() {
			t.Errorf("node %d: on_delete %v, want bob's %v (carol still holds the shared one)", i+1, d[0].Args, only.ID)
		}
	}
	time.Sleep(3 * clustertest.Heartbeat) // a second speaker would have spoken by now
	for i := range 2 {
		if unsub[i].count() != 2 || del[i].count() != 1 {
			t.Errorf("node %d: %d on_unsubscribe and %d on_delete, want 2 and 1 (once cluster-wide)", i+1, unsub[i].count(), del[i].count())
		}
	}
}

func toUint(v any) uint64 {
	switch n := v.(type) {
	case uint64:
		return n
	case int64:
		return uint64(n)
	case float64:
		return uint64(n)
	case int:
		return uint64(n)
	}
	return 0
}
