package wsapp_test

import (
	"strings"
	"testing"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/wstest"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
)

type countedClient struct {
	ws         *gorilla.Conn
	extensions string // the server's Sec-WebSocket-Extensions answer
	wstest.Wire
}

// dialCounted connects gorilla's client, offering permessage-deflate or not, and counts its
// bytes on the wire.
func dialCounted(t *testing.T, url string, deflate bool) *countedClient {
	t.Helper()
	c := &countedClient{}
	d := gorilla.Dialer{HandshakeTimeout: wait, EnableCompression: deflate, NetDialContext: c.Dial}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	c.ws, c.extensions = ws, resp.Header.Get("Sec-WebSocket-Extensions")
	return c
}

// A plain WebSocket route with permessage-deflate: a client's compressed message is inflated
// for the component, and the component's broadcast reaches the clients that negotiated deflate
// compressed (a fraction of its size on the wire) and the one that did not as it is.
func TestRouteDeflate(t *testing.T) {
	var group wsapp.Group
	rec := newRecorder()
	opened := make(chan struct{}, 3)
	rec.onOpen = func(p *wsapp.Peer) { group.Add(p); opened <- struct{}{} }
	rec.onMessage = func(_ *wsapp.Peer, m wsapp.Message) { group.Broadcast(m, nil) }
	_, url := startApp(t, "/chat", rec, wsapp.RouteOptions{Deflate: websocket.DeflateOptions{Enabled: true}})

	a, b, plain := dialCounted(t, url, true), dialCounted(t, url, true), dialCounted(t, url, false)
	for range 3 {
		<-opened
	}
	for _, c := range []*countedClient{a, b} {
		if !strings.HasPrefix(c.extensions, "permessage-deflate") {
			t.Fatalf("deflate offered, answered %q", c.extensions)
		}
	}
	if plain.extensions != "" {
		t.Fatalf("no deflate offered, answered %q", plain.extensions)
	}

	msg := strings.Repeat(`{"from":"ada","text":"hello, everyone"}`, 400) // 15 KiB
	sentBefore := a.Written.Load()
	if err := a.ws.WriteMessage(gorilla.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if sent := a.Written.Load() - sentBefore; sent > int64(len(msg))/4 {
		t.Errorf("client sent %d bytes on the wire for a %d-byte message: not compressed", sent, len(msg))
	}
	if got := rec.next(t, "message"); string(got.msg.Data) != msg {
		t.Fatalf("the component got %d bytes, not the message the client compressed", len(got.msg.Data))
	}
	for _, tc := range []struct {
		name       string
		c          *countedClient
		compressed bool
	}{{"a", a, true}, {"b", b, true}, {"plain", plain, false}} {
		before := tc.c.Read.Load()
		if kind, got := readMsg(t, tc.c.ws); kind != gorilla.TextMessage || got != msg {
			t.Fatalf("%s: broadcast arrived as %d bytes of kind %d", tc.name, len(got), kind)
		}
		wire := tc.c.Read.Load() - before
		if tc.compressed && wire > int64(len(msg))/4 || !tc.compressed && wire < int64(len(msg)) {
			t.Errorf("%s: %d bytes on the wire for a %d-byte broadcast (compressed: %v)", tc.name, wire, len(msg), tc.compressed)
		}
	}
}

// Off (the zero value), a route declines the offer.
func TestRouteDeflateOff(t *testing.T) {
	_, url := startApp(t, "/echo", wsapp.Echo{}, wsapp.RouteOptions{})
	if c := dialCounted(t, url, true); c.extensions != "" {
		t.Fatalf("deflate off, yet answered %q", c.extensions)
	}
}
