package main

import (
	"context"
	"errors"
	"time"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/rpc/clustered"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// clusterStartTimeout bounds how long a realm's dealer waits for the cluster (JetStream's
// quorum) when the node starts.
const clusterStartTimeout = 5 * time.Minute

// configureDealer makes a realm's dealer the cluster's: registrations cluster-wide, calls
// across nodes. Nothing without a cluster.
func (c *clusterNode) configureDealer(rc *realm.Config) {
	if c == nil {
		return
	}
	name := rc.Name
	rc.NewDealer = func(opts rpc.Options) rpc.Dealer { return c.dealer(name, opts) }
}

// dealer starts a realm's clustered dealer once the node serves. A node that cannot reach
// its cluster's registrations in time (or is told to stop while it waits) gets a dealer that
// refuses registrations (calls find nothing), never one that would register behind the
// cluster's back.
func (c *clusterNode) dealer(name wamp.URI, opts rpc.Options) rpc.Dealer {
	ctx, cancel := context.WithTimeout(c.serving, clusterStartTimeout)
	defer cancel()
	err := c.node.Ready(ctx)
	var d *clustered.Dealer
	for err == nil {
		attempt, stop := context.WithTimeout(ctx, 10*time.Second)
		d, err = clustered.New(attempt, clustered.Options{Node: c.node, Realm: name, Local: opts,
			Peers: func() int { return len(c.node.Peers()) }})
		stop()
		if err == nil || ctx.Err() != nil {
			break
		}
		opts.Logger.Warn("cluster: the registrations directory is not reachable yet", "err", err)
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(time.Second):
			err = nil
		}
	}
	if d == nil && c.serving.Err() != nil {
		opts.Logger.Info("cluster: stopping before the registrations directory was reached")
	} else if d == nil {
		opts.Logger.Error("cluster: no registrations directory, this node refuses registrations", "err", err)
	}
	if d == nil {
		opts.Directory = refusingDirectory{}
		return rpc.NewLocal(opts)
	}
	c.node.OnNodeDown(func(p cluster.Peer) { d.NodeDown(p.Name, p.Epoch) })
	c.node.OnNodeUp(func(p cluster.Peer) { d.NodeUp(p.Name, p.Epoch) })
	return d
}

// refusingDirectory refuses every registration: for a node that has no view of the cluster's.
type refusingDirectory struct{}

func (refusingDirectory) Join(*session.Session, wamp.URI, string, string) (wamp.ID, bool, error) {
	return 0, false, wamp.NewError(cluster.URIUnavailable, "this node has no view of the cluster's registrations")
}

func (refusingDirectory) Leave(*session.Session, wamp.ID, wamp.URI, string) bool { return false }

// openClusterHistory opens the history store on the cluster's JetStream (history_store.type
// jetstream) once the node serves.
func (c *clusterNode) openClusterHistory(ctx context.Context, cfg *Config) (pubsub.HistoryStore, error) {
	if c == nil {
		return nil, errors.New("history_store.type jetstream needs a cluster: section")
	}
	ctx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	defer cancel()
	if err := c.node.Ready(ctx); err != nil {
		return nil, err
	}
	opts := cfg.HistoryStore.JetStream
	if opts.Replicas == 0 {
		opts.Replicas = c.node.Replicas()
	}
	if opts.Prefix == "" {
		opts.Prefix = c.node.Bucket("history")
	}
	return pubsub.OpenJetStreamStore(ctx, c.node.Conn(), opts)
}
