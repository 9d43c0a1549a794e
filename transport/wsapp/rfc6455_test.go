package wsapp_test

// What RFC 6455 asks of a server, group by group of the Autobahn WebSocket testsuite's
// fuzzingclient (1 framing, 2 pings and pongs, 3 reserved bits, 4 opcodes, 5 fragmentation,
// 6 UTF-8, 7 close handling, 9 limits, 10 misc; the compression groups 12 and 13 need
// permessage-deflate, which Pawl does not negotiate yet). The testsuite itself (wstest) is
// Python 2 and not packaged for Debian, so these tests drive the same kinds of frames by hand
// over a real TCP socket, against the plain App's Echo route (text back as text, binary as
// binary) — the frame reader and writer the WAMP endpoint uses too, see
// TestWAMPEndpointWebSocketExactness. Case numbers in comments are the testsuite's.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
)

// wsEvent is one thing the server sent: a message, a pong, its close, or the end of the
// connection without a close frame.
type wsEvent struct {
	kind string // "text", "binary", "pong", "close", "end"
	data string
	code int
}

func (e wsEvent) String() string {
	if e.kind == "close" {
		return fmt.Sprintf("close %d %q", e.code, e.data)
	}
	if len(e.data) > 40 {
		return fmt.Sprintf("%s of %d bytes %.40q...", e.kind, len(e.data), e.data)
	}
	return fmt.Sprintf("%s %q", e.kind, e.data)
}

// wsPeer is a hand-driven client: gorilla did the handshake, the test writes raw frames on
// the socket, and a goroutine reads what the server sends (through gorilla, which checks the
// server's frames) into events. It never answers the server's pings, so only the test's own
// frames keep the connection alive.
type wsPeer struct {
	t      *testing.T
	ws     *gorilla.Conn
	events chan wsEvent
}

func newPeer(t *testing.T, url string, subprotocols ...string) *wsPeer {
	t.Helper()
	ws := dialWS(t, url, nil, subprotocols...)
	p := &wsPeer{t: t, ws: ws, events: make(chan wsEvent, 4096)}
	ws.SetPongHandler(func(s string) error { p.events <- wsEvent{kind: "pong", data: s}; return nil })
	ws.SetPingHandler(func(string) error { return nil })
	ws.SetReadLimit(64 << 20)
	go func() {
		defer close(p.events)
		for {
			kind, data, err := ws.ReadMessage()
			if err != nil {
				var ce *gorilla.CloseError
				if errors.As(err, &ce) {
					p.events <- wsEvent{kind: "close", code: ce.Code, data: ce.Text}
				} else {
					p.events <- wsEvent{kind: "end", data: err.Error()}
				}
				return
			}
			k := "text"
			if kind == gorilla.BinaryMessage {
				k = "binary"
			}
			p.events <- wsEvent{kind: k, data: string(data)}
		}
	}()
	return p
}

// send writes frames (or any bytes) to the socket. A write error is not the test's concern:
// a server that fails the connection may close it before everything is written, and what it
// sent before says what happened.
func (p *wsPeer) send(chunks ...[]byte) {
	p.t.Helper()
	for _, c := range chunks {
		if _, err := p.ws.NetConn().Write(c); err != nil {
			return
		}
	}
}

// sendChopped writes b in pieces of n bytes, pausing after each of the first few so that the
// server sees them in separate reads.
func (p *wsPeer) sendChopped(b []byte, n int) {
	p.t.Helper()
	for i := 0; i < len(b); i += n {
		p.send(b[i:min(i+n, len(b))])
		if i/n < 8 {
			time.Sleep(time.Millisecond)
		}
	}
}

func (p *wsPeer) next() wsEvent {
	p.t.Helper()
	select {
	case e, ok := <-p.events:
		if !ok {
			p.t.Fatal("the connection ended with nothing more")
		}
		return e
	case <-time.After(wait):
		p.t.Fatalf("nothing from the server within %v", wait)
	}
	return wsEvent{}
}

// expect asserts the next thing the server sends.
func (p *wsPeer) expect(kind, data string) {
	p.t.Helper()
	if e := p.next(); e.kind != kind || e.data != data {
		p.t.Fatalf("got %v, want %v", e, wsEvent{kind: kind, data: data})
	}
}

// expectClose asserts that the server's next frame is its close, with code.
func (p *wsPeer) expectClose(code int) wsEvent {
	p.t.Helper()
	e := p.next()
	if e.kind != "close" || e.code != code {
		p.t.Fatalf("got %v, want close %d", e, code)
	}
	return e
}

// expectTCPClosed asserts that the server closes the TCP connection after the close handshake.
func (p *wsPeer) expectTCPClosed() {
	p.t.Helper()
	p.ws.NetConn().SetReadDeadline(time.Now().Add(wait))
	if _, err := p.ws.NetConn().Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			p.t.Fatal("the server did not close the TCP connection after the close handshake")
		}
	}
}

// textFrame and friends build single masked client frames.
func textFrame(s string) []byte   { return rawFrame(true, 0, gorilla.TextMessage, true, []byte(s)) }
func binaryFrame(b []byte) []byte { return rawFrame(true, 0, gorilla.BinaryMessage, true, b) }
func pingFrame(s string) []byte   { return rawFrame(true, 0, gorilla.PingMessage, true, []byte(s)) }
func pongFrame(s string) []byte   { return rawFrame(true, 0, gorilla.PongMessage, true, []byte(s)) }
func closeFrame(code int, reason string) []byte {
	var payload []byte
	if code >= 0 {
		payload = append([]byte{byte(code >> 8), byte(code)}, reason...)
	}
	return rawFrame(true, 0, gorilla.CloseMessage, true, payload)
}

// fragments splits payload into frames of n bytes: the first with opcode, the rest
// continuations, FIN on the last.
func fragments(opcode byte, payload []byte, n int) []byte {
	var out []byte
	for i := 0; i == 0 || i < len(payload); i += n {
		op := opcode
		if i > 0 {
			op = 0
		}
		end := min(i+n, len(payload))
		out = append(out, rawFrame(end == len(payload), 0, op, true, payload[i:end])...)
	}
	return out
}

func echoApp(t *testing.T, opts wsapp.RouteOptions) string {
	t.Helper()
	_, url := startApp(t, "/echo", wsapp.Echo{}, opts)
	return url
}

// Group 1: text and binary messages of every length encoding (7, 16 and 64 bits) come back
// unchanged, also when the frame arrives in small pieces (1.1.8, 1.2.8).
func TestRFC6455Framing(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		p := newPeer(t, u)
		text := strings.Repeat("*", n)
		p.send(textFrame(text))
		p.expect("text", text)
		bin := bytes.Repeat([]byte{0xfe}, n)
		p.send(binaryFrame(bin))
		p.expect("binary", string(bin))
	}
	p := newPeer(t, u)
	p.sendChopped(textFrame(strings.Repeat("*", 65536)), 997)
	p.expect("text", strings.Repeat("*", 65536))
	p.sendChopped(binaryFrame(bytes.Repeat([]byte{0xfe}, 65536)), 997)
	p.expect("binary", string(bytes.Repeat([]byte{0xfe}, 65536)))
}

// Group 2: every ping gets its own pong with the ping's payload, in order (2.10, 2.11: ten
// pings in a row get ten pongs, also when each arrives a byte at a time); a ping too long for
// a control frame fails the connection (2.5); unsolicited pongs are ignored (2.7-2.9).
func TestRFC6455PingPong(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	t.Run("payloads", func(t *testing.T) {
		p := newPeer(t, u)
		binary := "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
		for _, payload := range []string{"", "Hello, world!", binary, strings.Repeat("\xfe", 125)} { // 2.1-2.4
			p.send(pingFrame(payload))
			p.expect("pong", payload)
		}
		p.sendChopped(pingFrame(strings.Repeat("\xfe", 125)), 1) // 2.6
		p.expect("pong", strings.Repeat("\xfe", 125))
	})
	t.Run("too long", func(t *testing.T) { // 2.5
		p := newPeer(t, u)
		p.send(pingFrame(strings.Repeat("\xfe", 126)))
		p.expectClose(gorilla.CloseProtocolError)
	})
	t.Run("unsolicited pongs", func(t *testing.T) { // 2.7-2.9
		p := newPeer(t, u)
		p.send(pongFrame(""), pongFrame("unsolicited pong payload"), pingFrame("ping payload"))
		p.expect("pong", "ping payload")
		p.send(textFrame("still here"))
		p.expect("text", "still here")
	})
	t.Run("ten pings", func(t *testing.T) { // 2.10
		p := newPeer(t, u)
		var pings []byte
		for i := range 10 {
			pings = append(pings, pingFrame(fmt.Sprintf("payload-%d", i))...)
		}
		p.send(pings)
		for i := range 10 {
			p.expect("pong", fmt.Sprintf("payload-%d", i))
		}
	})
	t.Run("ten pings chopped", func(t *testing.T) { // 2.11
		p := newPeer(t, u)
		for i := range 10 {
			p.sendChopped(pingFrame(fmt.Sprintf("payload-%d", i)), 1)
		}
		for i := range 10 {
			p.expect("pong", fmt.Sprintf("payload-%d", i))
		}
	})
	t.Run("ping flood", func(t *testing.T) {
		// A peer that pings much faster than it reads may see older pongs dropped (RFC 6455
		// 5.5.3 allows answering only the latest), but the pongs it gets are in order and the
		// last ping is answered.
		p := newPeer(t, u)
		var pings []byte
		for i := range 500 {
			pings = append(pings, pingFrame(fmt.Sprint(i))...)
		}
		p.send(pings)
		last := -1
		for last != 499 {
			e := p.next()
			var n int
			if _, err := fmt.Sscan(e.data, &n); e.kind != "pong" || err != nil || n <= last {
				t.Fatalf("after pong %d got %v", last, e)
			}
			last = n
		}
	})
}

// Group 3: a frame with reserved bits set fails the connection (no extension is negotiated),
// after whatever came before it was answered, and nothing after it is.
func TestRFC6455ReservedBits(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	for rsv := byte(1); rsv <= 7; rsv++ {
		t.Run(fmt.Sprintf("rsv=%d", rsv), func(t *testing.T) {
			var bad []byte
			switch rsv {
			case 5:
				bad = rawFrame(true, rsv, gorilla.BinaryMessage, true, []byte{0, 1, 2})
			case 6:
				bad = rawFrame(true, rsv, gorilla.PingMessage, true, []byte("ping"))
			case 7:
				bad = rawFrame(true, rsv, gorilla.CloseMessage, true, []byte{0x03, 0xe8})
			default:
				bad = rawFrame(true, rsv, gorilla.TextMessage, true, []byte("Hello, world!"))
			}
			p := newPeer(t, u)
			stream := bytes.Join([][]byte{textFrame("before"), bad, pingFrame("after")}, nil)
			if rsv == 4 {
				p.sendChopped(stream, 1) // 3.4
			} else {
				p.send(stream)
			}
			p.expect("text", "before")
			p.expectClose(gorilla.CloseProtocolError)
		})
	}
}

// Group 4: reserved opcodes, data (3-7) and control (11-15), fail the connection.
func TestRFC6455Opcodes(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	for _, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		t.Run(fmt.Sprintf("opcode=%d", op), func(t *testing.T) {
			p := newPeer(t, u)
			p.send(textFrame("before"), rawFrame(true, 0, op, true, []byte("reserved")), pingFrame("after"))
			p.expect("text", "before")
			p.expectClose(gorilla.CloseProtocolError)
		})
	}
}

// Group 5: fragmented messages are put together, with control frames allowed between their
// fragments (answered at once); control frames cannot be fragmented; a continuation needs a
// message in progress and a new message cannot start inside one.
func TestRFC6455Fragmentation(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	frag := func(fin bool, op byte, s string) []byte { return rawFrame(fin, 0, op, true, []byte(s)) }
	t.Run("fragmented control frames", func(t *testing.T) { // 5.1, 5.2
		for _, op := range []byte{gorilla.PingMessage, gorilla.PongMessage} {
			p := newPeer(t, u)
			p.send(frag(false, op, "frag1"), frag(true, 0, "frag2"))
			p.expectClose(gorilla.CloseProtocolError)
		}
	})
	t.Run("two fragments", func(t *testing.T) { // 5.3-5.5
		p := newPeer(t, u)
		stream := append(frag(false, gorilla.TextMessage, "fragment1"), frag(true, 0, "fragment2")...)
		p.send(stream)
		p.expect("text", "fragment1fragment2")
		p.sendChopped(stream, 1)
		p.expect("text", "fragment1fragment2")
	})
	t.Run("ping between fragments", func(t *testing.T) { // 5.6-5.8
		p := newPeer(t, u)
		stream := bytes.Join([][]byte{frag(false, gorilla.TextMessage, "fragment1"), pingFrame("ping payload"),
			frag(true, 0, "fragment2")}, nil)
		p.send(stream)
		p.expect("pong", "ping payload")
		p.expect("text", "fragment1fragment2")
		p.sendChopped(stream, 1)
		p.expect("pong", "ping payload")
		p.expect("text", "fragment1fragment2")
	})
	t.Run("pings between slow fragments", func(t *testing.T) { // 5.19, 5.20
		p := newPeer(t, u)
		p.send(frag(false, gorilla.TextMessage, "fragment1"), frag(false, 0, "fragment2"), pingFrame("pongme 1!"))
		p.expect("pong", "pongme 1!") // answered while the message is still open
		time.Sleep(100 * time.Millisecond)
		p.send(frag(false, 0, "fragment3"), frag(false, 0, "fragment4"), pingFrame("pongme 2!"))
		p.expect("pong", "pongme 2!")
		p.send(frag(true, 0, "fragment5"))
		p.expect("text", "fragment1fragment2fragment3fragment4fragment5")
	})
	for name, stream := range map[string][]byte{
		"continuation without a message (5.9)":   append(frag(true, 0, "non-continuation payload"), textFrame("Hello, world!")...),
		"continuation, not final (5.12)":         append(frag(false, 0, "non-continuation payload"), textFrame("Hello, world!")...),
		"two continuations first (5.16)":         bytes.Join([][]byte{frag(false, 0, "fragment1"), frag(true, 0, "fragment2"), textFrame("x")}, nil),
		"new message inside a fragmented (5.18)": append(frag(false, gorilla.TextMessage, "fragment1"), frag(true, gorilla.TextMessage, "fragment2")...),
	} {
		t.Run(name, func(t *testing.T) {
			p := newPeer(t, u)
			p.send(stream)
			p.expectClose(gorilla.CloseProtocolError)
		})
	}
	t.Run("good message, then a bad continuation (5.15)", func(t *testing.T) {
		p := newPeer(t, u)
		p.send(frag(false, gorilla.TextMessage, "fragment1"), frag(true, 0, "fragment2"),
			frag(false, 0, "fragment3"), frag(true, gorilla.TextMessage, "fragment4"))
		p.expect("text", "fragment1fragment2")
		p.expectClose(gorilla.CloseProtocolError)
	})
}

// Group 6: text must be UTF-8 as RFC 3629 defines it (no surrogates, no overlong forms,
// nothing past U+10FFFF; noncharacters are fine). A code point may be split between
// fragments or reads; bytes that can begin no valid sequence fail the connection with 1007 as
// soon as they arrive, before the rest of the message (6.4: fail fast).
func TestRFC6455UTF8(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	valid := []string{
		"Hello-µ@ßöäüàá-UTF-8!!",       // 6.2.1
		"κόσμε",                        // 6.5.x
		"\xf0\x90\x80\x80",             // U+10000, the first 4-byte code point
		"\xf4\x8f\xbf\xbf",             // U+10FFFF, the last
		"\xed\x9f\xbf\xee\x80\x80",     // U+D7FF and U+E000 around the surrogates
		"\xef\xbf\xbe\xef\xbf\xbf",     // noncharacters U+FFFE, U+FFFF (valid UTF-8)
		"\xc2\x80\xdf\xbf\xe0\xa0\x80", // the smallest 2- and 3-byte code points
	}
	invalid := []string{
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // 6.3.1: a surrogate
		"\x80", "\xbf", "\xfe", "\xff", // lone continuation bytes, bytes never in UTF-8
		"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", // overlong "/"
		"\xed\xa0\x80", "\xed\xbf\xbf", // surrogates
		"\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", // past U+10FFFF, 5-byte forms
		"\xe2\x82", "ab\xf0\x9f\x98", // a message ending inside a code point
	}
	for i, s := range valid {
		t.Run(fmt.Sprintf("valid %d", i), func(t *testing.T) {
			p := newPeer(t, u)
			p.send(textFrame(s))
			p.expect("text", s)
			p.send(fragments(gorilla.TextMessage, []byte(s), 1)) // 6.2.3, 6.2.4: byte by byte
			p.expect("text", s)
			p.sendChopped(textFrame(s), 1)
			p.expect("text", s)
		})
	}
	for i, s := range invalid {
		t.Run(fmt.Sprintf("invalid %d", i), func(t *testing.T) {
			for _, stream := range [][]byte{textFrame(s), fragments(gorilla.TextMessage, []byte(s), 1)} {
				p := newPeer(t, u)
				p.send(stream)
				p.expectClose(gorilla.CloseInvalidFramePayloadData)
			}
		})
	}
	t.Run("empty fragments", func(t *testing.T) { // 6.1.1-6.1.3
		p := newPeer(t, u)
		p.send(textFrame(""))
		p.expect("text", "")
		p.send(rawFrame(false, 0, 1, true, nil), rawFrame(false, 0, 0, true, nil), rawFrame(true, 0, 0, true, nil))
		p.expect("text", "")
		p.send(rawFrame(false, 0, 1, true, nil), rawFrame(false, 0, 0, true, []byte("middle")), rawFrame(true, 0, 0, true, nil))
		p.expect("text", "middle")
	})
	// 6.4.1, 6.4.2: the fragment that breaks the text fails the connection; the rest never
	// comes. 6.4.3, 6.4.4: the same within one frame whose bytes arrive in pieces.
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	t.Run("fail fast on a fragment", func(t *testing.T) {
		p := newPeer(t, u)
		p.send(rawFrame(false, 0, 1, true, []byte(kosme)), rawFrame(false, 0, 0, true, []byte("\xf4\x90\x80\x80")))
		p.expectClose(gorilla.CloseInvalidFramePayloadData)
	})
	t.Run("fail fast on a fragment splitting the bad sequence", func(t *testing.T) {
		p := newPeer(t, u)
		p.send(rawFrame(false, 0, 1, true, []byte(kosme+"\xf4")))
		time.Sleep(50 * time.Millisecond)
		p.send(rawFrame(false, 0, 0, true, []byte("\x90")))
		p.expectClose(gorilla.CloseInvalidFramePayloadData)
	})
	t.Run("fail fast inside a frame", func(t *testing.T) {
		p := newPeer(t, u)
		whole := textFrame(kosme + "\xf4\x90\x80\x80edited")
		cut := len(whole) - len("\x90\x80\x80edited")
		p.send(whole[:cut-len(kosme)-1])
		time.Sleep(20 * time.Millisecond)
		p.send(whole[cut-len(kosme)-1 : cut+1]) // up to "\xf4\x90": no valid sequence starts so
		p.expectClose(gorilla.CloseInvalidFramePayloadData)
	})
}

// Group 7: the close handshake. The server answers a close frame with its own and then
// closes the TCP connection; after a close it sends nothing else and ignores what follows.
// The close payload must be empty or a valid code (7.7, 7.9, 7.13) with a UTF-8 reason of
// at most 123 bytes (7.3, 7.5).
func TestRFC6455Close(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	t.Run("after a message (7.1.1)", func(t *testing.T) {
		p := newPeer(t, u)
		p.send(textFrame("Hello World!"), closeFrame(1000, ""))
		p.expect("text", "Hello World!")
		p.expectClose(gorilla.CloseNormalClosure)
		p.expectTCPClosed()
	})
	t.Run("nothing after the close (7.1.2-7.1.5)", func(t *testing.T) {
		p := newPeer(t, u)
		p.send(rawFrame(false, 0, 1, true, []byte("fragment1")), closeFrame(1000, ""), closeFrame(1000, ""),
			pingFrame("after close"), textFrame("after close"), rawFrame(true, 0, 0, true, []byte("fragment2")))
		p.expectClose(gorilla.CloseNormalClosure)
		if e, ok := <-p.events; ok && e.kind != "end" {
			t.Fatalf("after the close handshake the server sent %v", e)
		}
	})
	for _, tc := range []struct {
		name   string
		frame  []byte
		answer int
	}{
		{"empty payload (7.3.1)", closeFrame(-1, ""), gorilla.CloseNormalClosure},
		{"1-byte payload (7.3.2)", rawFrame(true, 0, gorilla.CloseMessage, true, []byte{0x03}), gorilla.CloseProtocolError},
		{"code only (7.3.3)", closeFrame(1000, ""), gorilla.CloseNormalClosure},
		{"code and reason (7.3.4)", closeFrame(1000, "Hello World!"), gorilla.CloseNormalClosure},
		{"123-byte reason (7.3.5)", closeFrame(1000, strings.Repeat("*", 123)), gorilla.CloseNormalClosure},
		{"124-byte reason (7.3.6)", closeFrame(1000, strings.Repeat("*", 124)), gorilla.CloseProtocolError},
		{"reason not UTF-8 (7.5.1)", closeFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), gorilla.CloseInvalidFramePayloadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, u)
			p.send(tc.frame)
			p.expectClose(tc.answer)
			p.expectTCPClosed()
		})
	}
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} { // 7.7
		t.Run(fmt.Sprintf("valid code %d", code), func(t *testing.T) {
			p := newPeer(t, u)
			p.send(closeFrame(code, ""))
			p.expectClose(gorilla.CloseNormalClosure)
		})
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} { // 7.9, 7.13
		t.Run(fmt.Sprintf("invalid code %d", code), func(t *testing.T) {
			p := newPeer(t, u)
			p.send(closeFrame(code, ""))
			p.expectClose(gorilla.CloseProtocolError)
		})
	}
}

// Group 9, sized for a 2-core CI machine: large messages up to the 16 MiB default limit,
// 4 MiB in fragments down to 64 bytes (65,536 fragments, the default MaxFragments), a 1 MiB
// frame written in small pieces, and many round trips.
func TestRFC6455Limits(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	t.Run("large messages (9.1, 9.2)", func(t *testing.T) {
		p := newPeer(t, u)
		for _, n := range []int{64 << 10, 1 << 20, 16 << 20} {
			s := strings.Repeat("BAsd7&jh23", n/10+1)[:n]
			p.send(textFrame(s))
			p.expect("text", s)
		}
		b := bytes.Repeat([]byte{0xfe}, 1<<20)
		p.send(binaryFrame(b))
		p.expect("binary", string(b))
	})
	t.Run("fragmented (9.3, 9.4)", func(t *testing.T) {
		p := newPeer(t, u)
		s := strings.Repeat("*", 4<<20)
		p.send(fragments(gorilla.TextMessage, []byte(s), 64)) // 65,536 fragments: MaxFragments
		p.expect("text", s)
		s = s[:1<<20]
		p.send(fragments(gorilla.TextMessage, []byte(s), 4<<10))
		p.expect("text", s)
		p.send(fragments(gorilla.BinaryMessage, []byte(s), 1300))
		p.expect("binary", s)
	})
	t.Run("chopped (9.5, 9.6)", func(t *testing.T) {
		p := newPeer(t, u)
		s := strings.Repeat("*", 1<<20)
		for _, n := range []int{128, 4 << 10} {
			p.sendChopped(textFrame(s), n)
			p.expect("text", s)
		}
	})
	t.Run("round trips (9.7, 9.8)", func(t *testing.T) {
		p := newPeer(t, u)
		for i := range 1000 {
			s := fmt.Sprint("round trip ", i)
			if i%2 == 0 {
				p.send(textFrame(s))
				p.expect("text", s)
			} else {
				p.send(binaryFrame([]byte(s)))
				p.expect("binary", s)
			}
		}
	})
}

// Group 10: a message auto-fragmented by the sender (10.1.1: 65536 bytes in 1300-byte frames).
func TestRFC6455AutoFragmented(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{})
	p := newPeer(t, u)
	s := strings.Repeat("*", 65536)
	p.send(fragments(gorilla.TextMessage, []byte(s), 1300))
	p.expect("text", s)
}

// Issue 17, finding 2: a message may arrive in at most MaxFragments frames; more close the
// connection with 1009. Empty fragments count too: they never reach MaxMessageSize.
func TestMaxFragments(t *testing.T) {
	u := echoApp(t, wsapp.RouteOptions{MaxFragments: 100})
	p := newPeer(t, u)
	s := strings.Repeat("x", 100)
	p.send(fragments(gorilla.TextMessage, []byte(s), 1))
	p.expect("text", s)
	p.send(fragments(gorilla.TextMessage, []byte(s+"y"), 1))
	if e := p.expectClose(gorilla.CloseMessageTooBig); !strings.HasPrefix(e.data, websocket.ReasonTooManyFragments) {
		t.Fatalf("close reason %q, want %s", e.data, websocket.ReasonTooManyFragments)
	}

	// The default bound, with empty continuation frames.
	u = echoApp(t, wsapp.RouteOptions{})
	p = newPeer(t, u)
	empty := rawFrame(false, 0, 0, true, nil)
	stream := append(rawFrame(false, 0, 1, true, []byte("start")), bytes.Repeat(empty, websocket.DefaultMaxFragments)...)
	p.send(stream)
	p.expectClose(gorilla.CloseMessageTooBig)
}

// A long message keeps the connection alive while its bytes keep flowing, in fragments or
// within one frame, although no pong or whole message arrives within the keepalive deadline;
// a peer that stops in the middle of a message is still closed by it.
func TestLongMessageOutlivesKeepaliveDeadline(t *testing.T) {
	const keepalive, pongTimeout = 200 * time.Millisecond, 200 * time.Millisecond // deadline 400ms
	const step, steps = 100 * time.Millisecond, 12                                // 1.2s: 3 deadlines
	u := echoApp(t, wsapp.RouteOptions{KeepAlive: keepalive, PongTimeout: pongTimeout})
	t.Run("fragments", func(t *testing.T) {
		p := newPeer(t, u)
		want := ""
		for i := range steps {
			if i > 0 {
				time.Sleep(step)
			}
			op := byte(0)
			if i == 0 {
				op = 1
			}
			p.send(rawFrame(i == steps-1, 0, op, true, []byte(fmt.Sprint(i%10))))
			want += fmt.Sprint(i % 10)
		}
		p.expect("text", want)
	})
	t.Run("one frame", func(t *testing.T) {
		p := newPeer(t, u)
		want := strings.Repeat("z", steps)
		f := textFrame(want)
		p.send(f[:len(f)-steps])
		for i := len(f) - steps; i < len(f); i++ {
			time.Sleep(step)
			p.send(f[i : i+1])
		}
		p.expect("text", want)
	})
	t.Run("stalled", func(t *testing.T) {
		p := newPeer(t, u)
		p.send(rawFrame(false, 0, 1, true, []byte("and then nothing")))
		start := time.Now()
		for e := range p.events {
			if e.kind == "text" {
				t.Fatalf("got %v", e)
			}
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("a peer silent in the middle of a message was closed after %v", d)
		}
	})
}

// The WAMP endpoint reads frames the same way: pings each get a pong, a HELLO in one-byte
// fragments trickling in past the keepalive deadline is welcomed, and a text message fails
// with 1007 as soon as a fragment breaks its UTF-8.
func TestWAMPEndpointWebSocketExactness(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Endpoint: realm.EndpointOptions{
		Transport: websocket.Options{PingInterval: 200 * time.Millisecond, PongTimeout: 200 * time.Millisecond},
	}})
	p := newPeer(t, r.URL, "wamp.2.json")
	p.send(pingFrame("1"), pingFrame("2"), pingFrame("3"))
	p.expect("pong", "1")
	p.expect("pong", "2")
	p.expect("pong", "3")
	hello := []byte(`[1,"realm1",{"roles":{"subscriber":{}}}]`)
	frames := fragments(gorilla.TextMessage, hello, 2)
	if len(frames) != 20*8 {
		t.Fatalf("HELLO in %d bytes of frames, want 20 fragments of 8", len(frames))
	}
	for len(frames) > 0 { // one 2-byte fragment (8 bytes on the wire) every 35ms: 700ms in all
		p.send(frames[:8])
		frames = frames[8:]
		time.Sleep(35 * time.Millisecond)
	}
	if e := p.next(); e.kind != "text" || !strings.HasPrefix(e.data, "[2,") {
		t.Fatalf("got %v, want WELCOME", e)
	}
	p.send(rawFrame(false, 0, 1, true, []byte(`[16,1,{},"com.example.t",["`)), rawFrame(false, 0, 0, true, []byte("\xed\xa0\x80")))
	p.expectClose(gorilla.CloseInvalidFramePayloadData)
}
