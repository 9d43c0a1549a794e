package cluster

import (
	"github.com/pawl-wamp/pawl/realm"
)

// Member is a router serving as one node of the cluster: its session IDs come from the node,
// its realms' brokers share publications through the node's PubSub, and it ends its remote
// sessions when the node is cut off (the other nodes have called it down by then).
type Member struct {
	Node     *Node
	PubSub   *PubSub
	Sessions *Sessions
	rt       *realm.Router
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

// Close stops the member's cluster traffic (not the node: its owner closes it). Shut the
// router down first, so that its sessions' leaving reaches the other nodes.
func (m *Member) Close() {
	m.Sessions.Close()
	m.PubSub.Close()
}
