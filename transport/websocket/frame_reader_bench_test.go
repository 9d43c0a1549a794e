package websocket

import (
	"bytes"
	"testing"
)

// loopConn is a net.Conn whose reads replay the same bytes forever (writes are discarded):
// a client that keeps sending the same frames, without a socket in the way.
type loopConn struct {
	bytesConn
	data []byte
	off  int
}

func (l *loopConn) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// maskedFrame builds one masked client frame.
func maskedFrame(fin bool, opcode byte, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	key := [4]byte{1, 2, 3, 4}
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i%4])
	}
	return out
}

// fragmented is one text message of size bytes sent in fragments of frag bytes.
func fragmented(size, frag int) []byte {
	var out []byte
	payload := bytes.Repeat([]byte("abcdefgh"), size/8)
	for i := 0; i < len(payload); i += frag {
		op := byte(opContinuation)
		if i == 0 {
			op = opText
		}
		out = append(out, maskedFrame(i+frag >= len(payload), op, payload[i:min(i+frag, len(payload))])...)
	}
	return out
}

func benchRead(b *testing.B, stream []byte, perMessage int) {
	nc := &loopConn{data: stream}
	c := newConnState(nc, "", Options{PingInterval: -1}.withDefaults(), nil)
	c.server = true
	c.fr = newFrameReader(nc, DefaultReadBufferSize, nil)
	b.SetBytes(int64(perMessage))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadSmallText: the hot path, a 100-byte text message in one frame.
func BenchmarkReadSmallText(b *testing.B) {
	benchRead(b, maskedFrame(true, opText, bytes.Repeat([]byte("x"), 100)), 100)
}

// BenchmarkReadFragmented: a 64 KiB text message in 64-byte fragments (issue 17, finding 2:
// the cost per message must grow linearly with its fragments).
func BenchmarkReadFragmented(b *testing.B) {
	benchRead(b, fragmented(64<<10, 64), 64<<10)
}

// BenchmarkReadTinyFragments: a 16 KiB message in 1-byte fragments.
func BenchmarkReadTinyFragments(b *testing.B) {
	benchRead(b, fragmented(16<<10, 1), 16<<10)
}
