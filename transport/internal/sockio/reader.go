package sockio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// ReadBuffer is the reading half of a socket connection, below its framing: the bytes read
// but not yet parsed are (*Buf)[R:W]. The buffer is borrowed from a pool only while bytes are
// pending: on a plain socket an idle reader waits for readability holding no buffer, so idle
// connections cost no read memory. Only the connection's owner goroutine uses it.
type ReadBuffer struct {
	Src  io.Reader // the connection, for reads that do not go to the file descriptor
	Buf  *[]byte   // nil while idle
	R, W int

	rc     syscall.RawConn // plain sockets: reads wait for readability without a buffer
	pool   *sync.Pool      // of *[]byte, all of one size
	out    *Outbox         // flushed before the reader waits for the socket
	readFn func(fd uintptr) bool
	n      int   // readOnce's result
	err    error // readOnce's error
	short  bool  // the last raw read left room in the buffer: it emptied the socket

	// Deadline, when set, decides what a raw read whose deadline passed does: wait on
	// (ReadDeadlinePassed reports true, having moved the deadline) or fail. A connection
	// whose reader may park sets it (its per-message deadline is the one to park by).
	Deadline   DeadlineHandler
	nowait     bool // FillOrNot: an empty socket is reported (wouldBlock), not waited for
	wouldBlock bool
}

// DeadlineHandler decides what a passed read deadline means (ReadBuffer.Deadline).
type DeadlineHandler interface {
	ReadDeadlinePassed() bool
}

// ErrWouldBlock: FillOrNot found the socket empty.
var ErrWouldBlock = errors.New("sockio: nothing to read")

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

// Init sets the buffer up for reads from src, straight from the file descriptor when rc is
// not nil, in buffers of size bytes. out, when not nil, is the reader's outbox.
func (b *ReadBuffer) Init(src io.Reader, rc syscall.RawConn, size int, out *Outbox) {
	b.Src, b.rc, b.pool, b.out = src, rc, readBufferPool(max(size, 16)), out
	if rc != nil {
		b.readFn = b.readOnce
	}
}

// RawConn is the socket's raw connection, or nil.
func (b *ReadBuffer) RawConn() syscall.RawConn { return b.rc }

// Pending is the number of bytes read but not yet parsed. With none, the buffer restarts at
// its beginning.
func (b *ReadBuffer) Pending() int {
	if b.R == b.W {
		b.R, b.W = 0, 0
	}
	return b.W - b.R
}

// Ensure makes at least n (≤ the buffer size) bytes pending, reading as needed.
func (b *ReadBuffer) Ensure(n int) error {
	for b.Buf == nil || b.W-b.R < n {
		if b.Buf != nil && b.R > 0 {
			b.W = copy(*b.Buf, (*b.Buf)[b.R:b.W])
			b.R = 0
		}
		if err := b.Fill(); err != nil {
			return err
		}
	}
	return nil
}

// Fill reads once into the buffer. On a plain socket it borrows the buffer only once bytes are
// there to read, and gives it back when it is empty and the socket has nothing. The messages
// of the last read are all handled by then: the outbox is flushed when the socket has nothing
// more to read, before the reader waits (see Outbox). End of stream is io.EOF.
func (b *ReadBuffer) Fill() error {
	b.out.BeforeRead(b.rc != nil)
	if b.rc == nil {
		if b.Buf == nil {
			b.Buf = b.pool.Get().(*[]byte)
		}
		n, err := b.Src.Read((*b.Buf)[b.W:])
		b.W += n
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
	if b.short && b.R == b.W && b.out.repliesOnly() {
		// Everything the last read brought is handled, that read emptied the socket, and
		// what waits is replies that no other reader adds to (a lone caller's INVOCATION,
		// the RESULTs of a callee's YIELDs): written now, before the read that finds the
		// socket empty, so the round trip is not longer by a system call.
		b.out.Flush()
	}
	for {
		b.n, b.err = 0, nil
		err := b.rc.Read(b.readFn)
		if err == nil {
			break
		}
		if b.Deadline != nil && errors.Is(err, os.ErrDeadlineExceeded) && b.Deadline.ReadDeadlinePassed() {
			continue
		}
		// The reader parks (its deadline passed), stops or fails without a read that found
		// the socket empty, where the outbox is otherwise flushed: what its last messages
		// queued for others goes out now, not when it next reads (which may be never).
		if b.out.Holding() {
			b.out.Flush()
		}
		return fmt.Errorf("read: %w", err)
	}
	if b.wouldBlock {
		b.wouldBlock = false
		return ErrWouldBlock
	}
	if b.err != nil {
		return fmt.Errorf("read: %w", b.err)
	}
	if b.n == 0 {
		return io.EOF
	}
	b.short = b.W+b.n < len(*b.Buf)
	b.W += b.n
	return nil
}

// FillOrNot is Fill on a plain socket, except that a socket with nothing to read is reported
// (ErrWouldBlock) rather than waited for: a reader about to park asks it.
func (b *ReadBuffer) FillOrNot() error {
	if b.rc == nil {
		return b.Fill()
	}
	b.nowait = true
	err := b.Fill()
	b.nowait = false
	return err
}

// readOnce is the raw read: false asks the poller to wait for readability and call again.
func (b *ReadBuffer) readOnce(fd uintptr) bool {
	if b.Buf == nil {
		b.Buf = b.pool.Get().(*[]byte)
	}
	for {
		n, err := RawRead(fd, (*b.Buf)[b.W:])
		switch err {
		case nil:
			b.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if b.out.Holding() {
				// Nothing more to read: the outbox goes out now, and the wait that follows
				// is woken by whatever arrived meanwhile (the poller was armed before this
				// read), so no second read is needed to find the socket empty again.
				//
				// When a writer it holds is fed by other readers too (many callers' CALLs
				// for one callee), the readers that became runnable with this one (the
				// poller wakes all whose sockets brought something) run their reads
				// first: what they queue joins this write. The callee then gets them in
				// one write, with no hop to a writer goroutine. A reader alone does not
				// yield (a yield wakes an idle thread: CPU and latency for nothing).
				if b.out.contended() {
					runtime.Gosched()
				}
				b.out.Flush()
			}
			if b.W == 0 {
				b.Release()
			}
			if b.nowait {
				b.wouldBlock = true
				return true
			}
			return false
		default:
			b.err = err
			return true
		}
	}
}

// Release gives the (empty) buffer back to the pool.
func (b *ReadBuffer) Release() {
	if b.Buf != nil {
		b.pool.Put(b.Buf)
		b.Buf, b.R, b.W = nil, 0, 0
	}
}
