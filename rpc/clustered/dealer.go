package clustered

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Node is what the dealer needs of this process's membership of the cluster; *cluster.Node
// has it. The node's wiring calls Dealer.NodeDown when another node is gone.
type Node interface {
	Name() string
	// Epoch identifies this run of the node: a restarted node's callees are new ones.
	Epoch() uint64
	Conn() *nats.Conn
	JetStream() jetstream.JetStream
	// Subject is a NATS subject under the cluster's name.
	Subject(tokens ...string) string
	// Bucket is the name of a JetStream bucket of the cluster.
	Bucket(name string) string
	// Replicas is how many copies the cluster's buckets keep.
	Replicas() int
	// Err is nil while the node serves; a node cut off from the cluster must not act on
	// its view of the others (it takes them all for down).
	Err() error
}

// Options configure a clustered dealer.
type Options struct {
	Node  Node
	Realm wamp.URI
	// Local configures the in-process dealer that serves this node's callees (its Directory
	// is set by New).
	Local rpc.Options
	// Peers counts the other nodes alive now (len(cluster.Node.Peers())): a registration
	// change waits, up to two seconds, until each of them routes by it.
	Peers func() int
	// PendingLimit bounds the cluster messages waiting for this realm's dealer on this node
	// (default 65,536); past it NATS drops them and counts a slow consumer, which is logged.
	PendingLimit int
}

// Dealer is the dealer of one realm on one node of a cluster. See the package doc.
type Dealer struct {
	local *rpc.Local
	node  Node
	self  string
	realm wamp.URI
	dir   *directory
	log   *slog.Logger
	sub   *nats.Subscription
	// subjects of the nodes' inboxes for this realm, by node name (built once each)
	subjects sync.Map
	codec    wamp.Codec

	callers sync.Map // wamp.ID → *caller: this node's sessions with calls served elsewhere
	down    sync.Map // nodeRun → struct{}: runs of nodes known gone (few: one per restart)
	proxies sync.Map // proxyKey → *session.Session: other nodes' callers, calling here

	closed atomic.Bool
}

// caller is what the dealer keeps about one of this node's sessions whose calls went to other
// nodes: where each call still in flight went, so that later chunks, cancels and the loss of
// a node reach it; and which nodes hold its stand-in, to tell them when it leaves.
type caller struct {
	s     *session.Session
	mu    sync.Mutex
	gone  bool
	nodes map[string]struct{}
	calls map[wamp.ID]string // request → node, until the final answer (or a cancel that settles it)
	// streams routes the later chunks of progressive calls (request → node, "" once that
	// node is gone: chunks dropped) until the caller's final chunk.
	streams map[wamp.ID]string
}

type proxyKey struct {
	node    string
	session wamp.ID
}

// New starts a realm's clustered dealer on a node: it opens the registrations directory and
// subscribes to this node's inbox for the realm.
func New(ctx context.Context, opts Options) (*Dealer, error) {
	log := opts.Local.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Dealer{node: opts.Node, self: opts.Node.Name(), realm: opts.Realm, log: log, codec: wamp.MsgPack}
	publish := opts.Local.PublishMeta
	meta := func(topic wamp.URI, args ...any) {
		if publish != nil {
			publish(topic, wamp.List(args), nil)
		}
	}
	peers := opts.Peers
	if peers == nil {
		peers = func() int { return 0 }
	}
	dir, err := openDirectory(ctx, opts.Node, opts.Realm, peers, meta, log)
	if err != nil {
		return nil, err
	}
	d.dir = dir
	lo := opts.Local
	lo.Directory = dir
	d.local = rpc.NewLocal(lo)
	sub, err := opts.Node.Conn().Subscribe(d.inbox(d.self), d.receive)
	if err != nil {
		dir.close()
		d.local.Close()
		return nil, fmt.Errorf("clustered dealer: %w", err)
	}
	limit := opts.PendingLimit
	if limit <= 0 {
		limit = 65536
	}
	if err := sub.SetPendingLimits(limit, 256<<20); err != nil {
		sub.Unsubscribe()
		dir.close()
		d.local.Close()
		return nil, fmt.Errorf("clustered dealer: %w", err)
	}
	d.sub = sub
	return d, nil
}

// inbox is the subject on which a node's dealer of this realm takes messages from others.
func (d *Dealer) inbox(node string) string {
	if s, ok := d.subjects.Load(node); ok {
		return s.(string)
	}
	s := d.node.Subject("rpc", encodeToken(string(d.realm)), encodeToken(node))
	d.subjects.Store(node, s)
	return s
}

// Name is the name of the node this dealer runs on.
func (d *Dealer) Name() string { return d.self }

// Local is the in-process dealer serving this node's callees (and the calls other nodes send
// them): for its Stats.
func (d *Dealer) Local() *rpc.Local { return d.local }

// Stats reports what the node's dealer holds (rpctest.StatsReporter).
func (d *Dealer) Stats() rpc.Stats { return d.local.Stats() }

// Features of the clustered dealer: the in-process dealer's, all of which cross nodes.
func (d *Dealer) Features() wamp.Dict { return d.local.Features() }

// Close stops taking messages from other nodes and releases the dealer.
func (d *Dealer) Close() {
	if d.closed.Swap(true) {
		return
	}
	d.sub.Unsubscribe()
	d.dir.close()
	d.local.Close()
}

// Register and Unregister go to the in-process dealer, which asks the directory.
func (d *Dealer) Register(s *session.Session, m *wamp.Register) { d.local.Register(s, m) }

// Unregister removes s from a registration it holds.
func (d *Dealer) Unregister(s *session.Session, m *wamp.Unregister) { d.local.Unregister(s, m) }

// Yield and Error come from this node's callees, whose invocations the in-process dealer
// holds, whichever node the caller is on.
func (d *Dealer) Yield(s *session.Session, m *wamp.Yield) { d.local.Yield(s, m) }

// Error passes a callee's error to its caller.
func (d *Dealer) Error(s *session.Session, m *wamp.Error) { d.local.Error(s, m) }

// Call routes a CALL: to this node's in-process dealer when the registration's callee chosen
// by its policy is here, else to the node of that callee, whose dealer serves it as if the
// caller were its own.
func (d *Dealer) Call(s *session.Session, m *wamp.Call) {
	if v, ok := d.callers.Load(s.ID); ok {
		c := v.(*caller)
		c.mu.Lock()
		node, streaming := c.streams[m.Request]
		if streaming {
			if more, _ := m.Options.Bool("progress"); !more {
				delete(c.streams, m.Request)
			}
		}
		c.mu.Unlock()
		if streaming {
			if node != "" {
				d.forward(node, kindCall, s, m, false)
			}
			return
		}
	}
	e := d.dir.best(m.Procedure)
	if e == nil || !e.remote || d.local.Pending(s, m.Request) {
		d.local.Call(s, m)
		return
	}
	chosen := e.pick(d.isDown)
	node := chosen.Node
	if node == "" {
		d.local.Call(s, m) // every callee's node is down: the registration is going
		return
	}
	if node == d.self {
		d.local.Call(s, m)
		return
	}
	c := d.callerOf(s)
	more, _ := m.Options.Bool("progress")
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return
	}
	_, introduced := c.nodes[node]
	c.nodes[node] = struct{}{}
	c.calls[m.Request] = node
	if more {
		c.streams[m.Request] = node
	}
	c.mu.Unlock()
	if d.isDown(chosen) {
		// The node was called down between the pick and now, after NodeDown went through
		// this caller's calls: the call fails here instead.
		d.settle(s.ID, m.Request)
		s.SendError(wamp.TypeCall, m.Request, wamp.ErrCanceled, "the callee's node "+node+" left the cluster")
		return
	}
	// Who the caller is goes with its first call to a node, which keeps a stand-in for it
	// until it leaves.
	d.forward(node, kindCall, s, m, !introduced)
}

// pick chooses the node of the callee the registration's policy selects. Every node holds
// the same callees in the same (registration) order, so single, first and last name the same
// callee on every node; roundrobin turns through all callees, on whichever node, from each
// node; random draws among all of them.
func (e *entry) pick(down func(calleeRecord) bool) calleeRecord {
	n := len(e.Callees)
	if n == 0 {
		return calleeRecord{}
	}
	at := func(i int) calleeRecord {
		// Between a node's loss and the directory dropping its callees, calls skip them.
		for k := 0; k < n; k++ {
			if c := e.Callees[(i+k)%n]; !down(c) {
				return c
			}
		}
		return calleeRecord{}
	}
	switch e.Invoke {
	case rpc.InvokeLast:
		for i := n - 1; i >= 0; i-- {
			if !down(e.Callees[i]) {
				return e.Callees[i]
			}
		}
		return calleeRecord{}
	case rpc.InvokeRoundRobin:
		return at(int((e.cursor.Add(1) - 1) % uint64(n)))
	case rpc.InvokeRandom:
		return at(rand.IntN(n))
	default: // single, first
		return at(0)
	}
}

// isDown reports whether a callee's node run is known to be gone.
func (d *Dealer) isDown(c calleeRecord) bool {
	if c.Node == d.self {
		return false
	}
	_, gone := d.down.Load(nodeRun{c.Node, c.Epoch})
	return gone
}

// nodeRun is one run of a node.
type nodeRun struct {
	node  string
	epoch uint64
}

func (d *Dealer) callerOf(s *session.Session) *caller {
	if v, ok := d.callers.Load(s.ID); ok {
		return v.(*caller)
	}
	v, _ := d.callers.LoadOrStore(s.ID, &caller{s: s, nodes: map[string]struct{}{}, calls: map[wamp.ID]string{},
		streams: map[wamp.ID]string{}})
	return v.(*caller)
}

// Cancel goes where the call went.
func (d *Dealer) Cancel(s *session.Session, m *wamp.Cancel) {
	if v, ok := d.callers.Load(s.ID); ok {
		c := v.(*caller)
		c.mu.Lock()
		node, remote := c.calls[m.Request]
		if remote {
			if mode, _ := m.Options.String("mode"); mode != rpc.CancelKill {
				// skip and killnowait settle the call now: the callee's node answers at once
				// (or, for a caller that settles it itself, not at all).
				delete(c.calls, m.Request)
			}
		}
		c.mu.Unlock()
		if remote {
			d.forward(node, kindCancel, s, m, false)
			return
		}
	}
	d.local.Cancel(s, m)
}

// Leave drops a session: its registrations and calls here, and its stand-ins on the nodes
// that served its calls.
func (d *Dealer) Leave(s *session.Session) {
	d.local.Leave(s)
	v, ok := d.callers.LoadAndDelete(s.ID)
	if !ok {
		return
	}
	c := v.(*caller)
	c.mu.Lock()
	c.gone = true
	nodes := make([]string, 0, len(c.nodes))
	for n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		d.send(n, envelope{kind: kindLeft, session: s.ID, node: d.self})
	}
}

// NodeDown drops what a node's run held: its callees leave every registration, the calls of
// this node's sessions it was serving fail with wamp.error.canceled, and the stand-ins of its
// callers here leave (their callees here are interrupted).
func (d *Dealer) NodeDown(node string, epoch uint64) {
	if node == d.self || d.closed.Load() {
		return
	}
	run := nodeRun{node, epoch}
	d.down.Store(run, struct{}{})
	var failed []func()
	d.callers.Range(func(_, v any) bool {
		c := v.(*caller)
		c.mu.Lock()
		for req, n := range c.calls {
			if n == node {
				delete(c.calls, req)
				s, req := c.s, req
				failed = append(failed, func() {
					s.SendError(wamp.TypeCall, req, wamp.ErrCanceled, "the callee's node "+node+" left the cluster")
				})
			}
		}
		for req, n := range c.streams {
			if n == node {
				c.streams[req] = ""
			}
		}
		delete(c.nodes, node)
		c.mu.Unlock()
		return true
	})
	for _, f := range failed {
		f()
	}
	d.proxies.Range(func(k, v any) bool {
		if k.(proxyKey).node == node {
			d.proxies.Delete(k)
			d.local.Leave(v.(*session.Session))
		}
		return true
	})
	d.dir.nodeDown(node, epoch, func() bool {
		// Removal goes ahead while the node is still down and this node serves: a node that
		// was itself cut off hears of no one, and must not strike live nodes' callees.
		_, still := d.down.Load(run)
		return still
	}, func() bool { return d.node.Err() == nil })
}

// NodeUp takes back a node run called down that is heard of again (this node, cut off for
// a while, took it for down): calls go to its callees again.
func (d *Dealer) NodeUp(node string, epoch uint64) {
	d.down.Delete(nodeRun{node, epoch})
}

// MetaProcedures are the registration meta API over the whole cluster.
func (d *Dealer) MetaProcedures() map[wamp.URI]session.LocalProcedure {
	return d.metaProcedures()
}
