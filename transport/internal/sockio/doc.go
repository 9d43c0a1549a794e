// Package sockio is what the two socket transports, transport/websocket and
// transport/rawsocket, share below their framing: raw access to a plain socket's file
// descriptor, the read buffer that waits for readability holding no memory, the non-blocking
// writev writer, and the Outbox that batches the writes one reader's messages cause.
//
// Start with Outbox: it is why the rest is shared. A connection's reader (one goroutine)
// handles what one read brought — a burst of publications, the CALLs of a caller, the YIELDs
// of a callee — and every connection those messages gave something to write is held in the
// reader's outbox instead of being written at once. The outbox is flushed when the reader's
// socket has nothing more to read: each held connection then gets everything queued for it in
// one writev, from the reader's goroutine, whichever transport it uses. A WebSocket publisher's
// burst reaches a RawSocket subscriber in one write like a WebSocket subscriber, and the
// INVOCATIONs several callers' reads produce for one callee share a write. Replies that no
// other reader adds to are written as soon as the read that emptied the socket is handled,
// so a lone caller's round trip is not longer for being held.
//
// Writer is the writing half each connection embeds: writes straight on the file descriptor,
// a write deadline armed only once the socket is full, and the inline write (from a reader or
// a sender's goroutine) that never waits for the peer and leaves what the socket did not take
// to the connection's writer goroutine. ReadBuffer is the reading half: a pooled buffer
// borrowed only while bytes are pending, and the readiness wait that flushes the outbox before
// it parks.
//
// Framing (WebSocket headers, RawSocket prefixes, compression, pings) stays in the transports.
package sockio
