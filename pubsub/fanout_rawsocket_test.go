package pubsub_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/internal/race"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// rawSocketFrame is a regular RawSocket frame carrying text.
func rawSocketFrame(text string) []byte {
	n := len(text)
	return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, text...)
}

// nextRawSocket reads one regular frame's payload, valid until the next call.
func (p *benchPeer) nextRawSocket(b testing.TB) []byte {
	var h [4]byte
	if _, err := io.ReadFull(p.br, h[:]); err != nil {
		b.Fatal(err)
	}
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if cap(p.buf) < n {
		p.buf = make([]byte, n)
	}
	p.buf = p.buf[:n]
	if _, err := io.ReadFull(p.br, p.buf); err != nil {
		b.Fatal(err)
	}
	return p.buf
}

// joinRawSocketPeer joins realm1 over RawSocket (JSON) with a hand-written client.
func joinRawSocketPeer(b testing.TB, url, roles string) *benchPeer {
	b.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "rs://"))
	if err != nil {
		b.Fatal(err)
	}
	p := &benchPeer{c: c, br: bufio.NewReader(c), rawSocket: true}
	c.Write([]byte{0x7F, 0xF1, 0, 0})
	var reply [4]byte
	if _, err := io.ReadFull(p.br, reply[:]); err != nil || reply[1]&0x0F != 1 {
		b.Fatalf("handshake: % x %v", reply, err)
	}
	p.send(b, fmt.Sprintf(`[1,"realm1",{"roles":{%s}}]`, roles))
	if m := p.next(b); !bytes.HasPrefix(m, []byte("[2,")) {
		b.Fatalf("expected WELCOME, got %s", m)
	}
	return p
}

// rawSocketSubscribers joins n discarding RawSocket subscribers to topic.
func rawSocketSubscribers(b testing.TB, url string, n int, topic wamp.URI) {
	for range n {
		p := joinRawSocketPeer(b, url, `"subscriber":{}`)
		p.send(b, fmt.Sprintf(`[32,1,{},%q]`, topic))
		if m := p.next(b); !bytes.HasPrefix(m, []byte("[33,")) {
			b.Fatalf("expected SUBSCRIBED, got %s", m)
		}
		go io.Copy(io.Discard, p.br)
		b.Cleanup(func() { p.c.Close() })
	}
}

// noKeepaliveRawSocket serves RawSocket too, without keepalive on either transport.
var noKeepaliveRawSocket = routertest.Options{
	Endpoint:  realm.EndpointOptions{Transport: websocket.Options{PingInterval: -1}},
	RawSocket: &realm.RawSocketEndpointOptions{Transport: rawsocket.Options{PingInterval: -1}},
}

// TestFanoutAllocatesNothingPerDeliveryRawSocket is TestFanoutAllocatesNothingPerDelivery
// over RawSocket: publishing to a hundred RawSocket subscribers allocates no more than to
// one, from the router and from a RawSocket publisher's socket (through its reader's outbox).
func TestFanoutAllocatesNothingPerDeliveryRawSocket(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	r := routertest.Start(t, noKeepaliveRawSocket)
	fanoutAllocs(t, r, fanoutWire{join: joinRawSocketPeer, subscribers: rawSocketSubscribers,
		frame: rawSocketFrame, url: r.RawSocketURL})
}
