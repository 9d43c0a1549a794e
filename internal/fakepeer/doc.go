// Package fakepeer runs real router-side sessions (session.Host.ServePeer) over in-memory
// fake connections, for tests of the broker, the dealer and the realm without sockets, HTTP
// or framing: each Client writes WAMP messages as its peer would and records, in order,
// every frame the router sends it.
//
// It imports no transport, so the contract suites built on it (pubsub/pubsubtest,
// rpc/rpctest) keep pubsub and rpc free of transport packages.
package fakepeer
