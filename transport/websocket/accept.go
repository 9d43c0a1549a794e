package websocket

import (
	"context"
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

// Accept answers r's handshake with u (an Upgrader of opts) and takes over the connection:
// from then on this engine reads and writes its frames (gorilla's connection is not kept).
// permessage-deflate is accepted as opts.Deflate allows, when the client offers it. On
// failure u has answered with an HTTP error. Whoever serves the connection calls Done when
// finished; the Conn's request is r, detached from its context.
func Accept(u *gorilla.Upgrader, w http.ResponseWriter, r *http.Request, opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	ws, agreed, deflate, err := upgradeDeflating(u, w, r, &opts.Deflate)
	if err != nil {
		return nil, err
	}
	c := newServerConn(ws, &opts, r.WithContext(context.Background()), nil)
	if deflate {
		c.useDeflate(agreed)
	}
	return c, nil
}

// SendShared queues one message like SendMessage, for a message queued to many connections
// (a broadcast): with permessage-deflate it is compressed once for all of them, not once per
// connection. The slice must not change afterwards.
func (c *Conn) SendShared(frame []byte, binary bool) error {
	return c.enqueue(frame, sendOptions{binary: binary, mixed: true, shared: true})
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
