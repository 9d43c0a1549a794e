// Package rawsocket is WAMP's RawSocket transport (WAMP advanced profile, "RawSocket
// Transport"): WAMP messages over a plain byte stream — TCP, TLS or a Unix socket — each
// behind a 4-octet header, after a 4-octet handshake that picks the serializer and each side's
// largest message. It is lighter than WebSocket (no HTTP, no masking, no per-frame
// extensions), and what Autobahn|Python backends, the nexus client, autobahn.js in Node and
// embedded clients speak.
//
// A Conn is a router session's connection (peer.Peer) and the Go client's (peer.Client), with
// the WebSocket connection's properties: sends never block (a bounded queue, in messages and
// bytes; a full one is a slow consumer), a reply is written at once from the sender's
// goroutine when nothing is queued (SendNow), the events one read's publications give a
// subscriber go out in one writev (the reader's outbox, shared with the WebSocket transport
// through transport/internal/sockio, so it batches recipients of either), and an idle
// connection on a plain socket holds no read buffer. PING and PONG frames keep the connection alive.
//
// Server serves connections from any net.Listener; Split shares a WebSocket port, handing a
// connection whose first octet is 0x7F (RawSocket's magic) to a Server and anything else to
// net/http. Dial connects to rs://, rss://, tcp://, tcps:// and unix:// URLs.
package rawsocket
