package pubsub_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

// discardingSubscriber is a WebSocket peer written by hand: it joins, subscribes, then reads
// and throws away bytes without parsing them, so it allocates nothing per event and the
// benchmark's allocation count is the router's.
func discardingSubscriber(b *testing.B, url string, topic wamp.URI) net.Conn {
	b.Helper()
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/ws"), "ws://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
		host, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %v %v", resp, err)
	}
	send := func(text string) {
		// Client frames are masked; a zero mask keeps the payload as is.
		frame := []byte{0x81}
		n := len(text)
		if n < 126 {
			frame = append(frame, 0x80|byte(n))
		} else {
			frame = binary.BigEndian.AppendUint16(append(frame, 0x80|126), uint16(n))
		}
		frame = append(append(frame, 0, 0, 0, 0), text...)
		if _, err := c.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	readFrame := func() string {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			b.Fatal(err)
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(br, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			io.ReadFull(br, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, n)
		io.ReadFull(br, p)
		return string(p)
	}
	send(`[1,"realm1",{"roles":{"subscriber":{}}}]`)
	if m := readFrame(); !strings.HasPrefix(m, "[2,") {
		b.Fatalf("expected WELCOME, got %s", m)
	}
	send(fmt.Sprintf(`[32,1,{},%q]`, topic))
	if m := readFrame(); !strings.HasPrefix(m, "[33,") {
		b.Fatalf("expected SUBSCRIBED, got %s", m)
	}
	go io.Copy(io.Discard, br)
	return c
}

// BenchmarkFanout publishes into the broker (as the router itself, so no publisher socket is
// involved) to N subscribers that discard what they read. allocs/op is per publication:
// dividing by N gives the allocations per delivered event, which must stay at zero — a
// publication costs a constant number of allocations (the EVENT and one frame per codec)
// however many receive it.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			r := routertest.Start(b, routertest.Options{})
			conns := make([]net.Conn, n)
			for i := range conns {
				conns[i] = discardingSubscriber(b, r.URL, "bench.topic")
			}
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
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
