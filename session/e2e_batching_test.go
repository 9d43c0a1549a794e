package session_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/race"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
)

// wirePeer is a WAMP peer written by hand over a WebSocket or RawSocket connection (JSON), so
// that a test decides how its messages are cut into writes and reads what it gets with no
// allocation: send writes any number of messages in one write, next returns one message,
// valid until the next call.
type wirePeer struct {
	c         net.Conn
	br        *bufio.Reader
	rawSocket bool
	out, buf  []byte
}

// dialWire joins realm1 over the router's WebSocket or RawSocket port with roles.
func dialWire(t testing.TB, r *routertest.Router, rawSocket bool, roles string) *wirePeer {
	t.Helper()
	host := strings.TrimSuffix(strings.TrimPrefix(r.URL, "ws://"), "/ws")
	if rawSocket {
		host = strings.TrimPrefix(r.RawSocketURL, "rs://")
	}
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &wirePeer{c: c, br: bufio.NewReader(c), rawSocket: rawSocket}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if rawSocket {
		// Handshake: the largest message we take (2^24) and JSON.
		if _, err := c.Write([]byte{0x7F, 0xF1, 0, 0}); err != nil {
			t.Fatal(err)
		}
		var reply [4]byte
		if _, err := io.ReadFull(p.br, reply[:]); err != nil || reply[0] != 0x7F || reply[1]&0x0F != 1 {
			t.Fatalf("handshake: % x, %v", reply, err)
		}
	} else {
		key := make([]byte, 16)
		rand.Read(key)
		fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
			host, base64.StdEncoding.EncodeToString(key))
		resp, err := http.ReadResponse(p.br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
	}
	p.send(t, fmt.Sprintf(`[1,"realm1",{"roles":{%s}}]`, roles))
	p.expect(t, "[2,")
	c.SetDeadline(time.Time{})
	return p
}

// frame appends msg framed as the peer's transport says: a masked WebSocket text frame (a
// zero mask keeps the payload as is), or a RawSocket frame.
func (p *wirePeer) frame(dst []byte, msg []byte) []byte {
	n := len(msg)
	switch {
	case p.rawSocket:
		dst = append(dst, 0, byte(n>>16), byte(n>>8), byte(n))
	case n < 126:
		dst = append(dst, 0x81, 0x80|byte(n), 0, 0, 0, 0)
	default:
		dst = append(binary.BigEndian.AppendUint16(append(dst, 0x81, 0x80|126), uint16(n)), 0, 0, 0, 0)
	}
	return append(dst, msg...)
}

// send writes msgs in one write.
func (p *wirePeer) send(t testing.TB, msgs ...string) {
	p.out = p.out[:0]
	for _, m := range msgs {
		p.out = p.frame(p.out, []byte(m))
	}
	p.flush(t)
}

func (p *wirePeer) flush(t testing.TB) {
	if _, err := p.c.Write(p.out); err != nil {
		t.Fatal(err)
	}
}

// next reads one message.
func (p *wirePeer) next(t testing.TB) []byte {
	p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [4]byte
	n := 0
	if p.rawSocket {
		if _, err := io.ReadFull(p.br, h[:4]); err != nil {
			t.Fatal(err)
		}
		n = int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	} else {
		if _, err := io.ReadFull(p.br, h[:2]); err != nil {
			t.Fatal(err)
		}
		if n = int(h[1] & 0x7f); n == 126 {
			if _, err := io.ReadFull(p.br, h[2:4]); err != nil {
				t.Fatal(err)
			}
			n = int(binary.BigEndian.Uint16(h[2:4]))
		}
	}
	if cap(p.buf) < n {
		p.buf = make([]byte, n)
	}
	p.buf = p.buf[:n]
	if _, err := io.ReadFull(p.br, p.buf); err != nil {
		t.Fatal(err)
	}
	return p.buf
}

// expect reads the next message, which must start with prefix.
func (p *wirePeer) expect(t testing.TB, prefix string) []byte {
	t.Helper()
	m := p.next(t)
	if !bytes.HasPrefix(m, []byte(prefix)) {
		t.Fatalf("expected %s..., got %s", prefix, m)
	}
	return m
}

// requestOf is the request ID a message carries second ([TYPE, ID, ...]).
func requestOf(t testing.TB, m []byte) []byte {
	rest := m[bytes.IndexByte(m, ',')+1:]
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		t.Fatalf("no request ID in %s", m)
	}
	return rest[:end]
}

// answer reads n INVOCATIONs and answers them all in one write, echoing their first argument.
func (p *wirePeer) answer(t testing.TB, n int) {
	p.out = p.out[:0]
	for range n {
		inv := p.expect(t, "[68,")
		p.buf = p.buf[:0]
		p.buf = append(p.buf, "[70,"...)
		p.buf = append(p.buf, requestOf(t, inv)...)
		p.buf = append(p.buf, ",{},[\"echo\"]]"...)
		p.out = p.frame(p.out, p.buf)
	}
	p.flush(t)
}

// calls is n CALLs of proc, request IDs from first.
func calls(proc string, first, n int) []string {
	var msgs []string
	for i := range n {
		msgs = append(msgs, `[48,`+strconv.Itoa(first+i)+`,{},"`+proc+`",["hello"]]`)
	}
	return msgs
}

// rpcRouter starts a router serving WebSocket and RawSocket, and registers a callee of
// "com.example.echo" over calleeTransport.
func rpcRouter(t *testing.T, rawSocketCallee bool) (*routertest.Router, *wirePeer) {
	r := routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{}})
	callee := dialWire(t, r, rawSocketCallee, `"callee":{}`)
	callee.send(t, `[64,1,{},"com.example.echo"]`)
	callee.expect(t, "[65,")
	return r, callee
}

func transportName(rawSocket bool) string {
	if rawSocket {
		return "rawsocket"
	}
	return "websocket"
}

// The INVOCATIONs that one read of a caller brings reach the callee in one write, and the
// RESULTs that one read of the callee brings reach the caller in one write, whichever socket
// transport each uses: the router's write per call is its caller's RESULT, and a callee's
// writes are shared by the calls that reach it together. The count is the callee's and the
// caller's TCP data segments (TCP_INFO), one per router write of this size.
func TestCallsOfOneReadShareOneWrite(t *testing.T) {
	const n = 16
	for _, callerRaw := range []bool{false, true} {
		for _, calleeRaw := range []bool{false, true} {
			t.Run(transportName(callerRaw)+" caller, "+transportName(calleeRaw)+" callee", func(t *testing.T) {
				r, callee := rpcRouter(t, calleeRaw)
				caller := dialWire(t, r, callerRaw, `"caller":{}`)
				calleeSegs, callerSegs := dataSegmentsIn(t, callee.c), dataSegmentsIn(t, caller.c)

				caller.send(t, calls("com.example.echo", 1, n)...)
				callee.answer(t, n)
				if got := dataSegmentsIn(t, callee.c) - calleeSegs; got != 1 {
					t.Errorf("the callee got %d INVOCATIONs in %d writes, want 1", n, got)
				}
				for i := range n {
					if m := caller.expect(t, "[50,"); string(requestOf(t, m)) != strconv.Itoa(i+1) {
						t.Fatalf("RESULT %d answers %s: out of order", i+1, m)
					}
				}
				if got := dataSegmentsIn(t, caller.c) - callerSegs; got != 1 {
					t.Errorf("the caller got %d RESULTs in %d writes, want 1", n, got)
				}
			})
		}
	}
}

// maxAllocsPerCall pins the router's allocations for one call (CALL read, INVOCATION written,
// YIELD read, RESULT written): decoded messages, the call's record, two encoded frames (each
// one allocation: the codec sizes it from the payload), no details dicts (14 measured).
const maxAllocsPerCall = 16

// The call path allocates a fixed, small number of objects per call, and no more per call
// when many calls reach the router in one read (the batching allocates nothing).
func TestCallAllocations(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	r, callee := rpcRouter(t, false)
	caller := dialWire(t, r, false, `"caller":{}`)
	one := func() {
		caller.send(t, `[48,1,{},"com.example.echo",["hello"]]`)
		callee.answer(t, 1)
		caller.expect(t, "[50,")
	}
	const batch = 8
	msgs := calls("com.example.echo", 1, batch)
	many := func() {
		caller.send(t, msgs...)
		callee.answer(t, batch)
		for range batch {
			caller.expect(t, "[50,")
		}
	}
	for range 50 {
		one()
		many()
	}
	perCall := testing.AllocsPerRun(200, one)
	perBatch := testing.AllocsPerRun(100, many) / batch
	t.Logf("allocations per call: %v alone, %v in a batch of %d", perCall, perBatch, batch)
	if perCall > maxAllocsPerCall {
		t.Errorf("a call allocates %v times, want at most %d", perCall, maxAllocsPerCall)
	}
	if perBatch > perCall+0.5 {
		t.Errorf("a call in a batch allocates %v times, alone %v: batching allocates", perBatch, perCall)
	}
}

// A burst of publications that one read of the publisher brings reaches each subscriber in
// one write, whichever socket transport the publisher and the subscriber use: the publisher's
// outbox holds the writers of WebSocket and RawSocket connections alike.
func TestBurstReachesSubscribersInOneWriteAcrossTransports(t *testing.T) {
	const n = 16
	for _, pubRaw := range []bool{false, true} {
		for _, subRaw := range []bool{false, true} {
			t.Run(transportName(pubRaw)+" publisher, "+transportName(subRaw)+" subscriber", func(t *testing.T) {
				r := routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{}})
				sub := dialWire(t, r, subRaw, `"subscriber":{}`)
				sub.send(t, `[32,1,{},"com.example.burst"]`)
				sub.expect(t, "[33,")
				pub := dialWire(t, r, pubRaw, `"publisher":{}`)
				segs := dataSegmentsIn(t, sub.c)

				var burst []string
				for i := range n {
					burst = append(burst, `[16,`+strconv.Itoa(i+1)+`,{},"com.example.burst",[`+strconv.Itoa(i)+`]]`)
				}
				pub.send(t, burst...)
				for i := range n {
					if m := sub.expect(t, "[36,"); !bytes.HasSuffix(m, []byte(`,[`+strconv.Itoa(i)+`]]`)) {
						t.Fatalf("event %d is %s: out of order", i, m)
					}
				}
				if got := dataSegmentsIn(t, sub.c) - segs; got != 1 {
					t.Errorf("the subscriber got %d events in %d writes, want 1", n, got)
				}
			})
		}
	}
}

// A call whose timeout passes before the callee answers gets an INTERRUPT, which never reaches
// the callee before the call's INVOCATION, however short the timeout and however the
// INVOCATIONs are batched (many calls in one read, each timing out after a millisecond).
func TestInterruptNeverOvertakesItsInvocation(t *testing.T) {
	const rounds, perRound = 10, 20
	r := routertest.Start(t, routertest.Options{})
	callee := dialWire(t, r, false, `"callee":{"features":{"call_canceling":true}}`)
	callee.send(t, `[64,1,{},"com.example.slow"]`)
	callee.expect(t, "[65,")
	caller := dialWire(t, r, false, `"caller":{}`)

	invoked := map[string]bool{}
	for round := range rounds {
		var msgs []string
		for i := range perRound {
			msgs = append(msgs, `[48,`+strconv.Itoa(round*perRound+i+1)+`,{"timeout":1},"com.example.slow",[]]`)
		}
		caller.send(t, msgs...)
		// Each call gets its INVOCATION and, the callee never answering, its INTERRUPT.
		for range 2 * perRound {
			m := callee.next(t)
			id := string(requestOf(t, m))
			switch {
			case bytes.HasPrefix(m, []byte("[68,")):
				invoked[id] = true
			case bytes.HasPrefix(m, []byte("[69,")):
				if !invoked[id] {
					t.Fatalf("INTERRUPT %s reached the callee before its INVOCATION", m)
				}
			default:
				t.Fatalf("the callee got %s", m)
			}
		}
		for range perRound {
			if m := caller.expect(t, "[8,48,"); !bytes.Contains(m, []byte("wamp.error.timeout")) {
				t.Fatalf("the caller got %s, want wamp.error.timeout", m)
			}
		}
	}
}
