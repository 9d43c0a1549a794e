package rawsocket

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// Frame types, in the low 3 bits of a frame's first octet; the 5 bits above are reserved.
const (
	frameRegular = 0 // a WAMP message
	framePing    = 1
	framePong    = 2
)

// headerSize is a frame header's size: the type octet and a 24-bit big-endian length.
const headerSize = 4

// appendHeader appends a frame header.
func appendHeader(dst []byte, typ byte, n int) []byte {
	return append(dst, typ, byte(n>>16), byte(n>>8), byte(n))
}

// Reading errors that end a connection: the peer broke the protocol.
var (
	// ErrProtocol: a frame uses reserved bits or an unknown type.
	ErrProtocol = errors.New("rawsocket protocol error")
	// ErrTooBig: a message is longer than the receiver's maximum.
	ErrTooBig = errors.New("rawsocket message too big")
)

// reader reads frames from the connection's read buffer (sockio.ReadBuffer), which borrows
// its memory only while bytes are pending. Only the connection's owner goroutine uses it.
type reader struct {
	sockio.ReadBuffer
	max int // the largest payload accepted
}

func newReader(src io.Reader, rc syscall.RawConn, size, limit int, out *sockio.Outbox) *reader {
	rd := &reader{max: limit}
	rd.Init(src, rc, size, out)
	return rd
}

// next reads the next frame: its type and its payload, in a slice of its own.
func (rd *reader) next() (typ byte, payload []byte, err error) {
	if err := rd.Ensure(headerSize); err != nil {
		return 0, nil, err
	}
	b := (*rd.Buf)[rd.R:]
	typ = b[0]
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	rd.R += headerSize
	if typ&^0x07 != 0 {
		return 0, nil, fmt.Errorf("%w: frame header %#x sets reserved bits", ErrProtocol, typ)
	}
	if typ > framePong {
		return 0, nil, fmt.Errorf("%w: reserved frame type %d", ErrProtocol, typ)
	}
	if n > rd.max {
		return 0, nil, fmt.Errorf("%w: a frame of %d bytes, the limit is %d", ErrTooBig, n, rd.max)
	}
	payload, err = rd.payload(n)
	return typ, payload, err
}

// payloadChunk is how much a payload slice grows by before its bytes arrive: a peer that
// announces a large frame and sends little holds little memory.
const payloadChunk = 64 << 10

// payload reads n bytes into a slice of their own.
func (rd *reader) payload(n int) ([]byte, error) {
	buffered := rd.W - rd.R
	if n <= buffered {
		p := make([]byte, n)
		copy(p, (*rd.Buf)[rd.R:])
		rd.R += n
		return p, nil
	}
	p := make([]byte, buffered, min(n, max(payloadChunk, buffered)))
	copy(p, (*rd.Buf)[rd.R:rd.W])
	rd.R = rd.W
	for len(p) < n {
		if len(p) == cap(p) {
			grown := make([]byte, len(p), min(n, 2*cap(p)))
			copy(grown, p)
			p = grown
		}
		m, err := rd.Src.Read(p[len(p):cap(p)])
		p = p[:len(p)+m]
		if err != nil && len(p) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read: %w", err)
		}
	}
	return p, nil
}
