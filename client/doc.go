// Package client is Pawl's Go client: a WAMP session seen from the peer's side, which
// publishes, subscribes, calls and registers.
//
// Start with Dial, which opens a WebSocket (ws:// or wss://) and joins a realm:
//
//	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", "realm1", client.Options{Serializer: "msgpack"})
//
// Options say how to join: the serializer, the authid and Credentials (ticket, wampcra,
// wamp-scram, cryptosign) or an OnChallenge handler, TLS, HTTP headers, the transport's limits.
// Join does the same over a connection that is already open, of any transport (a
// peer.Client); Router.LocalClient in package realm joins a router in the same process over
// transport/memory that way.
//
// A Client's methods are safe for concurrent use. Event handlers run one at a time, in order,
// on a goroutine of the client's (Options.EventQueue bounds what waits for them); each
// invocation of a procedure runs on its own goroutine, with a context that ends when the
// dealer interrupts the call or the client closes. The messages
// the router sends to an established session reach the client's handlers through a
// dispatch.Table, as on the router side (package session).
package client
