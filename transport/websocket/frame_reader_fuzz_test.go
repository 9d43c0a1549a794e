package websocket

import (
	"bytes"
	"net"
	"testing"
	"time"
	"unicode/utf8"
)

// bytesConn is a net.Conn that reads from fixed bytes and discards writes.
type bytesConn struct {
	r *bytes.Reader
}

func (b *bytesConn) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b *bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b *bytesConn) Close() error                     { return nil }
func (b *bytesConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (b *bytesConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (b *bytesConn) SetDeadline(time.Time) error      { return nil }
func (b *bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (b *bytesConn) SetWriteDeadline(time.Time) error { return nil }

// Whatever bytes a client sends, reading ends with a message or an error: never a panic, a
// hang, a message larger than the limit, or a text message that is not UTF-8.
func FuzzFrameReader(f *testing.F) {
	masked := func(b0 byte, payload string) []byte {
		out := []byte{b0, 0x80 | byte(len(payload)), 1, 2, 3, 4}
		for i := range len(payload) {
			out = append(out, payload[i]^byte(1+i%4))
		}
		return out
	}
	f.Add(masked(0x81, "hello"))
	f.Add(append(masked(0x01, "hel"), masked(0x80, "lo")...))
	f.Add(append(masked(0x89, "ping"), masked(0x82, "\x00\x01")...))
	f.Add(masked(0x88, "\x03\xe8bye"))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3, 4})
	f.Add([]byte{0x81, 0x7e, 0x01})
	f.Add(append(masked(0x01, "\xce"), masked(0x80, "\xba")...))
	f.Add(append(masked(0x01, "ok"), masked(0x80, "\xed\xa0\x80")...))
	const limit = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		nc := &bytesConn{r: bytes.NewReader(data)}
		c := newConnState(nc, "", Options{MaxMessageSize: limit, PingInterval: -1}.withDefaults(), nil)
		c.server = true
		c.fr = newFrameReader(nc, 16, nil)
		defer c.Done()
		for range len(data) + 1 {
			if err := c.awaitData(false); err != nil {
				return
			}
			binary, msg, err := c.read()
			if err != nil {
				return // the end of the input, a protocol error, a close frame, the size limit
			}
			if len(msg) > limit {
				t.Fatalf("read a %d-byte message past the %d-byte limit", len(msg), limit)
			}
			if !binary && !utf8.Valid(msg) {
				t.Fatalf("read a text message that is not UTF-8: %q", msg)
			}
		}
		t.Fatalf("more messages than input bytes")
	})
}
