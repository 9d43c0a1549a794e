package main

import (
	"context"
	"log/slog"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/realm"
)

// clusterNode is the router's membership of its cluster (cluster: in the config).
type clusterNode struct {
	node   *cluster.Node
	member *cluster.Member
	// serving ends when the process is told to stop (SIGTERM): a realm still waiting for
	// its cluster's registrations then stops waiting, so a stop during startup is not held
	// up by a cluster that has no quorum yet.
	serving context.Context
}

// startClusterNode joins the cluster the config names and makes rt one of its nodes. The
// node serves once it has claimed its slot; until then sessions are refused with
// pawl.error.cluster_unavailable.
func startClusterNode(ctx context.Context, cfg *Config, rt *realm.Router, log *slog.Logger) (*clusterNode, error) {
	n, err := cluster.Start(*cfg.Cluster, cluster.Options{DataDir: cfg.DataDir, Logger: log, Context: ctx})
	if err != nil {
		return nil, err
	}
	m, err := cluster.Join(n, rt)
	if err != nil {
		n.Close()
		return nil, err
	}
	log.Info("cluster node started", "cluster", n.Config().Name, "node", n.Name())
	return &clusterNode{node: n, member: m, serving: ctx}, nil
}

// configureRealm gives a realm the cluster's bus; nothing without a cluster.
func (c *clusterNode) configureRealm(rc *realm.Config) {
	if c != nil {
		c.member.ConfigureRealm(rc)
	}
}

func (c *clusterNode) close() {
	if c != nil {
		c.member.Close()
		c.node.Close()
	}
}
