package websocket_test

// permessage-deflate (RFC 7692), as the Autobahn WebSocket testsuite's compression groups
// check it: 12 (messages of many sizes, compressed by a real client and echoed compressed)
// and 13 (the negotiation's parameters; fragmented compressed messages). The client is
// gorilla/websocket's with EnableCompression; raw frames, compressed by the test, drive
// what a real client would not send.

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// echoServer serves a transport server that sends every message back (text frames).
func deflateEchoServer(t *testing.T, opts websocket.Options) string {
	t.Helper()
	url, _, _ := serveWith(t, opts, func(c *websocket.Conn) error {
		for {
			m, err := c.Read()
			if err != nil {
				return err
			}
			if err := c.Send(m); err != nil {
				return err
			}
		}
	})
	return url
}

// countingConn counts the bytes a client reads off the wire.
type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// dialDeflate dials with gorilla's client, offering permessage-deflate (or the extensions
// header given), and counts the bytes it reads.
func dialDeflate(t *testing.T, url string, extensions string, subprotocols ...string) (*gorilla.Conn, *http.Response, *atomic.Int64) {
	t.Helper()
	read := new(atomic.Int64)
	d := gorilla.Dialer{Subprotocols: subprotocols, HandshakeTimeout: deflateWait, EnableCompression: extensions == "",
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{nc, read}, nil
		}}
	var h http.Header
	if extensions != "" {
		h = http.Header{"Sec-WebSocket-Extensions": {extensions}}
	}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, resp, read
}

// wsPeer is a hand-driven client (as in transport/wsapp's RFC 6455 tests): gorilla did the
// handshake (and inflates what the server compressed), the test writes raw frames on the
// socket, and a goroutine reads what the server sends into events.
type wsPeer struct {
	t      *testing.T
	ws     *gorilla.Conn
	events chan wsEvent
}

type wsEvent struct {
	kind string // "text", "binary", "close", "end"
	data string
	code int
}

func peerOn(t *testing.T, ws *gorilla.Conn) *wsPeer {
	p := &wsPeer{t: t, ws: ws, events: make(chan wsEvent, 64)}
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

func (p *wsPeer) send(chunks ...[]byte) {
	for _, c := range chunks {
		if _, err := p.ws.NetConn().Write(c); err != nil {
			return // the server may fail the connection first: what it sent says why
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
	case <-time.After(deflateWait):
		p.t.Fatalf("nothing from the server within %v", deflateWait)
	}
	return wsEvent{}
}

func (p *wsPeer) expect(kind, data string) {
	p.t.Helper()
	if e := p.next(); e.kind != kind || e.data != data {
		p.t.Fatalf("got %s %.60q (%d bytes), want %s %.60q", e.kind, e.data, len(e.data), kind, data)
	}
}

func (p *wsPeer) expectClose(code int) {
	p.t.Helper()
	if e := p.next(); e.kind != "close" || e.code != code {
		p.t.Fatalf("got %s %d %q, want close %d", e.kind, e.code, e.data, code)
	}
}

func textFrame(s string) []byte { return rawFrame(true, 0, gorilla.TextMessage, true, []byte(s)) }

const deflateWait = 10 * time.Second

// deflateRaw compresses payload as one permessage-deflate message (without the 00 00 ff ff
// tail).
func deflateRaw(t *testing.T, payload []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(payload)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func deflateOn() websocket.Options {
	return websocket.Options{Deflate: websocket.DeflateOptions{Enabled: true}, MaxMessageSize: 1 << 20}
}

// Group 13: what the server answers to each kind of offer. It always asks both sides to
// compress each message on its own (no context takeover), and declines what it cannot
// honour — the connection goes on, uncompressed.
func TestDeflateNegotiation(t *testing.T) {
	url := deflateEchoServer(t, deflateOn())
	const accepted = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	for _, tc := range []struct{ offer, want string }{
		{"permessage-deflate; client_max_window_bits", accepted},                                  // browsers, Node ws
		{"permessage-deflate", accepted},                                                          // 13.1
		{"permessage-deflate; client_no_context_takeover", accepted},                              // 13.3
		{"permessage-deflate; server_no_context_takeover", accepted},                              // 13.5
		{"permessage-deflate; client_max_window_bits=9", accepted},                                // 13.4
		{"permessage-deflate; server_max_window_bits=9", accepted + "; server_max_window_bits=9"}, // 13.2: Huffman-only
		{"permessage-deflate; server_max_window_bits=15", accepted + "; server_max_window_bits=15"},
		{"permessage-deflate; server_max_window_bits", ""},                             // needs a value
		{"permessage-deflate; server_max_window_bits=7, permessage-deflate", accepted}, // the next offer
		{"permessage-deflate; client_max_window_bits=20", ""},                          // malformed
		{"permessage-deflate; mystery", ""},                                            // unknown parameter
		{"x-webkit-deflate-frame", ""},
	} {
		_, resp, _ := dialDeflate(t, url, tc.offer)
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
			t.Errorf("offer %q: answered %q, want %q", tc.offer, got, tc.want)
		}
	}
	t.Run("off", func(t *testing.T) {
		url := deflateEchoServer(t, websocket.Options{})
		_, resp, _ := dialDeflate(t, url, "permessage-deflate; client_max_window_bits")
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != "" {
			t.Errorf("deflate off, yet answered %q", got)
		}
	})
}

// Group 12: messages of many sizes, compressed by a real client, come back intact; the
// large ones come back compressed (fewer bytes on the wire than the message), the small
// ones (below MinSize) as they are.
func TestDeflateEchoSizes(t *testing.T) {
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
		opts := deflateOn()
		opts.Deflate.Level = level
		url := deflateEchoServer(t, opts)
		ws, _, read := dialDeflate(t, url, "")
		ws.EnableWriteCompression(true)
		for _, size := range []int{16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072, 512 << 10} {
			msg := []byte(strings.Repeat(`["event",{"n":42,"text":"hello"}]`, size/33+1)[:size])
			before := read.Load()
			if err := ws.WriteMessage(gorilla.TextMessage, msg); err != nil {
				t.Fatal(err)
			}
			_, got, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("level %d, %d bytes: %v", level, size, err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("level %d, %d bytes: echo differs", level, size)
			}
			wire := read.Load() - before
			switch {
			case size >= 1024 && level != flate.HuffmanOnly && wire > int64(size)/4:
				t.Errorf("level %d, %d bytes: %d bytes on the wire, not compressed", level, size, wire)
			case size < websocket.DefaultDeflateMinSize && wire != int64(size)+2:
				t.Errorf("%d bytes below the minimum size: %d bytes on the wire, want %d", size, wire, size+2)
			}
		}
	}
}

// Group 13 (and 12's fragmented cases): a compressed message in fragments, RSV1 on the first
// only, is one message; RSV1 elsewhere, a corrupt stream, a message that inflates past the
// limit, and compressed text that is not UTF-8 each fail the connection with the right code.
func TestDeflateFrames(t *testing.T) {
	url := deflateEchoServer(t, deflateOn())
	peer := func(t *testing.T) *wsPeer {
		ws, resp, _ := dialDeflate(t, url, "permessage-deflate; client_max_window_bits")
		if resp.Header.Get("Sec-WebSocket-Extensions") == "" {
			t.Fatal("permessage-deflate not negotiated")
		}
		return peerOn(t, ws)
	}
	msg := []byte(strings.Repeat("Hello, compressed world! ", 200))
	z := deflateRaw(t, msg)

	t.Run("fragmented", func(t *testing.T) {
		p := peer(t)
		for _, n := range []int{1, 7, 64, len(z)} {
			var frames []byte
			for i := 0; i < len(z); i += n {
				op, rsv := byte(0), byte(0)
				if i == 0 {
					op, rsv = gorilla.TextMessage, 4 // RSV1
				}
				frames = append(frames, rawFrame(i+n >= len(z), rsv, op, true, z[i:min(i+n, len(z))])...)
			}
			p.send(frames)
			p.expect("text", string(msg))
		}
	})
	t.Run("uncompressed beside compressed", func(t *testing.T) {
		p := peer(t)
		p.send(textFrame("plain"), rawFrame(true, 4, gorilla.TextMessage, true, z), textFrame("plain again"))
		p.expect("text", "plain")
		p.expect("text", string(msg))
		p.expect("text", "plain again")
	})
	t.Run("empty compressed message", func(t *testing.T) {
		p := peer(t)
		p.send(rawFrame(true, 4, gorilla.BinaryMessage, true, []byte{0x00}))
		p.expect("text", "")
	})
	for _, tc := range []struct {
		name   string
		frames []byte
		code   int
	}{
		{"RSV1 on a continuation", append(rawFrame(false, 4, gorilla.TextMessage, true, z[:10]),
			rawFrame(true, 4, 0, true, z[10:])...), gorilla.CloseProtocolError},
		{"RSV1 on a ping", rawFrame(true, 4, gorilla.PingMessage, true, []byte("x")), gorilla.CloseProtocolError},
		{"RSV2", rawFrame(true, 2, gorilla.TextMessage, true, z), gorilla.CloseProtocolError},
		{"corrupt stream", rawFrame(true, 4, gorilla.TextMessage, true, []byte{0xff, 0xff, 0xff, 0x00}), gorilla.CloseInvalidFramePayloadData},
		{"zip bomb", rawFrame(true, 4, gorilla.BinaryMessage, true, deflateRaw(t, make([]byte, 4<<20))), gorilla.CloseMessageTooBig},
		{"text not UTF-8", rawFrame(true, 4, gorilla.TextMessage, true, deflateRaw(t, []byte("ok \xff\xfe"))), gorilla.CloseInvalidFramePayloadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := peer(t)
			p.send(textFrame("before"), tc.frames)
			p.expect("text", "before")
			p.expectClose(tc.code)
		})
	}
	t.Run("not negotiated", func(t *testing.T) {
		ws, _, _ := dialDeflate(t, url, "x-no-extension") // no deflate offer: RSV1 means nothing
		p := peerOn(t, ws)
		p.send(rawFrame(true, 4, gorilla.TextMessage, true, z))
		p.expectClose(gorilla.CloseProtocolError)
	})
}

// Window bits (RFC 7692 section 7.1.2): the server's window settings go into its answer, a
// client that asks for a smaller server window gets one, and a connection whose server window
// is below 15 bits is compressed Huffman-only — no back-references, so the client may inflate
// with the window agreed — while a 15-bit one gets LZ77.
func TestDeflateWindowBits(t *testing.T) {
	opts := deflateOn()
	opts.Deflate.ClientMaxWindowBits = 9
	narrow := deflateEchoServer(t, opts)
	const accepted = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	for _, tc := range []struct{ offer, want string }{
		// Asked of a client that says it can honour it; never more than it offered.
		{"permessage-deflate; client_max_window_bits", accepted + "; client_max_window_bits=9"},
		{"permessage-deflate; client_max_window_bits=12", accepted + "; client_max_window_bits=9"},
		{"permessage-deflate; client_max_window_bits=8", accepted},
		{"permessage-deflate", accepted},
		{"permessage-deflate; server_max_window_bits=10; client_max_window_bits",
			accepted + "; server_max_window_bits=10; client_max_window_bits=9"},
	} {
		_, resp, _ := dialDeflate(t, narrow, tc.offer)
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
			t.Errorf("client window 9: offer %q: answered %q, want %q", tc.offer, got, tc.want)
		}
	}
	opts = deflateOn()
	opts.Deflate.ServerMaxWindowBits = 11
	small := deflateEchoServer(t, opts)
	for _, tc := range []struct{ offer, want string }{
		{"permessage-deflate", accepted + "; server_max_window_bits=11"}, // announced unasked
		{"permessage-deflate; server_max_window_bits=13", accepted + "; server_max_window_bits=11"},
		{"permessage-deflate; server_max_window_bits=8", accepted + "; server_max_window_bits=8"},
	} {
		_, resp, _ := dialDeflate(t, small, tc.offer)
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
			t.Errorf("server window 11: offer %q: answered %q, want %q", tc.offer, got, tc.want)
		}
	}

	// 1 KiB of varied text, four times: LZ77 would refer 1,024 bytes back, past a 9-bit window.
	var msg []byte
	for i := 0; len(msg) < 1024; i++ {
		msg = fmt.Appendf(msg, "%d:%x,", i, i*i*2654435761)
	}
	msg = bytes.Repeat(msg[:1024], 4)
	huffman := compressAt(t, flate.HuffmanOnly, msg)
	full := deflateEchoServer(t, deflateOn())
	for _, tc := range []struct {
		name, url, offer string
		want             []byte // the compressed payload expected, nil: any LZ77 smaller than huffman
	}{
		{"client asks for 9 bits", full, "permessage-deflate; server_max_window_bits=9", huffman},
		{"server set to 11 bits", small, "permessage-deflate", huffman},
		{"15 bits", full, "permessage-deflate; server_max_window_bits=15", nil},
	} {
		ws, _, _ := dialDeflate(t, tc.url, tc.offer)
		nc := ws.NetConn()
		nc.SetDeadline(time.Now().Add(deflateWait))
		if _, err := nc.Write(rawFrame(true, 0, gorilla.TextMessage, true, msg)); err != nil {
			t.Fatal(err)
		}
		rsv, payload := readServerFrame(t, nc)
		if rsv != 4 { // RSV1: compressed
			t.Fatalf("%s: echo sent with RSV bits %d, want RSV1", tc.name, rsv)
		}
		if got := inflate(t, payload); !bytes.Equal(got, msg) {
			t.Fatalf("%s: echo inflates to %d bytes that differ from the message", tc.name, len(got))
		}
		if tc.want != nil && !bytes.Equal(payload, tc.want) {
			t.Errorf("%s: %d compressed bytes, not the %d of Huffman-only coding", tc.name, len(payload), len(tc.want))
		}
		if tc.want == nil && len(payload) >= len(huffman)/2 {
			t.Errorf("%s: %d compressed bytes, want LZ77 (Huffman-only gives %d)", tc.name, len(payload), len(huffman))
		}
	}
}

// compressAt compresses payload as one permessage-deflate message at level.
func compressAt(t *testing.T, level int, payload []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(payload)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func inflate(t *testing.T, compressed []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(compressed),
		bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

// readServerFrame reads one unmasked, unfragmented frame off the socket: its RSV bits and
// payload.
func readServerFrame(t *testing.T, nc net.Conn) (rsv byte, payload []byte) {
	t.Helper()
	var h [10]byte
	if _, err := io.ReadFull(nc, h[:2]); err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	if h[0]&0x80 == 0 {
		t.Fatalf("fragmented frame (header %x)", h[:2])
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		io.ReadFull(nc, h[2:4])
		n = int(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		io.ReadFull(nc, h[2:10])
		n = int(binary.BigEndian.Uint64(h[2:10]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(nc, payload); err != nil {
		t.Fatalf("read frame payload: %v", err)
	}
	return h[0] >> 4 & 7, payload
}
