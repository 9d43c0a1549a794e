package session_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

// corkedConn holds back what is written to it until uncork, so that many WebSocket messages
// reach the router in one TCP write, as from a publisher sending a burst.
type corkedConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	held   bytes.Buffer
}

func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		return c.held.Write(p)
	}
	return c.Conn.Write(p)
}

func (c *corkedConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	_, err := c.Conn.Write(c.held.Bytes())
	return err
}

// A burst of publications that the router reads at once, ending with GOODBYE, reaches every
// subscriber whole and in order, whatever its serializer: the events the publisher's reader
// held back to write each subscriber once go out although that reader stops at the GOODBYE.
func TestPublishBurstThenGoodbye(t *testing.T) {
	const n = 60
	r := routertest.Start(t, routertest.Options{})
	var cols []collector
	for _, serializer := range []string{"json", "msgpack", "json"} {
		col := make(collector, n)
		if _, err := join(t, r, serializer).Subscribe(ctxT(t), "com.example.burst", col.handler, nil); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, col)
	}

	var conn *corkedConn
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"},
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			conn = &corkedConn{Conn: nc}
			return conn, err
		}}
	ws, _, err := d.Dial(r.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	pub := &rawPeer{t: t, ws: ws}
	welcomeID(t, pub, `[1,"realm1",{"roles":{"publisher":{}}}]`)

	conn.mu.Lock()
	conn.corked = true
	conn.mu.Unlock()
	filler := strings.Repeat("x", 40)
	for i := range n {
		pub.sendText(fmt.Sprintf(`[16,%d,{},"com.example.burst",[%d,"%s"]]`, i+1, i, filler))
	}
	pub.sendText(`[6,{},"wamp.close.close_realm"]`)
	if err := conn.uncork(); err != nil {
		t.Fatal(err)
	}
	if m, err := pub.next(); err != nil || m.Type() != wamp.TypeGoodbye {
		t.Fatalf("publisher got %v, %v; want GOODBYE", m, err)
	}
	for c, col := range cols {
		for i := range n {
			e := col.next(t)
			if seq, _ := wamp.AsInt64(e.Args[0]); seq != int64(i) {
				t.Fatalf("subscriber %d: event %d carries %v", c, i, e.Args[0])
			}
		}
	}
}
