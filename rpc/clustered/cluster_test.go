package clustered_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/rpc/clustered"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// pawlNode is one node of a test cluster: its dealer and a session host in front of it.
type pawlNode struct {
	name   string
	tn     *testNode
	dealer *clustered.Dealer
	srv    *fakepeer.Server
}

type metaLog struct {
	mu     sync.Mutex
	events []string
}

func (l *metaLog) publish(topic wamp.URI, args wamp.List, _ wamp.Dict) {
	l.mu.Lock()
	l.events = append(l.events, string(topic))
	l.mu.Unlock()
}

func (l *metaLog) count(topic string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e == topic {
			n++
		}
	}
	return n
}

// startCluster starts n nodes of one realm; meta events of every node go to one log, as the
// clustered broker would spread them.
func startCluster(t testing.TB, n int) ([]*pawlNode, *metaLog) {
	t.Helper()
	leakcheck.Check(t)
	srv := startNATS(t)
	meta := &metaLog{}
	nodes := make([]*pawlNode, n)
	alive := func() int {
		up := 0
		for _, node := range nodes {
			if node != nil && !node.tn.nc.IsClosed() {
				up++
			}
		}
		return up - 1
	}
	for i := range nodes {
		name := fmt.Sprintf("node%d", i+1)
		tn := newTestNode(t, srv, name)
		d := newDealer(t, tn, alive, rpc.Options{PublishMeta: meta.publish})
		t.Cleanup(d.Close) // after every node's sessions left (cleanups run last-in first-out)
		nodes[i] = &pawlNode{name: name, tn: tn, dealer: d}
	}
	for _, node := range nodes {
		d := node.dealer
		g := &fakepeer.Gate{OnLeave: d.Leave}
		dispatch.On(&g.Routes, d.Register)
		dispatch.On(&g.Routes, d.Unregister)
		dispatch.On(&g.Routes, d.Call)
		dispatch.On(&g.Routes, d.Cancel)
		dispatch.On(&g.Routes, d.Yield)
		dispatch.On(&g.Routes, d.Error)
		node.srv = fakepeer.Serve(t, g)
	}
	return nodes, meta
}

func (n *pawlNode) join(t testing.TB, authid string) *fakepeer.Client {
	t.Helper()
	return n.srv.Join(t, "realm1", fakepeer.Options{Details: wamp.Dict{"authid": authid, "authrole": "user"}})
}

func register(t testing.TB, c *fakepeer.Client, proc wamp.URI, opts wamp.Dict) wamp.ID {
	t.Helper()
	if opts == nil {
		opts = wamp.Dict{}
	}
	c.Send(&wamp.Register{Request: c.NextID(), Options: opts, Procedure: proc})
	return fakepeer.Expect[*wamp.Registered](t, c).Registration
}

func call(c *fakepeer.Client, proc wamp.URI, opts wamp.Dict, args ...any) wamp.ID {
	if opts == nil {
		opts = wamp.Dict{}
	}
	req := c.NextID()
	c.Send(&wamp.Call{Request: req, Options: opts, Procedure: proc, Payload: wamp.WithArgs(args...)})
	return req
}

// answer makes a callee answer its next INVOCATION with its authid; it returns the invocation.
func answer(t *testing.T, c *fakepeer.Client, name string) *wamp.Invocation {
	t.Helper()
	inv := fakepeer.Expect[*wamp.Invocation](t, c)
	c.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.WithArgs(name)})
	return inv
}

func resultOf(t *testing.T, c *fakepeer.Client, req wamp.ID) string {
	t.Helper()
	m := fakepeer.Expect[*wamp.Result](t, c)
	if m.Request != req {
		t.Fatalf("RESULT for %d, want %d", m.Request, req)
	}
	args, _, _ := m.Payload.Values()
	s, _ := args[0].(string)
	return s
}

func metaCall(t *testing.T, n *pawlNode, proc wamp.URI, args ...any) any {
	t.Helper()
	out, _, err := n.dealer.MetaProcedures()[proc](nil, wamp.List(args), nil)
	if err != nil {
		t.Fatalf("%s: %v", proc, err)
	}
	return out[0]
}

// Three nodes: a callee on each, callers on each; each policy picks the callee it names
// whichever node the call is made on.
func TestPoliciesAcrossThreeNodes(t *testing.T) {
	nodes, _ := startCluster(t, 3)
	callees := make([]*fakepeer.Client, 3)
	callers := make([]*fakepeer.Client, 3)
	for i, n := range nodes {
		callers[i] = n.join(t, "caller-"+n.name)
	}
	for _, policy := range []string{rpc.InvokeFirst, rpc.InvokeLast, rpc.InvokeRoundRobin, rpc.InvokeRandom} {
		t.Run(policy, func(t *testing.T) {
			proc := wamp.URI("com.policy." + policy)
			var reg wamp.ID
			// Registered in the order node2, node3, node1: the first callee is not on the
			// first node.
			for _, i := range []int{1, 2, 0} {
				callees[i] = nodes[i].join(t, "callee-"+nodes[i].name)
				id := register(t, callees[i], proc, wamp.Dict{"invoke": policy})
				if reg != 0 && id != reg {
					t.Fatalf("registration IDs differ across nodes: %d and %d", reg, id)
				}
				reg = id
			}
			got := map[string]int{}
			const rounds = 6
			for r := 0; r < rounds; r++ {
				for _, c := range callers {
					req := call(c, proc, nil)
					// Whichever callee gets it answers; find it.
					var who string
					deadline := time.Now().Add(5 * time.Second)
					for who == "" && time.Now().Before(deadline) {
						for i, callee := range callees {
							if m, err := callee.TryRecv(5 * time.Millisecond); err == nil && m != nil {
								inv := m.(*wamp.Invocation)
								callee.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.WithArgs(nodes[i].name)})
								who = nodes[i].name
							}
						}
					}
					if res := resultOf(t, c, req); res != who {
						t.Fatalf("result from %s, but %s was invoked", res, who)
					}
					got[who]++
				}
			}
			total := rounds * len(callers)
			switch policy {
			case rpc.InvokeFirst:
				if got["node2"] != total {
					t.Errorf("first: %v, want every call on node2's callee (registered first)", got)
				}
			case rpc.InvokeLast:
				if got["node1"] != total {
					t.Errorf("last: %v, want every call on node1's callee (registered last)", got)
				}
			case rpc.InvokeRoundRobin:
				for _, n := range nodes {
					if got[n.name] != total/3 {
						t.Errorf("roundrobin: %v, want %d calls each", got, total/3)
					}
				}
			case rpc.InvokeRandom:
				if len(got) < 2 {
					t.Errorf("random: %v, want calls spread over the callees", got)
				}
			}
			for _, c := range callees {
				c.Leave()
			}
		})
	}
}

// Two nodes register the same procedure at the same moment, again and again: exactly one
// wins each time, cluster-wide.
func TestConcurrentRegistrationRace(t *testing.T) {
	nodes, _ := startCluster(t, 3)
	for round := 0; round < 20; round++ {
		proc := wamp.URI(fmt.Sprintf("com.race.%d", round))
		clients := make([]*fakepeer.Client, len(nodes))
		for i, n := range nodes {
			clients[i] = n.join(t, "racer")
		}
		for _, c := range clients {
			c.Send(&wamp.Register{Request: c.NextID(), Options: wamp.Dict{}, Procedure: proc})
		}
		won, lost := 0, 0
		var winner *fakepeer.Client
		for _, c := range clients {
			switch m := c.Recv().(type) {
			case *wamp.Registered:
				won++
				winner = c
			case *wamp.Error:
				if m.Error != wamp.ErrProcedureAlreadyExists {
					t.Fatalf("round %d: %s", round, m.Error)
				}
				lost++
			default:
				t.Fatalf("round %d: %T", round, m)
			}
		}
		if won != 1 || lost != 2 {
			t.Fatalf("round %d: %d registered, %d refused; want exactly one registration", round, won, lost)
		}
		// The winner serves calls from every node.
		for i, n := range nodes {
			caller := n.join(t, "caller")
			req := call(caller, proc, nil)
			answer(t, winner, "w")
			if resultOf(t, caller, req) != "w" {
				t.Fatalf("round %d: call on node %d", round, i+1)
			}
			caller.Leave()
		}
		for _, c := range clients {
			c.Leave()
		}
	}
	// Shared registrations made at once on three nodes all join one registration, and two
	// policies racing for one procedure leave one policy.
	var clients []*fakepeer.Client
	for _, n := range nodes {
		c := n.join(t, "sharer")
		clients = append(clients, c)
	}
	for i, c := range clients {
		policy := rpc.InvokeRoundRobin
		if i == 2 {
			policy = rpc.InvokeFirst
		}
		c.Send(&wamp.Register{Request: c.NextID(), Options: wamp.Dict{"invoke": policy}, Procedure: "com.shared"})
	}
	ids := map[wamp.ID]int{}
	refused := 0
	for _, c := range clients {
		switch m := c.Recv().(type) {
		case *wamp.Registered:
			ids[m.Registration]++
		case *wamp.Error:
			refused++
		}
	}
	if len(ids) != 1 {
		t.Fatalf("shared registrations made at once: IDs %v, want one registration", ids)
	}
	for id, n := range ids {
		if n+refused != 3 || (n != 1 && n != 2) {
			t.Fatalf("%d joined, %d refused: the policies raced wrongly", n, refused)
		}
		for _, node := range nodes {
			if got := metaCall(t, node, "wamp.registration.count_callees", int64(id)); got != int64(n) {
				t.Errorf("%s: count_callees %v, want %d", node.name, got, n)
			}
		}
	}
}

// kill stops a node as kill -9 would: its NATS connection goes first, so nothing it does
// afterwards reaches the others; then its sessions and dealer stop.
func (n *pawlNode) kill() {
	n.tn.nc.Close()
	n.srv.DropAll()
	n.dealer.Close()
}

// A node dies while its callee serves calls from the other nodes: those calls fail with
// wamp.error.canceled as soon as the node is known down, nothing hangs, and its registrations
// are gone cluster-wide.
func TestCalleeNodeKilledMidCall(t *testing.T) {
	nodes, meta := startCluster(t, 3)
	callee := nodes[2].join(t, "callee")
	reg := register(t, callee, "com.slow", wamp.Dict{"invoke": rpc.InvokeRoundRobin})
	other := nodes[1].join(t, "other-callee")
	register(t, other, "com.other", nil)
	caller1, caller2 := nodes[0].join(t, "c1"), nodes[1].join(t, "c2")
	// And the other way round: a caller on the dying node whose call runs on node2.
	doomed := nodes[2].join(t, "doomed-caller")
	call(doomed, "com.other", nil)
	orphan := fakepeer.Expect[*wamp.Invocation](t, other)
	req1 := call(caller1, "com.slow", wamp.Dict{"receive_progress": true}, "c1")
	req2 := call(caller2, "com.slow", nil, "c2")
	inv := fakepeer.Expect[*wamp.Invocation](t, callee)
	if args, _, _ := inv.Payload.Values(); args[0] != "c1" {
		inv = fakepeer.Expect[*wamp.Invocation](t, callee)
	} else {
		fakepeer.Expect[*wamp.Invocation](t, callee)
	}
	callee.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{"progress": true}, Payload: wamp.WithArgs("partial")})
	if m := fakepeer.Expect[*wamp.Result](t, caller1); m.Request != req1 {
		t.Fatalf("progressive result for %d", m.Request)
	}

	nodes[2].kill()
	start := time.Now()
	for _, n := range nodes[:2] {
		n.dealer.NodeDown("node3", 1) // what cluster.Node's OnNodeDown calls
	}
	for _, c := range []struct {
		cl  *fakepeer.Client
		req wamp.ID
	}{{caller1, req1}, {caller2, req2}} {
		m := fakepeer.Expect[*wamp.Error](t, c.cl)
		if m.Request != c.req || m.Error != wamp.ErrCanceled {
			t.Errorf("got %s for %d, want wamp.error.canceled for %d", m.Error, m.Request, c.req)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("calls failed %v after the node was known down", took)
	}
	// The callee serving the dead node's caller is interrupted: nobody waits for its answer.
	if m := fakepeer.Expect[*wamp.Interrupt](t, other); m.Request != orphan.Request {
		t.Errorf("INTERRUPT for %d, want %d", m.Request, orphan.Request)
	}
	for _, n := range nodes[:2] {
		// The node that removed it has it at once; the other hears within milliseconds.
		deadline := time.Now().Add(2 * time.Second)
		for metaCall(t, n, "wamp.registration.lookup", "com.slow") != nil && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := metaCall(t, n, "wamp.registration.lookup", "com.slow"); got != nil {
			t.Errorf("%s still lists the dead node's registration %v", n.name, got)
		}
		if got := metaCall(t, n, "wamp.registration.lookup", "com.other"); got == nil {
			t.Errorf("%s lost a live node's registration", n.name)
		}
	}
	// The node that removed the registration publishes on_delete once its removal is done,
	// which can be just after the other nodes' copies have it gone.
	for deadline := time.Now().Add(2 * time.Second); meta.count("wamp.registration.on_delete") == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := meta.count("wamp.registration.on_delete"); n != 1 {
		t.Errorf("on_delete published %d times for the dead node's registration %d", n, reg)
	}
	req := call(caller1, "com.slow", nil)
	if m := fakepeer.Expect[*wamp.Error](t, caller1); m.Request != req || m.Error != wamp.ErrNoSuchProcedure {
		t.Errorf("after the node died: %s, want no_such_procedure", m.Error)
	}
	// A call to the live node still works.
	req = call(caller1, "com.other", nil)
	answer(t, other, "alive")
	if resultOf(t, caller1, req) != "alive" {
		t.Error("call to a live node")
	}
}

// A callee's concurrency holds cluster-wide: its node runs all its invocations.
func TestConcurrencyAcrossNodes(t *testing.T) {
	nodes, _ := startCluster(t, 3)
	callee := nodes[1].join(t, "callee")
	register(t, callee, "com.one", wamp.Dict{"concurrency": int64(1)})
	c1, c3 := nodes[0].join(t, "c1"), nodes[2].join(t, "c3")
	r1 := call(c1, "com.one", nil)
	r3 := call(c3, "com.one", nil)
	first := fakepeer.Expect[*wamp.Invocation](t, callee)
	if m, _ := callee.TryRecv(200 * time.Millisecond); m != nil {
		t.Fatalf("second invocation while the first runs (concurrency 1): %v", m)
	}
	callee.Send(&wamp.Yield{Request: first.Request, Options: wamp.Dict{}, Payload: wamp.WithArgs("a")})
	answer(t, callee, "b")
	got := map[string]bool{}
	got[resultOf(t, c1, r1)] = true
	got[resultOf(t, c3, r3)] = true
	if !got["a"] || !got["b"] {
		t.Errorf("results %v", got)
	}
}

// The registration meta API answers for the whole cluster on every node, and its events are
// published once.
func TestRegistrationMetaAcrossNodes(t *testing.T) {
	nodes, meta := startCluster(t, 3)
	var ids []wamp.ID
	var reg wamp.ID
	for _, n := range nodes {
		c := n.join(t, "callee")
		reg = register(t, c, "com.meta", wamp.Dict{"invoke": rpc.InvokeRandom})
		ids = append(ids, c.ID)
	}
	pat := nodes[0].join(t, "pattern")
	preg := register(t, pat, "com.meta.", wamp.Dict{"match": wamp.MatchPrefix})
	for _, n := range nodes {
		if got := metaCall(t, n, "wamp.registration.lookup", "com.meta"); got != reg {
			t.Errorf("%s lookup: %v, want %d", n.name, got, reg)
		}
		if got := metaCall(t, n, "wamp.registration.match", "com.meta.x"); got != preg {
			t.Errorf("%s match: %v, want %d", n.name, got, preg)
		}
		if got := metaCall(t, n, "wamp.registration.count_callees", int64(reg)); got != int64(3) {
			t.Errorf("%s count_callees: %v", n.name, got)
		}
		if got := fmt.Sprint(metaCall(t, n, "wamp.registration.list_callees", int64(reg))); got != fmt.Sprint(wamp.List{ids[0], ids[1], ids[2]}) {
			t.Errorf("%s list_callees: %v, want %v", n.name, got, ids)
		}
		list := metaCall(t, n, "wamp.registration.list").(wamp.Dict)
		if fmt.Sprint(list[wamp.MatchExact]) != fmt.Sprint(wamp.List{reg}) || fmt.Sprint(list[wamp.MatchPrefix]) != fmt.Sprint(wamp.List{preg}) {
			t.Errorf("%s list: %v", n.name, list)
		}
		got := metaCall(t, n, "wamp.registration.get", int64(reg)).(wamp.Dict)
		if got["uri"] != "com.meta" || got["invoke"] != rpc.InvokeRandom {
			t.Errorf("%s get: %v", n.name, got)
		}
	}
	// Published right after REGISTERED goes out: wait for the last ones.
	deadline := time.Now().Add(2 * time.Second)
	for meta.count("wamp.registration.on_register") < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if c, r := meta.count("wamp.registration.on_create"), meta.count("wamp.registration.on_register"); c != 2 || r != 4 {
		t.Errorf("on_create %d times, on_register %d; want 2 and 4", c, r)
	}
}
