package cluster

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded starts this node's nats-server with JetStream, routed to its peers.
func startEmbedded(c Config, dataDir string) (*server.Server, error) {
	e := c.Embedded
	host, port, err := splitHostPort(e.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("cluster.embedded.cluster_listen: %w", err)
	}
	opts := &server.Options{
		ServerName: c.Node,
		NoSigs:     true,
		NoLog:      os.Getenv("PAWL_NATS_LOG") == "",
		Debug:      os.Getenv("PAWL_NATS_LOG") != "",
		Trace:      os.Getenv("PAWL_NATS_LOG") == "trace",
		JetStream:  true,
		StoreDir:   e.StoreDir,
		// One route per pair of servers (no pool): interest changes and messages between two
		// nodes then share one ordered connection.
		Cluster: server.ClusterOpts{Name: c.Name, Host: host, Port: port, PoolSize: -1},
		// The node's own connection is in process (nats.InProcessServer). Without a client
		// port asked for, one is opened on a random loopback port: nats-server's routing
		// waits for its client listener.
		Host: "127.0.0.1",
		Port: server.RANDOM_PORT,
	}
	if opts.StoreDir == "" {
		if dataDir == "" {
			dataDir = "data"
		}
		opts.StoreDir = filepath.Join(dataDir, "nats", c.Node)
	}
	if e.Listen != "" {
		if opts.Host, opts.Port, err = splitHostPort(e.Listen); err != nil {
			return nil, fmt.Errorf("cluster.embedded.listen: %w", err)
		}
	}
	for _, r := range e.Routes {
		if !strings.Contains(r, "://") {
			r = "nats-route://" + r
		}
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("cluster.embedded.routes %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if os.Getenv("PAWL_NATS_LOG") != "" {
		srv.ConfigureLogger()
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats-server: not ready after 10s (is %s free?)", e.ClusterListen)
	}
	return srv, nil
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return h, n, nil
}
