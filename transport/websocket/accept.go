package websocket

import (
	"net/http"

	gorilla "github.com/gorilla/websocket"
)

// What a server other than Server needs to run connections on this engine (the plain
// WebSocket App in transport/wsapp): the handshake Server performs, and a connection taken
// over from it.

// Upgrader is the handshake-only upgrader Server uses for opts: write buffers shared between
// connections, opts.Subprotocols, and the origin check of opts.AllowedOrigins (clients that
// send no Origin, "*", listed origins, else pages from the same host only).
func Upgrader(opts Options) gorilla.Upgrader {
	return gorilla.Upgrader{
		WriteBufferPool: writeBufferPool,
		Subprotocols:    opts.Subprotocols,
		CheckOrigin:     func(r *http.Request) bool { return checkOrigin(&opts, r) },
	}
}

// Accept takes over a connection the Upgrader upgraded: from then on this engine reads and
// writes its frames (gorilla's connection is not kept). r is the upgrade request, detached
// from its context by the caller. Whoever serves the connection calls Done when finished.
func Accept(ws *gorilla.Conn, opts Options, r *http.Request) *Conn {
	return newServerConn(ws, &opts, r, nil)
}

// ReadMessage returns the next whole message and whether it came in a binary frame. Only
// the connection's owner goroutine may call it.
func (c *Conn) ReadMessage() (binary bool, data []byte, err error) {
	for {
		if err := c.awaitData(false); err != nil {
			return false, nil, err
		}
		if binary, data, err = c.read(); err != errNoMessage {
			return binary, data, err
		}
	}
}

// TruncateReason keeps a close reason within the 123 bytes a close frame allows, as Close
// does.
func TruncateReason(reason string) string { return truncateReason(reason) }

// WithDefaults returns the options with every zero field set to its default.
func (o Options) WithDefaults() Options { return o.withDefaults() }
