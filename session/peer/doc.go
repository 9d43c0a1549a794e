// Package peer is the contract between the session layer and the transports: what a router
// session needs from its connection (Peer), what the Go client needs from its own (Client),
// and the vocabulary both sides share (Details, the errors, the close codes).
//
// It imports nothing of Pawl. A transport implements these interfaces without knowing WAMP,
// and the broker and dealer, which address sessions, never learn which transport carries
// them: how a transport batches its writes (the WebSocket outbox and write delay) stays
// inside it. Implementations: the WebSocket connection (transport/websocket.Conn), the
// RawSocket connection (transport/rawsocket.Conn) and the in-memory connection
// (transport/memory).
package peer
