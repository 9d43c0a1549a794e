// Package transport holds Pawl's transports and nothing else; the code is in its
// subpackages, one per idea:
//
//   - transport/websocket: the WebSocket engine, a server and dialer that carry whole
//     messages. Its Conn is the session layer's peer.Peer (and the Go client's peer.Client).
//   - transport/rawsocket: WAMP's RawSocket transport over TCP, TLS and Unix sockets, and
//     Split, which shares a WebSocket port with it.
//   - transport/internal/sockio: what both socket transports share below their framing: the
//     non-blocking writev writer, the read buffer and its readiness wait, and the Outbox that
//     batches the writes one reader's messages cause, across both transports.
//   - transport/memory: the in-process transport, two ends joined by bounded queues, behind
//     realm.Router.LocalClient.
//   - transport/wsapp: the plain WebSocket application framework (Ratchet-style components
//     on routes of an App), built on the WebSocket engine, with no WAMP in it.
//
// The session layer reaches every transport through the interfaces of session/peer, so the
// broker and dealer (pubsub, rpc) import no transport package.
package transport
