package main

import (
	"log/slog"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/realm"
)

// clusterNode is the router's membership of its cluster (cluster: in the config).
type clusterNode struct {
	node   *cluster.Node
	member *cluster.Member
}

// startClusterNode joins the cluster the config names and makes rt one of its nodes. The
// node serves once it has claimed its slot; until then sessions are refused with
// pawl.error.cluster_unavailable.
func startClusterNode(cfg *Config, rt *realm.Router, log *slog.Logger) (*clusterNode, error) {
	n, err := cluster.Start(*cfg.Cluster, cluster.Options{DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	m, err := cluster.Join(n, rt)
	if err != nil {
		n.Close()
		return nil, err
	}
	log.Info("cluster node started", "cluster", n.Config().Name, "node", n.Name())
	return &clusterNode{node: n, member: m}, nil
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
