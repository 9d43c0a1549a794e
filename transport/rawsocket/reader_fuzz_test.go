package rawsocket

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary octets to the handshake parser and the frame reader: they must
// never panic, never return a payload longer than the limit or than what arrived, and fail
// only with a protocol error, a too-big error or the end of the input.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0x7F, 0xF1, 0, 0, 0, 0, 0, 2, '[', ']'})
	f.Add([]byte{0x7F, 0x12, 0, 1, 1, 0, 0, 3, 'a', 'b', 'c', 2, 0, 0, 0})
	f.Add([]byte{0x7E, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{0x7F, 0xF1, 0, 0, 0, 0, 0x10, 0, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		h, err := parseHello([4]byte(data[:4]))
		var he *HandshakeError
		switch {
		case err == nil:
			if h.maxLength < 512 || h.maxLength > MaxLength {
				t.Fatalf("max length %d out of range", h.maxLength)
			}
		case errors.Is(err, ErrNotRawSocket), errors.As(err, &he):
		default:
			t.Fatalf("handshake error %v", err)
		}
		const limit = 256
		rd := newReader(bytes.NewReader(data[4:]), nil, 16, limit, nil)
		for {
			typ, p, err := rd.next()
			if err != nil {
				if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrTooBig) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if typ > framePong || len(p) > limit || len(p) > len(data) {
				t.Fatalf("frame type %d with %d octets", typ, len(p))
			}
		}
	})
}
