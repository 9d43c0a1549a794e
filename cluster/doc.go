// Package cluster runs several Pawl nodes as one router, on NATS.
//
// A Node is this process's membership of a cluster: one NATS connection (to an external NATS
// cluster, or in process to a nats-server embedded in this node and routed to its peers' —
// then a 3-node Pawl cluster needs no other service), a JetStream context, a name, and a
// slot: a number from 1 to MaxSlots claimed in a JetStream key-value bucket and refreshed on
// every heartbeat, which makes session IDs unique cluster-wide (SessionID puts the slot in
// an ID's high bits).
//
// Liveness: every node publishes a heartbeat on its cluster's subject every
// Config.Heartbeat; a node not heard from for Config.NodeTimeout is down, and OnNodeDown
// callbacks run once for it (a node that comes back is a new incarnation, announced to
// OnNodeUp). A node that cannot refresh its own slot within NodeTimeout — its NATS connection
// is gone, or JetStream has no quorum from where it stands — is unavailable (Node.Err): the
// layers above refuse new work with ErrUnavailable's URI rather than serve a split view, and
// the node rejoins by itself when NATS comes back.
//
// On the node, Directory replicates each node's own entries (its subscription patterns, its
// sessions and their testaments) to every other node over core NATS. PubSub implements the
// broker's seam, pubsub.Bus (one NATS message per publication per interested node), and
// pubsub.BusMeta (retained events kept cluster-wide in a JetStream bucket, retained.go; a dead
// node's subscription meta events, deadsubs.go); Sessions implements realm.SessionDirectory (session meta API, the kill family
// and dead nodes' testaments across the cluster). Join and Member wire a realm.Router to a node.
// The seams live next to their users; this package implements them on NATS. A router without
// a cluster section runs none of this on its message path.
package cluster
