package rawsocket_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
)

// rawPeer is a hand-written RawSocket client: it sends exactly the octets a test gives.
type rawPeer struct {
	t *testing.T
	c net.Conn
}

func dialRaw(t *testing.T, url string) *rawPeer {
	t.Helper()
	addr := url[strings.Index(url, "://")+3:]
	addr = strings.TrimSuffix(addr, "/ws")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawPeer{t: t, c: c}
}

func (p *rawPeer) write(b ...byte) {
	p.t.Helper()
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) read(n int) []byte {
	p.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(p.c, b); err != nil {
		p.t.Fatalf("read %d octets: %v", n, err)
	}
	return b
}

// frame is a RawSocket frame of type typ.
func frame(typ byte, payload string) []byte {
	n := len(payload)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
}

// readFrame reads one frame: its type and payload.
func (p *rawPeer) readFrame() (byte, string) {
	p.t.Helper()
	h := p.read(4)
	n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	return h[0], string(p.read(n))
}

// expectClosed checks that the router ends the connection (end of stream, no more octets).
func (p *rawPeer) expectClosed() {
	p.t.Helper()
	b, err := io.ReadAll(p.c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		p.t.Fatalf("expected the router to close, got %v", err)
	}
	if len(b) != 0 {
		p.t.Fatalf("expected the router to close, got %q", b)
	}
}

func startRS(t *testing.T, o rawsocket.Options) *routertest.Router {
	return routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{Transport: o}})
}

// TestHandshakeReplies pins the router's answers to the spec's handshake cases.
func TestHandshakeReplies(t *testing.T) {
	r := startRS(t, rawsocket.Options{MaxMessageSize: 1 << 16, MinPeerMessageSize: 1 << 12})
	cases := []struct {
		name  string
		hello []byte
		want  []byte
	}{
		{"accepted, json, router announces 2^16", []byte{0x7F, 0xF1, 0, 0}, []byte{0x7F, 0x71, 0, 0}},
		{"accepted, msgpack", []byte{0x7F, 0xF2, 0, 0}, []byte{0x7F, 0x72, 0, 0}},
		{"serializer unsupported", []byte{0x7F, 0xF9, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"serializer 0 unsupported", []byte{0x7F, 0xF0, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"maximum length unacceptable", []byte{0x7F, 0x21, 0, 0}, []byte{0x7F, 0x20, 0, 0}},
		{"reserved bits used", []byte{0x7F, 0xF1, 0, 1}, []byte{0x7F, 0x30, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw(t, r.RawSocketURL)
			p.write(tc.hello...)
			if got := p.read(4); !bytes.Equal(got, tc.want) {
				t.Fatalf("reply % x, want % x", got, tc.want)
			}
			if tc.want[1]&0x0F == 0 {
				p.expectClosed()
			}
		})
	}
	t.Run("not rawsocket", func(t *testing.T) {
		p := dialRaw(t, r.RawSocketURL)
		p.write('G', 'E', 'T', ' ')
		p.expectClosed()
	})
}

func TestHandshakeMaxConnections(t *testing.T) {
	r := startRS(t, rawsocket.Options{MaxConnections: 1})
	first := dialRaw(t, r.RawSocketURL)
	first.write(0x7F, 0xF1, 0, 0)
	first.read(4)
	second := dialRaw(t, r.RawSocketURL)
	second.write(0x7F, 0xF1, 0, 0)
	if got := second.read(4); !bytes.Equal(got, []byte{0x7F, 0x40, 0, 0}) {
		t.Fatalf("reply % x, want maximum connection count reached", got)
	}
	second.expectClosed()
	first.c.Close()
	// The slot is free again once the first connection is gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		third := dialRaw(t, r.RawSocketURL)
		third.write(0x7F, 0xF1, 0, 0)
		if got := third.read(4); got[1] == 0xF1 || got[1]&0x0F == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection count never went down")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// joined performs the handshake and joins realm1 with JSON.
func joined(t *testing.T, url string) *rawPeer {
	p := dialRaw(t, url)
	p.write(0x7F, 0xF1, 0, 0)
	if got := p.read(4); got[1]&0x0F != 1 {
		t.Fatalf("handshake reply % x", got)
	}
	p.write(frame(0, `[1,"realm1",{"roles":{"subscriber":{},"publisher":{}}}]`)...)
	if typ, m := p.readFrame(); typ != 0 || !strings.HasPrefix(m, "[2,") {
		t.Fatalf("expected WELCOME, got %d %s", typ, m)
	}
	return p
}

func TestPingAnsweredWithPong(t *testing.T) {
	r := startRS(t, rawsocket.Options{})
	p := joined(t, r.RawSocketURL)
	// Every PING gets its own PONG with its payload, in order, between regular messages.
	p.write(append(append(frame(1, "one"), frame(1, "")...), frame(1, "three")...)...)
	for _, want := range []string{"one", "", "three"} {
		if typ, got := p.readFrame(); typ != 2 || got != want {
			t.Fatalf("got frame %d %q, want PONG %q", typ, got, want)
		}
	}
	p.write(frame(0, `[32,1,{},"a.topic"]`)...)
	if typ, m := p.readFrame(); typ != 0 || !strings.HasPrefix(m, "[33,1,") {
		t.Fatalf("expected SUBSCRIBED, got %d %s", typ, m)
	}
}

func TestKeepalive(t *testing.T) {
	r := startRS(t, rawsocket.Options{PingInterval: 100 * time.Millisecond, PongTimeout: 200 * time.Millisecond})
	t.Run("answered", func(t *testing.T) {
		p := joined(t, r.RawSocketURL)
		for range 3 {
			typ, payload := p.readFrame()
			if typ != 1 {
				t.Fatalf("expected PING, got frame type %d", typ)
			}
			p.write(frame(2, payload)...)
		}
		// Still served.
		p.write(frame(0, `[32,1,{},"a.topic"]`)...)
		if typ, m := p.readFrame(); typ != 0 || !strings.HasPrefix(m, "[33,") {
			t.Fatalf("expected SUBSCRIBED, got %d %s", typ, m)
		}
	})
	t.Run("unanswered", func(t *testing.T) {
		p := joined(t, r.RawSocketURL)
		if typ, _ := p.readFrame(); typ != 1 {
			t.Fatalf("expected PING, got frame type %d", typ)
		}
		start := time.Now()
		p.expectClosed()
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v", d)
		}
	})
}

func TestProtocolViolationsClose(t *testing.T) {
	r := startRS(t, rawsocket.Options{MaxMessageSize: 1024})
	cases := map[string][]byte{
		"frame longer than announced": {0, 0, 0x04, 0x01},
		"reserved frame type":         frame(3, "x"),
		"reserved header bits":        frame(0x08, "[]"),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			p := joined(t, r.RawSocketURL)
			p.write(b...)
			for {
				// A GOODBYE or ABORT may come first; then the connection ends.
				h := make([]byte, 4)
				if _, err := io.ReadFull(p.c, h); err != nil {
					return
				}
				n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
				p.read(n)
			}
		})
	}
}

// TestMessageTooBigForPeer: a client that announced 512 octets is cut off when the router
// has a larger message for it (here its WELCOME, which lists the router's roles and
// features), never sent a frame it cannot take.
func TestMessageTooBigForPeer(t *testing.T) {
	r := startRS(t, rawsocket.Options{})
	p := dialRaw(t, r.RawSocketURL)
	p.write(0x7F, 0x01, 0, 0) // 512 octets
	if got := p.read(4); got[1]&0x0F != 1 {
		t.Fatalf("handshake reply % x", got)
	}
	p.write(frame(0, `[1,"realm1",{"roles":{"subscriber":{}}}]`)...)
	p.expectClosed()
}

// TestWebSocketPortAnswersAtOnce: a RawSocket client on the WebSocket port gets its handshake
// reply at once (not after HTTP's header timeout), and HTTP still works there.
func TestWebSocketPortAnswersAtOnce(t *testing.T) {
	r := startRS(t, rawsocket.Options{})
	p := dialRaw(t, r.URL)
	p.c.SetDeadline(time.Now().Add(time.Second))
	p.write(0x7F, 0xF2, 0, 0)
	if got := p.read(4); got[1]&0x0F != 2 {
		t.Fatalf("reply % x", got)
	}
	resp, err := http.Get("http://" + strings.TrimPrefix(r.URL, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("HTTP GET on the WebSocket path: %s", resp.Status)
	}
}

// TestSlowConsumerCutOff: a RawSocket subscriber that stops reading is cut off once its
// bounded queue is full, while the publisher goes on being served.
func TestSlowConsumerCutOff(t *testing.T) {
	r := startRS(t, rawsocket.Options{QueueBytes: 1 << 20, PingInterval: -1})
	sub := joined(t, r.RawSocketURL)
	sub.write(frame(0, `[32,1,{},"slow.topic"]`)...)
	if typ, m := sub.readFrame(); typ != 0 || !strings.HasPrefix(m, "[33,") {
		t.Fatalf("expected SUBSCRIBED, got %d %s", typ, m)
	}
	pub := joined(t, r.RawSocketURL)
	big := strings.Repeat("x", 60<<10)
	const n = 400 // 24 MB: more than the socket buffers and the queue hold
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := range n {
			if _, err := pub.c.Write(frame(0, fmt.Sprintf(`[16,%d,{},"slow.topic",[%q]]`, i+1, big))); err != nil {
				return
			}
		}
	}()
	// The router cuts the subscriber off: reading what reached its socket ends in the end of
	// the stream, well before all n events.
	select { // nothing is read until the router has taken every PUBLISH
	case <-written:
	case <-time.After(15 * time.Second):
		t.Fatal("the publisher could not write its events")
	}
	sub.c.SetDeadline(time.Now().Add(10 * time.Second))
	events := 0
	for {
		h := make([]byte, 4)
		if _, err := io.ReadFull(sub.c, h); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the slow subscriber was never cut off")
			}
			break
		}
		// A connection cut off may end inside a frame.
		if _, err := io.ReadFull(sub.c, make([]byte, int(h[1])<<16|int(h[2])<<8|int(h[3]))); err != nil {
			break
		}
		events++
	}
	if events >= n {
		t.Fatalf("got all %d events: nothing was cut off", events)
	}
	// The publisher is still served.
	pub.write(frame(0, `[32,2,{},"other.topic"]`)...)
	for {
		typ, m := pub.readFrame()
		if typ == 0 && strings.HasPrefix(m, "[33,2,") {
			break
		}
	}
}

// TestHandshakeAnnouncesFullLength: with the default (and largest) max_message_size the router
// announces exponent 15, 2^24: what a frame's 24-bit length carries.
func TestHandshakeAnnouncesFullLength(t *testing.T) {
	r := startRS(t, rawsocket.Options{})
	p := dialRaw(t, r.RawSocketURL)
	p.write(0x7F, 0xF1, 0, 0)
	if got := p.read(4); !bytes.Equal(got, []byte{0x7F, 0xF1, 0, 0}) {
		t.Fatalf("reply % x, want 7f f1 00 00", got)
	}
}
