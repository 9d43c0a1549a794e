// Package websocket is Pawl's WebSocket engine: a server and dialer that carry whole
// messages, with a bounded outbound queue drained by one writer per connection. After the
// handshake (gorilla/websocket performs it) the server keeps only the socket and reads and
// writes frames itself.
//
// A Conn is the session layer's peer.Peer (and the Go client's peer.Client); how it batches
// writes (the reader's outbox, Options.WriteDelay) stays in the transports: the writer, the
// read buffer and the outbox below the framing are shared with RawSocket
// (transport/internal/sockio). Server is the http.Handler
// that upgrades requests and hands each connection to a Handler on a goroutine of its own —
// until the peer goes quiet: then a handler reading with ReadOrPark (peer.Parker) lets the
// goroutine go, and one is started again when the socket is readable (park.go); Dial opens a
// client connection. Of WAMP it knows only which serializer each WAMP
// subprotocol names (RegisterSubprotocol); the session layer finds the codec by that name.
//
// The plain WebSocket App (transport/wsapp) runs its connections on this engine through
// Upgrader and Accept. This package's name is gorilla's too: files that import both name
// gorilla's "gorilla".
package websocket
