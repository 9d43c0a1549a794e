package websocket

import (
	"context"
	"fmt"
	"net/http"

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
	return newClientConn(ws, opts), nil
}
