package websocket

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

// Dial connects to a WebSocket server offering the given subprotocols. The returned Conn's owner
// must call Read in a loop and Done when finished.
func Dial(ctx context.Context, url string, subprotocols []string, header http.Header, opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	d := websocket.Dialer{
		Subprotocols:    subprotocols,
		ReadBufferSize:  opts.ReadBufferSize,
		WriteBufferSize: 4096,
		WriteBufferPool: writeBufferPool,
		TLSClientConfig: opts.TLSConfig,
		NetDialContext:  opts.NetDialContext,
		// Gorilla offers permessage-deflate with both sides' context takeover off, what
		// Pawl's server answers, and compresses and inflates the messages itself.
		EnableCompression: opts.Deflate.Enabled,
	}
	ws, resp, err := d.DialContext(ctx, url, header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %s)", url, err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	if len(subprotocols) > 0 && ws.Subprotocol() == "" {
		ws.Close()
		return nil, fmt.Errorf("dial %s: server accepted none of the subprotocols %v", url, subprotocols)
	}
	// From here on Deflate.Enabled says whether the server accepted the offer.
	opts.Deflate.Enabled = opts.Deflate.Enabled && strings.HasPrefix(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	c := newClientConn(ws, opts)
	if opts.Deflate.Enabled {
		ws.SetCompressionLevel(opts.Deflate.Level)
	}
	return c, nil
}
