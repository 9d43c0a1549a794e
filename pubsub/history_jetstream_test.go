package pubsub

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// startJetStream runs an embedded nats-server with JetStream on a free loopback port, its
// store in a temporary directory, until the test ends; it returns a connection to it.
func startJetStream(t *testing.T) *nats.Conn {
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
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return nc
}

func TestJetStreamStore(t *testing.T) {
	leakcheck.Check(t)
	nc := startJetStream(t)
	n := 0
	storeContract(t, func(t *testing.T) HistoryStore {
		n++
		s, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "T" + string(rune('A'+n))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	t.Run("shared by two routers", func(t *testing.T) {
		a, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "SHARED"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "SHARED"})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		defer b.Close()
		appendAll(t, a, "shared", event(1, "exact:a", Retention{Limit: 10}))
		appendAll(t, b, "shared", event(2, "exact:a", Retention{Limit: 10}))
		appendAll(t, a, "shared", event(3, "exact:a", Retention{Limit: 10}))
		for _, s := range []HistoryStore{a, b} {
			if got := scanAll(t, s, "shared", false); !reflect.DeepEqual(got, []wamp.ID{1, 2, 3}) {
				t.Errorf("got %v", got)
			}
		}
	})
	t.Run("reverse over gaps", func(t *testing.T) {
		// A log trimmed hard between the events of a long-lived one leaves long gaps of
		// deleted sequence numbers, which the reverse scan must cross without losing any.
		s, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "GAPS"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var want []wamp.ID
		for i := wamp.ID(1); i <= 3; i++ {
			appendAll(t, s, "r", event(i, "exact:kept", Retention{Limit: 100}))
			want = append([]wamp.ID{i}, want...)
			batch := make([]*HistoryEvent, 0, 1000)
			for j := wamp.ID(0); j < 1000; j++ {
				batch = append(batch, event(10000*i+j, "exact:churn", Retention{Limit: 1}))
			}
			appendAll(t, s, "r", batch...)
		}
		want = append([]wamp.ID{30999}, want...)
		if got := scanAll(t, s, "r", true); !reflect.DeepEqual(got, want) {
			t.Errorf("reverse: got %v, want %v", got, want)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		if _, err := OpenJetStreamStore(ctxT(t), nil, JetStreamOptions{}); err == nil {
			t.Error("opened a store without a connection")
		}
	})
}

// startJetStreamCluster runs n embedded nats-servers with JetStream, clustered over loopback
// routes, until the test ends (or stop is called on one).
func startJetStreamCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freeTCPPort(t)
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		srv, err := server.NewServer(&server.Options{ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "pawl-test", Host: "127.0.0.1", Port: ports[i]}, Routes: routes})
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		servers[i] = srv
		t.Cleanup(func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		})
	}
	for _, srv := range servers {
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !servers[0].JetStreamIsClustered() || servers[0].JetStreamIsCurrent() == false {
		if time.Now().After(deadline) {
			t.Fatal("JetStream cluster formed no meta leader")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return servers
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// With three replicas, the history survives the loss of the node a router wrote through.
func TestJetStreamStoreSurvivesLossOfANode(t *testing.T) {
	leakcheck.Check(t)
	servers := startJetStreamCluster(t, 3)
	connect := func(srv *server.Server) *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	open := func(nc *nats.Conn) *JetStreamStore {
		var s *JetStreamStore
		var err error
		deadline := time.Now().Add(20 * time.Second)
		for s == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			s, err = OpenJetStreamStore(ctx, nc, JetStreamOptions{Replicas: 3})
			cancel()
			if err != nil && time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	writer := open(connect(servers[0]))
	var want []wamp.ID
	for pub := wamp.ID(1); pub <= 20; pub++ {
		appendAll(t, writer, "r", event(pub, "exact:a", Retention{Limit: 100}))
		want = append(want, pub)
	}
	servers[0].Shutdown()
	servers[0].WaitForShutdown()

	reader := open(connect(servers[1]))
	var got []wamp.ID
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = nil
		err := reader.Scan(ctxT(t), "r", false, func(ev *HistoryEvent) bool { got = append(got, ev.Publication); return true })
		if err == nil && reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after losing a node: %v (err %v), want %v", got, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// And the surviving pair keeps taking events (a quorum of two).
	deadline = time.Now().Add(20 * time.Second)
	for {
		err := reader.Append(ctxT(t), "r", []*HistoryEvent{event(21, "exact:a", Retention{Limit: 100})})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("append on the surviving nodes: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := scanAll(t, reader, "r", true); len(got) != 21 || got[0] != 21 {
		t.Errorf("after appending on the survivors: %v", got)
	}
}
