package clustered_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/rpc/clustered"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// startNATS runs an embedded nats-server with JetStream on a free loopback port, its store in
// a temporary directory, until the test ends.
func startNATS(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// testNode is one Pawl node's membership of a cluster whose NATS is one embedded server.
type testNode struct {
	name string
	nc   *nats.Conn
	js   jetstream.JetStream
}

func newTestNode(t testing.TB, srv *server.Server, name string) *testNode {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), nats.Name(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{name: name, nc: nc, js: js}
}

func (n *testNode) Name() string                    { return n.name }
func (n *testNode) Epoch() uint64                   { return 1 }
func (n *testNode) Conn() *nats.Conn                { return n.nc }
func (n *testNode) JetStream() jetstream.JetStream  { return n.js }
func (n *testNode) Subject(tokens ...string) string { return "pawltest." + strings.Join(tokens, ".") }
func (n *testNode) Bucket(name string) string       { return "pawltest_" + name }
func (n *testNode) Replicas() int                   { return 1 }
func (n *testNode) Err() error {
	if !n.nc.IsConnected() {
		return nats.ErrConnectionClosed
	}
	return nil
}

// newDealer starts a realm's clustered dealer on a node; peers counts the other nodes alive.
func newDealer(t testing.TB, node clustered.Node, peers func() int, opts rpc.Options) *clustered.Dealer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := clustered.New(ctx, clustered.Options{Node: node, Realm: "realm1", Local: opts,
		Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// spread is one realm served by several nodes' dealers, for suites written against one
// rpc.Dealer: each session is on one node, chosen by its ID, so that callers and callees
// of the same test land on different nodes.
type spread struct {
	nodes []*clustered.Dealer
	mu    sync.Mutex
	on    map[*session.Session]*clustered.Dealer
	next  int
}

func (sp *spread) of(s *session.Session) *clustered.Dealer {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	d := sp.on[s]
	if d == nil {
		d = sp.nodes[sp.next%len(sp.nodes)]
		sp.next++
		sp.on[s] = d
	}
	return d
}

func (sp *spread) Register(s *session.Session, m *wamp.Register)     { sp.of(s).Register(s, m) }
func (sp *spread) Unregister(s *session.Session, m *wamp.Unregister) { sp.of(s).Unregister(s, m) }
func (sp *spread) Call(s *session.Session, m *wamp.Call)             { sp.of(s).Call(s, m) }
func (sp *spread) Cancel(s *session.Session, m *wamp.Cancel)         { sp.of(s).Cancel(s, m) }
func (sp *spread) Yield(s *session.Session, m *wamp.Yield)           { sp.of(s).Yield(s, m) }
func (sp *spread) Error(s *session.Session, m *wamp.Error)           { sp.of(s).Error(s, m) }
func (sp *spread) Leave(s *session.Session) {
	sp.of(s).Leave(s)
	sp.mu.Lock()
	delete(sp.on, s)
	sp.mu.Unlock()
}
func (sp *spread) Features() wamp.Dict { return sp.nodes[0].Features() }
func (sp *spread) MetaProcedures() map[wamp.URI]session.LocalProcedure {
	return sp.nodes[0].MetaProcedures()
}
func (sp *spread) Close() {
	for _, d := range sp.nodes {
		d.Close()
	}
}

// Stats sums what every node's dealer holds, once each has handled what the others sent it.
func (sp *spread) Stats() rpc.Stats {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, from := range sp.nodes {
		for _, to := range sp.nodes {
			if from != to {
				if err := from.Settle(ctx, to.Name()); err != nil {
					panic(err)
				}
			}
		}
	}
	var st rpc.Stats
	for _, d := range sp.nodes {
		s := d.Stats()
		st.Calls += s.Calls
		st.Invocations += s.Invocations
		st.Queued += s.Queued
		st.QueuedChunks += s.QueuedChunks
		st.Timeouts += s.Timeouts
		st.Peers += s.Peers
		st.Registrations += s.Registrations
	}
	return st
}
