package rawsocket

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
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

// reader reads frames. Its buffer is borrowed from a pool only while bytes are pending: on a
// plain socket an idle reader waits for readability holding no buffer. Only the connection's
// owner goroutine uses it.
type reader struct {
	src  io.Reader       // the connection
	rc   syscall.RawConn // plain sockets: reads wait for readability without a buffer
	pool *sync.Pool      // of *[]byte, all of one size
	buf  *[]byte         // nil while idle
	r, w int             // pending bytes are (*buf)[r:w]
	max  int             // the largest payload accepted

	out        *Outbox               // flushed before the reader waits for the socket
	readFn     func(fd uintptr) bool // readOnce, bound once so a read allocates nothing
	n          int
	err        error
	flush      bool // readOnce found the socket empty with the outbox holding writes
	nowait     bool // fillOrNot: an empty socket is reported (wouldBlock), not waited for
	wouldBlock bool
}

var readBufferPools sync.Map // buffer size → *sync.Pool

func readBufferPool(size int) *sync.Pool {
	if p, ok := readBufferPools.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := readBufferPools.LoadOrStore(size, &sync.Pool{New: func() any {
		b := make([]byte, size)
		return &b
	}})
	return p.(*sync.Pool)
}

func newReader(src io.Reader, rc syscall.RawConn, size, limit int, out *Outbox) *reader {
	rd := &reader{src: src, rc: rc, pool: readBufferPool(max(size, 16)), max: limit, out: out}
	if rc != nil {
		rd.readFn = rd.readOnce
	}
	return rd
}

// next reads the next frame: its type and its payload, in a slice of its own.
func (rd *reader) next() (typ byte, payload []byte, err error) {
	if err := rd.ensure(headerSize); err != nil {
		return 0, nil, err
	}
	b := (*rd.buf)[rd.r:]
	typ = b[0]
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	rd.r += headerSize
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
	buffered := rd.w - rd.r
	if n <= buffered {
		p := make([]byte, n)
		copy(p, (*rd.buf)[rd.r:])
		rd.r += n
		return p, nil
	}
	p := make([]byte, buffered, min(n, max(payloadChunk, buffered)))
	copy(p, (*rd.buf)[rd.r:rd.w])
	rd.r = rd.w
	for len(p) < n {
		if len(p) == cap(p) {
			grown := make([]byte, len(p), min(n, 2*cap(p)))
			copy(grown, p)
			p = grown
		}
		m, err := rd.src.Read(p[len(p):cap(p)])
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

// ensure makes at least n (≤ the buffer size) bytes pending, reading as needed.
func (rd *reader) ensure(n int) error {
	for rd.buf == nil || rd.w-rd.r < n {
		if rd.buf != nil && rd.r > 0 {
			rd.w = copy(*rd.buf, (*rd.buf)[rd.r:rd.w])
			rd.r = 0
		}
		if err := rd.fill(); err != nil {
			return err
		}
	}
	return nil
}

// pending is the number of bytes read but not yet parsed. With none, the buffer restarts at
// its beginning.
func (rd *reader) pending() int {
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
	}
	return rd.w - rd.r
}

// fill reads once into the buffer. On a plain socket it borrows the buffer only once bytes are
// there to read, and gives it back when it is empty and the socket has nothing. The outbox is
// flushed before the reader waits, or after outboxMaxReads reads.
func (rd *reader) fill() error {
	if rd.out != nil && len(rd.out.conns) > 0 {
		if rd.rc == nil || rd.out.reads >= outboxMaxReads {
			rd.out.flush()
		} else {
			rd.out.reads++
		}
	}
	if rd.rc == nil {
		if rd.buf == nil {
			rd.buf = rd.pool.Get().(*[]byte)
		}
		n, err := rd.src.Read((*rd.buf)[rd.w:])
		rd.w += n
		if n > 0 {
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		if err == io.EOF {
			return err
		}
		return fmt.Errorf("read: %w", err)
	}
	for {
		rd.n, rd.err, rd.flush = 0, nil, false
		if err := rd.rc.Read(rd.readFn); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if rd.wouldBlock {
			rd.wouldBlock = false
			return errWouldBlock
		}
		if !rd.flush {
			break
		}
		// Written outside the raw read, which holds this socket.
		rd.out.flush()
	}
	if rd.err != nil {
		return fmt.Errorf("read: %w", rd.err)
	}
	if rd.n == 0 {
		return io.EOF
	}
	rd.w += rd.n
	return nil
}

// fillOrNot is fill on a plain socket, except that a socket with nothing to read is reported
// (errWouldBlock) rather than waited for.
func (rd *reader) fillOrNot() error {
	if rd.rc == nil {
		return rd.fill()
	}
	rd.nowait = true
	err := rd.fill()
	rd.nowait = false
	return err
}

// readOnce is the raw read: false asks the poller to wait for readability and call again.
func (rd *reader) readOnce(fd uintptr) bool {
	if rd.buf == nil {
		rd.buf = rd.pool.Get().(*[]byte)
	}
	for {
		n, err := rawRead(fd, (*rd.buf)[rd.w:])
		switch err {
		case nil:
			rd.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if rd.out != nil && len(rd.out.conns) > 0 {
				rd.flush = true
				return true
			}
			if rd.w == 0 {
				rd.release()
			}
			if rd.nowait {
				rd.wouldBlock = true
				return true
			}
			return false
		default:
			rd.err = err
			return true
		}
	}
}

// release gives the (empty) buffer back to the pool.
func (rd *reader) release() {
	if rd.buf != nil {
		rd.pool.Put(rd.buf)
		rd.buf, rd.r, rd.w = nil, 0, 0
	}
}
