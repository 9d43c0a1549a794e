package cluster

import (
	"sort"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/admin"
)

// Member is a router serving as one node of the cluster: its session IDs come from the node,
// its realms' brokers share publications through the node's PubSub, and it ends its remote
// sessions when the node is cut off (the other nodes have called it down by then).
type Member struct {
	Node     *Node
	PubSub   *PubSub
	Sessions *Sessions
	rt       *realm.Router
	// NodesDown counts the peers called down (OnNodeDown) since Join.
	NodesDown atomic.Int64
}

// Join makes rt a node of n's cluster. Call it before the router serves, then
// ConfigureRealm for every realm before realm.New.
func Join(n *Node, rt *realm.Router) (*Member, error) {
	ps, err := NewPubSub(n)
	if err != nil {
		return nil, err
	}
	ss, err := NewSessions(n)
	if err != nil {
		ps.Close()
		return nil, err
	}
	m := &Member{Node: n, PubSub: ps, Sessions: ss, rt: rt}
	rt.SetMembership(n)
	n.OnNodeDown(func(Peer) { m.NodesDown.Add(1) })
	n.OnLost(func() { rt.CloseAll(realm.ErrClusterUnavailable, "this node was cut off from its cluster") })
	return m, nil
}

// ConfigureRealm makes a realm's broker the cluster's: call it on the realm's config before
// realm.New.
func (m *Member) ConfigureRealm(rc *realm.Config) {
	rc.Bus = m.PubSub.Realm(rc.Name)
	rc.SubscriptionID = SubscriptionID
	rc.Sessions = m.Sessions.Realm(rc.Name)
}

// ClusterStatus is the node's view of its cluster for the admin routes (admin.Cluster): this
// node and its live peers, and its bus's counters.
func (m *Member) ClusterStatus() admin.ClusterStatus {
	n := m.Node
	st := admin.ClusterStatus{Name: n.Config().Name, Node: n.Name(), Serving: n.Err() == nil,
		MessagesSent: m.PubSub.Messages.Load(), MessagesReceived: m.PubSub.Received.Load(),
		BytesSent: m.PubSub.SentBytes.Load(), BytesReceived: m.PubSub.ReceivedBytes.Load(),
		NodesDown: m.NodesDown.Load(), Refusals: realm.ClusterRefusals()}
	if err := n.Err(); err != nil {
		st.Error = err.Error()
	}
	st.Nodes = append(st.Nodes, admin.ClusterNode{Name: n.Name(), Slot: n.Slot(), Self: true})
	peers := n.Peers()
	sort.Slice(peers, func(i, j int) bool { return peers[i].Name < peers[j].Name })
	for _, p := range peers {
		st.Nodes = append(st.Nodes, admin.ClusterNode{Name: p.Name, Slot: p.Slot, LastSeen: p.LastSeen})
	}
	return st
}

// Close stops the member's cluster traffic (not the node: its owner closes it). Shut the
// router down first, so that its sessions' leaving reaches the other nodes.
func (m *Member) Close() {
	m.Sessions.Close()
	m.PubSub.Close()
}
