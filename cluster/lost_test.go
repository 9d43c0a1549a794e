package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// startNATS runs a standalone nats-server with JetStream on addr, as an existing NATS
// deployment the node connects to by URL.
func startNATS(t *testing.T, addr, storeDir string) *server.Server {
	t.Helper()
	host, port := splitAddr(t, addr)
	srv, err := server.NewServer(&server.Options{Host: host, Port: port, JetStream: true, StoreDir: storeDir,
		NoSigs: true, NoLog: true, ServerName: "external"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return srv
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	for _, c := range addr[i+1:] {
		port = port*10 + int(c-'0')
	}
	return addr[:i], port
}

// A node that loses NATS refuses new sessions with pawl.error.cluster_unavailable, ends its
// sessions once its peers have called it down, and rejoins by itself when NATS is back.
func TestNodeThatLosesNATS(t *testing.T) {
	leakcheck.Check(t)
	addr := clustertest.FreeAddr(t)
	store := t.TempDir()
	srv := startNATS(t, addr, store)
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()

	n, err := cluster.Start(cluster.Config{Name: "lost", Node: "a", Heartbeat: clustertest.Heartbeat,
		NodeTimeout: clustertest.NodeTimeout, NATS: &cluster.NATSConfig{URLs: []string{"nats://" + addr}}},
		cluster.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	rt := realm.NewRouter(nil)
	m, err := cluster.Join(n, rt)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	anonymous := true
	rc := realm.Config{Name: "realm1", Anonymous: &anonymous}
	m.ConfigureRealm(&rc)
	rt.AddRealm(realm.New(rc, nil))
	mux := http.NewServeMux()
	mux.Handle("/ws", rt.WebSocketHandler(realm.EndpointOptions{}))
	web := httptest.NewServer(mux)
	defer web.Close()
	defer rt.Shutdown(0)
	url := "ws" + strings.TrimPrefix(web.URL, "http") + "/ws"

	c, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := realm.ClusterRefusals()

	// NATS goes away.
	srv.Shutdown()
	srv.WaitForShutdown()
	for deadline := time.Now().Add(5 * time.Second); n.Err() == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the node still serves without NATS")
		}
	}
	if !errors.Is(n.Err(), cluster.ErrUnavailable) {
		t.Errorf("Err %v", n.Err())
	}
	// An acknowledged publication is refused, with the cluster's URI.
	_, err = c.PublishAcknowledged(ctx, "com.example.t", nil, wamp.List{1}, nil)
	if err == nil || !strings.Contains(err.Error(), string(realm.ErrClusterUnavailable)) {
		t.Errorf("publish without NATS: %v, want %s", err, realm.ErrClusterUnavailable)
	}
	// So is a subscription.
	if _, err := c.Subscribe(ctx, "com.example.t", func(*client.Event) {}, nil); err == nil || !strings.Contains(err.Error(), string(realm.ErrClusterUnavailable)) {
		t.Errorf("subscribe without NATS: %v, want %s", err, realm.ErrClusterUnavailable)
	}
	// A new session is refused with ABORT.
	if _, err := client.Dial(ctx, url, "realm1", client.Options{}); err == nil || !strings.Contains(err.Error(), string(realm.ErrClusterUnavailable)) {
		t.Errorf("join without NATS: %v, want ABORT %s", err, realm.ErrClusterUnavailable)
	}
	if realm.ClusterRefusals() <= before {
		t.Error("refusal not counted")
	}
	// Past the bound, the node's peers have called it down: its sessions end.
	select {
	case <-c.Done():
		if !strings.Contains(c.Err().Error(), string(realm.ErrClusterUnavailable)) {
			t.Errorf("session ended with %v", c.Err())
		}
	case <-time.After(clustertest.NodeTimeout + 5*clustertest.Heartbeat + 2*time.Second):
		t.Fatal("the node kept its sessions after being cut off for longer than its bound")
	}

	// NATS comes back on the same address: the node rejoins and serves again.
	srv = startNATS(t, addr, store)
	for deadline := time.Now().Add(15 * time.Second); n.Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not rejoin: %v", n.Err())
		}
	}
	c2, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatalf("join after NATS came back: %v", err)
	}
	defer c2.Close()
	if _, err := c2.PublishAcknowledged(ctx, "com.example.t", nil, wamp.List{2}, nil); err != nil {
		t.Errorf("publish after rejoin: %v", err)
	}
}
