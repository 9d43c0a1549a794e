package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// rsWire is a RawSocket connection (rs:// or tcp:// URLs), written by hand so that the load
// tool costs the same against any router: one write per message, PINGs answered inline.
type rsWire struct {
	c   net.Conn
	br  *bufio.Reader
	mu  sync.Mutex // a PONG from the reader and a message from the sender do not interleave
	out []byte
}

// dialRawSocket connects and runs the RawSocket handshake for codec.
func dialRawSocket(ctx context.Context, nd *net.Dialer, url string, codec wamp.Codec) (*rsWire, error) {
	addr := url[strings.Index(url, "://")+3:]
	addr, _, _ = strings.Cut(addr, "/")
	id := rawsocket.SerializerID(codec.Name())
	if id == 0 {
		return nil, fmt.Errorf("rawsocket has no serializer id for %s", codec.Name())
	}
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	var c net.Conn = countingConn{nc} // bytes on the wire, as for WebSocket peers
	c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{0x7F, 0xF0 | id, 0, 0}); err != nil {
		c.Close()
		return nil, err
	}
	w := &rsWire{c: c, br: bufio.NewReaderSize(c, 4096)}
	var reply [4]byte
	if _, err := io.ReadFull(w.br, reply[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("rawsocket handshake: %w", err)
	}
	if reply[0] != 0x7F || reply[1]&0x0F != id {
		c.Close()
		return nil, fmt.Errorf("rawsocket handshake refused: % x", reply)
	}
	return w, nil
}

func (w *rsWire) frame(typ byte, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(data)
	w.out = append(append(w.out[:0], typ, byte(n>>16), byte(n>>8), byte(n)), data...)
	_, err := w.c.Write(w.out)
	return err
}

func (w *rsWire) WriteMessage(data []byte) error { return w.frame(0, data) }

// ReadMessage returns the next regular message, answering PINGs on the way.
func (w *rsWire) ReadMessage() ([]byte, error) {
	for {
		var h [4]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return nil, err
		}
		data := make([]byte, int(h[1])<<16|int(h[2])<<8|int(h[3]))
		if _, err := io.ReadFull(w.br, data); err != nil {
			return nil, err
		}
		switch h[0] & 0x07 {
		case 0:
			return data, nil
		case 1:
			if err := w.frame(2, data); err != nil {
				return nil, err
			}
		}
	}
}

func (w *rsWire) SetReadDeadline(t time.Time) error { return w.c.SetReadDeadline(t) }
func (w *rsWire) Close() error                      { return w.c.Close() }
