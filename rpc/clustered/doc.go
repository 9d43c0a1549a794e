// Package clustered is the dealer of a realm served by several Pawl nodes on NATS: a call on
// any node reaches a callee on any node, and the realm's registrations are one set.
//
// # Registrations
//
// The realm's registrations live in a JetStream key-value bucket shared by every node (the
// directory: one key per procedure pattern, holding the registration's ID, policy and its
// callees in the order they registered, each with its node). Every change is a
// compare-and-set on the key's revision: when two nodes register the same procedure at once,
// one create wins and the other re-reads it, then joins it (shared, same policy) or refuses
// with wamp.error.procedure_already_exists. Each node keeps a copy of the directory, fed by a
// watcher and by its own writes, and routes by it without a network round trip. A
// registration change waits (up to two seconds) until every live node's copy has it, so that
// once a callee has its REGISTERED, a call on any node reaches it.
//
// # Calls
//
// A call goes to the node of the callee its registration's policy chooses. There the node's
// in-process dealer (rpc.Local) serves it for a stand-in of the caller (session.NewRemote:
// the caller's ID, authid, authrole and features), exactly as for a caller of its own: the
// callee's node alone runs its invocations, so `concurrency`, the call queue, timeouts,
// progressive results and invocations, the three cancel modes and caller disclosure behave as
// on one node. What the stand-in is sent (RESULT, ERROR) goes back to the caller's node. The
// caller's node only remembers where each of its sessions' calls went, for later chunks,
// cancels and the loss of a node; nothing waits per call, no goroutine or timer runs per
// call, and the messages between nodes go through one bounded subscription per realm.
//
// # Policies across nodes
//
// Every node's copy lists a registration's callees in the same order, the order they
// registered cluster-wide.
//   - single: there is one callee.
//   - first and last: every node sends the call to the node of the first (last) callee of
//     that list, whose dealer gives it to that callee — the same callee, whichever node the
//     call came from. When that callee is at its concurrency limit the call waits in its
//     node's queue or, if that node holds other callees of the registration, goes to the
//     first (last) of those with room: a node never passes a call on to a third node.
//   - roundrobin: each node turns through the whole list, one callee after the other,
//     whichever node each is on; a node's calls are spread evenly over all callees, and so
//     are all nodes' calls together (each callee's share differs from an even split by at
//     most one call per calling node). Strict alternation over calls made on different nodes
//     would need a shared counter and a round trip per call.
//   - random: each node draws among the whole list.
//
// # Failure
//
// When a node is gone (cluster.Node's OnNodeDown, wired to NodeDown), the calls its callees
// were serving for this node's sessions fail at once with wamp.error.canceled (what Autobahn
// and autobahn.js settle a call with), the stand-ins of its callers here leave (their
// invocations are interrupted), and its callees leave every registration (each surviving
// node tries; compare-and-set makes one of them do it and publish the meta events). A node
// that is itself cut off from the cluster (cluster.Node.Err) strikes nobody's callees, and a
// node called down but heard of again under the same run (OnNodeUp → NodeUp) is routed to
// again.
//
// A router without a cluster section uses rpc.Local alone: nothing of this package is on its
// path.
package clustered
