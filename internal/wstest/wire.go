package wstest

import (
	"context"
	"net"
	"sync/atomic"
)

// Wire counts the bytes a connection reads and writes on its socket: what a compressed (or
// uncompressed) message costs on the wire.
type Wire struct {
	Read, Written atomic.Int64
}

// Dial is a NetDialContext for dialers (gorilla's, websocket.Options') whose connections
// count into w.
func (w *Wire) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return wireConn{nc, w}, nil
}

type wireConn struct {
	net.Conn
	w *Wire
}

func (c wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.Read.Add(int64(n))
	return n, err
}

func (c wireConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.Written.Add(int64(n))
	return n, err
}
