package pubsub_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// benchPeer is a WebSocket peer written by hand, joined to realm1 with the given roles: send
// writes one masked text frame, next reads one frame into a buffer it reuses, so that neither
// allocates and a benchmark's allocation count is the router's.
type benchPeer struct {
	c         net.Conn
	br        *bufio.Reader
	buf       []byte
	rawSocket bool // RawSocket frames, not WebSocket ones
	// With permessage-deflate (benchDeflate): compressed frames are inflated into buf.
	zbuf []byte
	zr   io.ReadCloser
}

// benchDeflate makes joinBenchPeer offer permessage-deflate; compressedRead counts the
// compressed frames benchPeers read.
var (
	benchDeflate   = false
	compressedRead atomic.Int64
)

func joinBenchPeer(b testing.TB, url, roles string) *benchPeer {
	b.Helper()
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/ws"), "ws://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n%s\r\n",
		host, base64.StdEncoding.EncodeToString(key), deflateOffer())
	p := &benchPeer{c: c, br: bufio.NewReader(c)}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %v %v", resp, err)
	}
	p.send(b, fmt.Sprintf(`[1,"realm1",{"roles":{%s}}]`, roles))
	if m := p.next(b); !bytes.HasPrefix(m, []byte("[2,")) {
		b.Fatalf("expected WELCOME, got %s", m)
	}
	return p
}

// clientFrame is text as a masked client frame; a zero mask keeps the payload as is.
func clientFrame(text string) []byte {
	frame := []byte{0x81}
	n := len(text)
	if n < 126 {
		frame = append(frame, 0x80|byte(n))
	} else {
		frame = binary.BigEndian.AppendUint16(append(frame, 0x80|126), uint16(n))
	}
	return append(append(frame, 0, 0, 0, 0), text...)
}

func (p *benchPeer) send(b testing.TB, text string) {
	frame := clientFrame(text)
	if p.rawSocket {
		frame = rawSocketFrame(text)
	}
	if _, err := p.c.Write(frame); err != nil {
		b.Fatal(err)
	}
}

// next reads one frame's payload, valid until the next call.
func (p *benchPeer) next(b testing.TB) []byte {
	if p.rawSocket {
		return p.nextRawSocket(b)
	}
	var h [2]byte
	if _, err := io.ReadFull(p.br, h[:]); err != nil {
		b.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(p.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(p.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	if h[0]&0x40 != 0 { // RSV1: compressed
		compressedRead.Add(1)
		p.zbuf = growTo(p.zbuf, n)
		if _, err := io.ReadFull(p.br, p.zbuf); err != nil {
			b.Fatal(err)
		}
		p.zbuf = append(p.zbuf, 0, 0, 0xff, 0xff)
		if p.zr == nil {
			p.zr = flate.NewReader(bytes.NewReader(p.zbuf))
		} else {
			p.zr.(flate.Resetter).Reset(bytes.NewReader(p.zbuf), nil)
		}
		p.buf = p.buf[:0]
		for {
			if len(p.buf) == cap(p.buf) {
				p.buf = append(p.buf, 0)[:len(p.buf)]
			}
			m, err := p.zr.Read(p.buf[len(p.buf):cap(p.buf)])
			p.buf = p.buf[:len(p.buf)+m]
			if err != nil {
				return p.buf // the end of the sync-flushed data
			}
		}
	}
	p.buf = growTo(p.buf, n)
	if _, err := io.ReadFull(p.br, p.buf); err != nil {
		b.Fatal(err)
	}
	return p.buf
}

// growTo returns b with length n, reusing its array when large enough.
func growTo(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n, n+4)
	}
	return b[:n]
}

func deflateOffer() string {
	if benchDeflate {
		return "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
	}
	return ""
}

// discardingSubscriber subscribes to topic, then reads and throws away bytes without parsing
// them.
func discardingSubscriber(b testing.TB, url string, topic wamp.URI) net.Conn {
	b.Helper()
	p := joinBenchPeer(b, url, `"subscriber":{}`)
	p.send(b, fmt.Sprintf(`[32,1,{},%q]`, topic))
	if m := p.next(b); !bytes.HasPrefix(m, []byte("[33,")) {
		b.Fatalf("expected SUBSCRIBED, got %s", m)
	}
	go io.Copy(io.Discard, p.br)
	return p.c
}

// noKeepalive: the hand-written peers answer no pings, and a long run outlasts the interval.
// Nor do the subscribers' readers park in the middle of a run (they park once, right after
// joining): a park allocates its registration once per quiet spell, which is no delivery's
// cost, but a run counting allocations per publication would count it as one.
var noKeepalive = routertest.Options{Endpoint: realm.EndpointOptions{Transport: websocket.Options{
	PingInterval: -1, IdleAfter: time.Hour}}}

// subscribers joins n discarding subscribers to topic, closed when the benchmark ends.
func subscribers(b testing.TB, url string, n int, topic wamp.URI) {
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = discardingSubscriber(b, url, topic)
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
}

// BenchmarkFanout publishes into the broker (as the router itself, so no publisher socket is
// involved) to N subscribers that discard what they read. allocs/op is per publication:
// dividing by N gives the allocations per delivered event, which must stay at zero — a
// publication costs a constant number of allocations (the EVENT and one frame per codec)
// however many receive it.
func BenchmarkFanout(b *testing.B) { benchmarkFanout(b, noKeepalive) }

// BenchmarkFanoutDeflate is BenchmarkFanout with permessage-deflate negotiated by every
// subscriber and every event compressed (the minimum size lowered to the event's): the
// event is compressed once per publication, whatever the number of subscribers.
func BenchmarkFanoutDeflate(b *testing.B) {
	opts := noKeepalive
	opts.Endpoint.Transport.Deflate = websocket.DeflateOptions{Enabled: true, MinSize: 16}
	benchDeflate = true
	defer func() { benchDeflate = false }()
	benchmarkFanout(b, opts)
}

func benchmarkFanout(b *testing.B, opts routertest.Options) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			r := routertest.Start(b, opts)
			subscribers(b, r.URL, n, "bench.topic")
			raw, err := wamp.JSON.Decode([]byte(`[16,1,{},"bench.topic",["hello",42,{"k":"v"}],{"x":1.5}]`))
			if err != nil {
				b.Fatal(err)
			}
			pub := raw.(*wamp.Publish)
			broker := r.Realm.Broker()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m := *pub
				broker.Publish(nil, &m)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkFanoutFromSocket publishes from a publisher's WebSocket, ten PUBLISH messages per
// write as a busy publisher's socket brings them, each acknowledged: the path through the
// publisher's reader and its outbox, which writes each subscriber once per burst, from the
// reader's goroutine. ns/delivery includes those writes; allocs/op is per burst of ten.
func BenchmarkFanoutFromSocket(b *testing.B) {
	const burst = 10
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			r := routertest.Start(b, noKeepalive)
			subscribers(b, r.URL, n, "bench.topic")
			pub := joinBenchPeer(b, r.URL, `"publisher":{}`)
			b.Cleanup(func() { pub.c.Close() })
			var bursts []byte
			for i := range burst {
				bursts = append(bursts, clientFrame(fmt.Sprintf(
					`[16,%d,{"acknowledge":true},"bench.topic",["hello",42,{"k":"v"}],{"x":1.5}]`, i+1))...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := pub.c.Write(bursts); err != nil {
					b.Fatal(err)
				}
				for range burst {
					if m := pub.next(b); !bytes.HasPrefix(m, []byte("[17,")) {
						b.Fatalf("expected PUBLISHED, got %s", m)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst*n), "ns/delivery")
		})
	}
}
