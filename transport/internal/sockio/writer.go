package sockio

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Writer is the writing half of a socket connection, below its framing: it writes the
// buffers a connection laid out (frame headers and the frames themselves, never copied) with
// writev straight on the socket. Its methods are used by whoever holds the connection's
// writer role (a writer goroutine, or an inline write from a reader or sender); the
// connection's own lock guards HeldBy.
type Writer struct {
	nc      net.Conn
	rc      syscall.RawConn // plain sockets: writev on the file descriptor; nil: through nc
	timeout time.Duration
	aborted atomic.Bool // the connection is cut off: its short write deadline stays
	// joined counts down the flushes since another reader's frames last joined what an
	// outbox held for this writer (Joined): while it is above zero, readers holding this
	// writer yield once before they flush (Outbox.contended).
	joined atomic.Int32

	// HeldBy is the outbox that holds the writer's role on the connection's behalf, until
	// it is flushed (guarded by the connection's lock).
	HeldBy *Outbox
	// Partial is what an inline write left unwritten: the writer goroutine writes it before
	// anything queued after it.
	Partial [][]byte

	writeHeld func() // the connection's write of what it queued while an outbox held it

	writevFn func(fd uintptr) bool // w.writevSome, bound once so that a write allocates nothing
	bufs     net.Buffers           // what is left to write
	iovecs   iovecs
	wbuf     []byte // without a raw socket (TLS): the buffers copied into one write
	err      error
	waited   bool // the socket was full: a write deadline is set
	nowait   bool // an inline write: a full socket is left to the writer goroutine
	failed   bool // an inline write found the socket broken: the writer goroutine finishes
}

// Init sets the writer up for nc, writing straight on the socket when rc (RawConnOf(nc),
// shared with the reader) is not nil: timeout bounds a write once the socket is full, and
// writeHeld is the connection's write of what it queued while an outbox held it (called by
// Outbox.Flush from the outbox's reading goroutine).
func (w *Writer) Init(nc net.Conn, rc syscall.RawConn, timeout time.Duration, writeHeld func()) {
	w.nc, w.rc, w.timeout, w.writeHeld = nc, rc, timeout, writeHeld
	if rc != nil {
		w.writevFn = w.writevSome
	}
}

// RawConn is the socket's raw connection, or nil when writes go through the net.Conn.
func (w *Writer) RawConn() syscall.RawConn { return w.rc }

// Inline reports whether writes may be made from a goroutine that must not wait (a sender's
// or a reader's): only on a raw socket, where a write that would wait can stop instead.
func (w *Writer) Inline() bool { return w.rc != nil }

// Abort marks the connection cut off and gives a write in progress grace more time at most,
// so that a peer that does not read is cut off now.
func (w *Writer) Abort(grace time.Duration) {
	w.aborted.Store(true)
	w.nc.SetWriteDeadline(time.Now().Add(grace))
}

// Joined records that a reader queued a frame for this connection while another reader's
// outbox held its writer (the connection's lock held, HeldBy set to another outbox): several
// readers feed it at once, so the one that flushes waits for the others first.
func (w *Writer) Joined() { w.joined.Store(joinMemory) }

// joinMemory is how many flushes a writer is treated as fed by several readers after
// another reader's frames last joined it.
const joinMemory = 16

// Aborted reports whether Abort was called.
func (w *Writer) Aborted() bool { return w.aborted.Load() }

// Failed reports whether an inline write found the socket broken (the writer goroutine that
// write started then finishes the connection).
func (w *Writer) Failed() bool { return w.failed }

// Write writes bufs whole, waiting while the socket is full up to the write timeout: straight
// on the socket on plain sockets, with a write deadline only once it is full (a timer update
// per write saved); else copied into one buffer and written at once (one TLS record per write,
// not per buffer). A writer waiting here for a full socket holds a 4 KiB stack
// (TestWaitingWriterStack).
func (w *Writer) Write(bufs [][]byte) error {
	if w.rc == nil {
		return w.writeConn(bufs)
	}
	w.bufs = bufs
	w.err, w.waited = nil, false
	err := w.rc.Write(w.writevFn)
	if err == nil {
		err = w.err
	}
	if w.waited && !w.Aborted() { // an abort's deadline stays: the connection is going
		w.nc.SetWriteDeadline(time.Time{})
	}
	w.bufs = nil
	return err
}

// writeConn writes bufs through the net.Conn in one write.
func (w *Writer) writeConn(bufs [][]byte) error {
	w.wbuf = w.wbuf[:0]
	for _, b := range bufs {
		w.wbuf = append(w.wbuf, b...)
	}
	if !w.Aborted() {
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	_, err := w.nc.Write(w.wbuf)
	if cap(w.wbuf) > 64<<10 {
		w.wbuf = nil
	}
	return err
}

// WriteNow writes bufs from a goroutine that must not wait for the peer (Inline must be
// true), with non-blocking writes. What the socket does not take at once is left in Partial
// for the writer goroutine, which the caller starts. It reports false when the socket is
// broken: the caller then starts the writer goroutine too, which sees Failed and finishes the
// connection (a close from here could wait for a reader that waits for this one).
func (w *Writer) WriteNow(bufs [][]byte) bool {
	w.bufs = bufs
	w.err, w.waited, w.nowait = nil, false, true
	if err := w.rc.Write(w.writevFn); err != nil {
		// Not written (a write deadline an abort set has passed, or the socket is closing):
		// the writer goroutine meets the same error and finishes the connection.
		w.err = nil
	}
	w.nowait = false
	ok := w.err == nil
	if !ok {
		w.failed = true
	} else if len(w.bufs) > 0 {
		// Headers in w.bufs point into the connection's scratch, which nothing changes
		// before the writer goroutine has written Partial.
		w.Partial = append(w.Partial[:0], w.bufs...)
	}
	w.bufs = nil
	clear(bufs) // no pointers into written frames stay behind
	return ok
}

// InlineConn is the connection's side of an inline write (WriteInline).
type InlineConn interface {
	// NextInline is called, with nothing left unwritten, after each inline write: under
	// the connection's lock it gives the writer's role up when nothing is queued (done);
	// else, when more is true and what is queued can be written inline, it lays that out
	// and returns it (bufs); else it returns neither, leaving the rest to the writer
	// goroutine.
	NextInline(more bool) (bufs [][]byte, done bool)
	// StartWriter starts the connection's writer goroutine, which takes the writer's role
	// over (and finishes the connection when Failed).
	StartWriter()
}

// maxInlineRounds bounds the writes one inline writer makes for frames that others queued
// while it wrote (other callers' INVOCATIONs to a busy callee): they go out from this
// goroutine too, with no hop to a writer goroutine, but a writer that keeps finding more
// hands over.
const maxInlineRounds = 4

// WriteInline writes bufs from a goroutine that holds c's writer's role but must not wait
// for the peer (Inline must be true), then what was queued meanwhile. What the socket does
// not take at once is left to c's writer goroutine.
func (w *Writer) WriteInline(bufs [][]byte, c InlineConn) {
	for round := 1; ; round++ {
		if !w.WriteNow(bufs) || len(w.Partial) > 0 {
			c.StartWriter() // finishes a broken connection, or writes what is left
			return
		}
		next, done := c.NextInline(round < maxInlineRounds)
		if done {
			return
		}
		if next == nil {
			c.StartWriter()
			return
		}
		bufs = next
	}
}

// TakePartial moves what an inline write left into dst (for the writer goroutine).
func (w *Writer) TakePartial(dst [][]byte) [][]byte {
	dst = append(dst, w.Partial...)
	clear(w.Partial)
	w.Partial = w.Partial[:0]
	return dst
}

// Release lets go of scratch arrays a burst made large, once the writer is idle.
func (w *Writer) Release(keep int) {
	if cap(w.iovecs) > keep {
		w.iovecs = nil
	}
}

// writevSome writes what is left of w.bufs; false asks the poller to wait until the socket
// takes more (or the write deadline passes).
func (w *Writer) writevSome(fd uintptr) bool {
	for len(w.bufs) > 0 {
		w.iovecs = appendIovecs(w.iovecs[:0], w.bufs, maxIovecs)
		if len(w.iovecs) == 0 {
			break
		}
		n, err := writev(fd, w.iovecs)
		clear(w.iovecs) // no pointers into written frames stay behind
		switch err {
		case nil:
			consume(&w.bufs, n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			if w.nowait {
				return true // an inline write: what is left is the writer goroutine's
			}
			if !w.waited {
				w.waited = true
				if !w.Aborted() { // an abort set a shorter deadline already
					w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
				}
			}
			return false
		default:
			w.err = err
			return true
		}
	}
	return true
}

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// consume drops the first n bytes from b.
func consume(b *net.Buffers, n int) {
	for n > 0 && len(*b) > 0 {
		if n < len((*b)[0]) {
			(*b)[0] = (*b)[0][n:]
			return
		}
		n -= len((*b)[0])
		*b = (*b)[1:]
	}
	for len(*b) > 0 && len((*b)[0]) == 0 {
		*b = (*b)[1:]
	}
}
