package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp"
)

// testRouter is one node of a test cluster: a router with realm1, joined to the node.
type testRouter struct {
	node   *cluster.Node
	member *cluster.Member
	rt     *realm.Router
}

var roles = []authz.Role{
	{Name: "trusted", Trusted: true},
	{Name: "user", Permissions: []authz.Permission{{URI: "", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true}}},
	{Name: "guest", Permissions: []authz.Permission{{URI: "", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true}}},
}

func startRouters(t testing.TB, nodes []*cluster.Node) []*testRouter {
	t.Helper()
	out := make([]*testRouter, len(nodes))
	for i, n := range nodes {
		out[i] = startRouter(t, n)
	}
	return out
}

func startRouter(t testing.TB, n *cluster.Node) *testRouter {
	t.Helper()
	rt := realm.NewRouter(nil)
	m, err := cluster.Join(n, rt)
	if err != nil {
		t.Fatal(err)
	}
	rc := realm.Config{Name: "realm1", Roles: roles}
	m.ConfigureRealm(&rc)
	rt.AddRealm(realm.New(rc, nil))
	tr := &testRouter{node: n, member: m, rt: rt}
	t.Cleanup(func() { // before the node's Close (cleanups run last-in first-out)
		rt.Shutdown(0)
		m.Close()
	})
	return tr
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// join opens an in-process session on the router with the authid and authrole.
func (tr *testRouter) join(t *testing.T, authid, authrole string, serializer string) *client.Client {
	t.Helper()
	c, err := tr.rt.ServiceClient(ctxT(t), "realm1", authrole, client.Options{AuthID: authid, Serializer: serializer})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inbox collects a subscription's events.
type inbox struct {
	mu     sync.Mutex
	events []*client.Event
	more   chan struct{}
}

func newInbox() *inbox { return &inbox{more: make(chan struct{}, 1)} }

func (b *inbox) handle(e *client.Event) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
	select {
	case b.more <- struct{}{}:
	default:
	}
}

// wait returns once n events arrived (fails the test after 5s).
func (b *inbox) wait(t *testing.T, n int) []*client.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		b.mu.Lock()
		if len(b.events) >= n {
			out := append([]*client.Event(nil), b.events...)
			b.mu.Unlock()
			return out
		}
		b.mu.Unlock()
		select {
		case <-b.more:
		case <-deadline:
			b.mu.Lock()
			defer b.mu.Unlock()
			t.Fatalf("%d events after 5s, want %d", len(b.events), n)
		}
	}
}

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.events)
}

func subscribe(t *testing.T, c *client.Client, topic wamp.URI, opts wamp.Dict) (*inbox, *client.Subscription) {
	t.Helper()
	in := newInbox()
	sub, err := c.Subscribe(ctxT(t), topic, in.handle, opts)
	if err != nil {
		t.Fatal(err)
	}
	return in, sub
}

// A 3-node cluster in one process: a publication on any node reaches the matching
// subscribers on every node (exact, prefix, wildcard), one NATS message per interested node,
// in order, with the broker's features applied on the receiving node.
func TestPubSubAcrossThreeNodes(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)
	r := startRouters(t, nodes)

	pub := r[0].join(t, "alice", "user", "json")
	sub2 := r[1].join(t, "bob", "user", "msgpack")
	sub3 := r[2].join(t, "carol", "guest", "cbor")
	sub3b := r[2].join(t, "dave", "user", "json")

	// Node 2 subscribes three overlapping patterns; node 3 one exact topic twice (two sessions).
	exact2, _ := subscribe(t, sub2, "com.example.a.b", nil)
	prefix2, _ := subscribe(t, sub2, "com.example.a", wamp.Dict{"match": "prefix"})
	wild2, _ := subscribe(t, sub2, "com.example..b", wamp.Dict{"match": "wildcard"})
	exact3, _ := subscribe(t, sub3, "com.example.a.b", nil)
	exact3b, _ := subscribe(t, sub3b, "com.example.a.b", nil)

	t.Run("Reach and cost", func(t *testing.T) {
		before := r[0].member.PubSub.Messages.Load()
		if err := pub.Publish(ctxT(t), "com.example.a.b", wamp.Dict{"disclose_me": true}, wamp.List{"hi", int64(1)}, wamp.Dict{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		for _, in := range []*inbox{exact2, prefix2, wild2, exact3, exact3b} {
			e := in.wait(t, 1)[0]
			if len(e.Args) != 2 || e.Args[0] != "hi" || e.Kwargs["k"] != "v" {
				t.Errorf("event %v %v", e.Args, e.Kwargs)
			}
			// Publisher disclosure crosses nodes.
			if id, _ := wamp.AsID(e.Details["publisher"]); id != pub.ID() {
				t.Errorf("details.publisher %v, want %d", e.Details["publisher"], pub.ID())
			}
			if e.Details["publisher_authid"] != "alice" || e.Details["publisher_authrole"] != "user" {
				t.Errorf("details %v", e.Details)
			}
		}
		if topic := prefix2.wait(t, 1)[0].Details["topic"]; topic != "com.example.a.b" {
			t.Errorf("prefix subscription's details.topic %v", topic)
		}
		// One message to node 2 (three patterns) and one to node 3 (two subscribers).
		if got := r[0].member.PubSub.Messages.Load() - before; got != 2 {
			t.Errorf("%d NATS messages for one publication to two interested nodes, want 2", got)
		}
		// A topic nobody else is interested in costs nothing.
		before = r[0].member.PubSub.Messages.Load()
		if err := pub.Publish(ctxT(t), "com.other", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := pub.PublishAcknowledged(ctxT(t), "com.other", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if got := r[0].member.PubSub.Messages.Load() - before; got != 0 {
			t.Errorf("%d NATS messages for an uninteresting topic, want 0", got)
		}
	})

	t.Run("URIs that NATS would read as wildcards", func(t *testing.T) {
		// '*' and '>' are NATS wildcards, but only characters in a WAMP URI: topics never
		// become subjects, so each reaches exactly its own subscribers.
		star, _ := subscribe(t, sub2, "com.star.*", nil)
		gt, _ := subscribe(t, sub2, "com.star.>", nil)
		anyThird, _ := subscribe(t, sub3, "com.star.", wamp.Dict{"match": "wildcard"})
		for _, topic := range []wamp.URI{"com.star.*", "com.star.>", "com.star.x", "com.star.*.y"} {
			if _, err := pub.PublishAcknowledged(ctxT(t), topic, nil, wamp.List{string(topic)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		got := func(in *inbox, n int) []any {
			var out []any
			for _, e := range in.wait(t, n) {
				out = append(out, e.Args[0])
			}
			return out
		}
		time.Sleep(100 * time.Millisecond) // anything wrongly routed has arrived by now
		if g := got(star, 1); star.count() != 1 || g[0] != "com.star.*" {
			t.Errorf("exact com.star.* got %v", g)
		}
		if g := got(gt, 1); gt.count() != 1 || g[0] != "com.star.>" {
			t.Errorf("exact com.star.> got %v", g)
		}
		if g := got(anyThird, 3); anyThird.count() != 3 || g[0] != "com.star.*" || g[1] != "com.star.>" || g[2] != "com.star.x" {
			t.Errorf("wildcard com.star. got %v", g)
		}
	})

	t.Run("Order per publisher", func(t *testing.T) {
		base := exact3.count()
		const n = 300
		for i := range n {
			if err := pub.Publish(ctxT(t), "com.example.a.b", nil, wamp.List{int64(i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		evs := exact3.wait(t, base+n)[base:]
		for i, e := range evs {
			if v, _ := wamp.AsInt64(e.Args[0]); v != int64(i) {
				t.Fatalf("event %d carries %v: out of order", i, e.Args[0])
			}
		}
	})

	t.Run("Black and white lists across nodes", func(t *testing.T) {
		exact2, _ := subscribe(t, sub2, "com.example.list", nil)
		exact3, _ := subscribe(t, sub3, "com.example.list", nil)
		exact3b, _ := subscribe(t, sub3b, "com.example.list", nil)
		cases := []struct {
			opts wamp.Dict
			want map[*inbox]bool // exact subscribers that receive it
		}{
			{wamp.Dict{"exclude": wamp.List{sub3.ID()}}, map[*inbox]bool{exact2: true, exact3b: true}},
			{wamp.Dict{"eligible": wamp.List{sub3.ID(), sub2.ID()}}, map[*inbox]bool{exact2: true, exact3: true}},
			{wamp.Dict{"exclude_authid": wamp.List{"dave", "bob"}}, map[*inbox]bool{exact3: true}},
			{wamp.Dict{"eligible_authid": wamp.List{"dave"}}, map[*inbox]bool{exact3b: true}},
			{wamp.Dict{"exclude_authrole": wamp.List{"guest"}}, map[*inbox]bool{exact2: true, exact3b: true}},
			{wamp.Dict{"eligible_authrole": wamp.List{"guest"}}, map[*inbox]bool{exact3: true}},
			{wamp.Dict{"eligible": wamp.List{}}, map[*inbox]bool{}},
		}
		for i, c := range cases {
			before := map[*inbox]int{}
			for _, in := range []*inbox{exact2, exact3, exact3b} {
				before[in] = in.count()
			}
			c.opts["acknowledge"] = true
			if _, err := pub.PublishAcknowledged(ctxT(t), "com.example.list", c.opts, wamp.List{int64(i)}, nil); err != nil {
				t.Fatal(err)
			}
			// A marker to everyone after it: once it arrives, the listed one has arrived too.
			if err := pub.Publish(ctxT(t), "com.example.list", nil, wamp.List{"marker"}, nil); err != nil {
				t.Fatal(err)
			}
			for _, in := range []*inbox{exact2, exact3, exact3b} {
				want := before[in] + 1
				if c.want[in] {
					want++
				}
				evs := in.wait(t, want)
				if len(evs) != want || evs[len(evs)-1].Args[0] != "marker" {
					t.Errorf("case %d (%v): subscriber got %d events, want %d", i, c.opts, len(evs)-before[in], want-before[in])
				}
			}
		}
	})

	t.Run("Exclude me", func(t *testing.T) {
		// The publisher subscribes too; its node delivers to it only when exclude_me is false.
		own, _ := subscribe(t, pub, "com.example.self", nil)
		far, _ := subscribe(t, sub2, "com.example.self", nil)
		for _, excl := range []bool{true, false} {
			if _, err := pub.PublishAcknowledged(ctxT(t), "com.example.self", wamp.Dict{"exclude_me": excl}, wamp.List{excl}, nil); err != nil {
				t.Fatal(err)
			}
		}
		far.wait(t, 2)
		evs := own.wait(t, 1)
		time.Sleep(50 * time.Millisecond)
		if own.count() != 1 || evs[0].Args[0] != false {
			t.Errorf("publisher got %d events (%v), want only the exclude_me=false one", own.count(), evs[0].Args)
		}
	})

	t.Run("Retained", func(t *testing.T) {
		if _, err := pub.PublishAcknowledged(ctxT(t), "com.example.kept", wamp.Dict{"retain": true}, wamp.List{"kept"}, nil); err != nil {
			t.Fatal(err)
		}
		// A later subscriber on another node asks for it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			in, sub := subscribe(t, sub3, "com.example.kept", wamp.Dict{"get_retained": true})
			time.Sleep(30 * time.Millisecond)
			if in.count() == 1 {
				e := in.wait(t, 1)[0]
				if e.Args[0] != "kept" || e.Details["retained"] != true {
					t.Errorf("retained event %v %v", e.Args, e.Details)
				}
				break
			}
			if err := sub3.Unsubscribe(ctxT(t), sub); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("no retained event on node 3")
			}
		}
	})

	t.Run("A node's subscriptions go with it", func(t *testing.T) {
		// Node 3 dies (its NATS and embedded server stop; its router is gone with it): within
		// the bound node 1 stops sending it anything.
		nodes[2].Close()
		deadline := time.Now().Add(clustertest.NodeTimeout + 10*clustertest.Heartbeat)
		for {
			before := r[0].member.PubSub.Messages.Load()
			if _, err := pub.PublishAcknowledged(ctxT(t), "com.example.a.b", nil, wamp.List{"after"}, nil); err != nil {
				t.Fatal(err)
			}
			sent := r[0].member.PubSub.Messages.Load() - before
			if sent == 1 { // node 2 only
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node 1 still sends %d messages for one publication %v after node 3 died (peers %v)", sent,
					clustertest.NodeTimeout+10*clustertest.Heartbeat, nodes[0].Peers())
			}
			time.Sleep(clustertest.Heartbeat / 2)
		}
	})
	_ = fmt.Sprint
}
