package sockio

import (
	"errors"
	"io"
	"iter"
	"os"
	"syscall"
)

// rawRead is a reader's read straight on a plain socket's file descriptor, through
// syscall.RawConn.Read, whose callback (rawRead.read) reads until the socket brings something
// and asks the poller to wait while it is empty.
//
// A server's reader keeps one raw read open across messages: the RawConn.Read runs in a
// coroutine (iter.Pull), and its callback hands each read's bytes to the reader (yield) and
// goes on when the reader asks for more. Why: every RawConn.Read begins by forgetting a
// readiness notification that arrived before it (internal/poll's prepareRead), so a reader
// that starts a new one per read must read once more, finding the socket empty (EAGAIN),
// before it may wait: a caller's CALL costs a read that brings it and one that finds nothing.
// Within one RawConn.Read nothing is forgotten: after a read that left room in the buffer
// (the socket was emptied at that instant), every later arrival is reported by the poller
// (edge-triggered), so the callback may wait for readability at once, without that second
// read.
//
// While the reader handles what a read brought, the coroutine is suspended inside the
// callback, holding the socket's read lock: a read that does not go through it would wait
// for that lock for ever (ReadInto goes through it), and closing the socket waits until the
// raw read returns. Whoever stops reading ends it first (ReadBuffer.Stop, which the
// connections' Done calls). A raw read that ends — the socket is closed, the peer ended the
// stream, a read failed, a passed deadline the connection does not wait on, FillOrNot's empty
// socket — ends the coroutine with it, so a reader that parks or ends holds none.
//
// A client's reads are one RawConn.Read each (its owner need not call Stop): raw is made once
// and yield stays nil.
type rawRead struct {
	b     *ReadBuffer
	fn    func(fd uintptr) bool // r.read, bound once: a read allocates nothing
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool // nil: one read per RawConn.Read

	into []byte // where the next read goes; nil: the read buffer
	n    int    // the last read's bytes (0 with no error: end of stream)
	err  error  // the read's error that ended the raw read
	end  error  // what RawConn.Read returned, once an open raw read ended

	short      bool // the last read left room: it emptied the socket
	wait       bool // the next read waits for readability first (the last one was short)
	nowait     bool // FillOrNot: an empty socket ends the raw read (wouldBlock), not a wait
	wouldBlock bool
}

func newRawRead(b *ReadBuffer) *rawRead {
	r := &rawRead{b: b}
	r.fn = r.read
	return r
}

// read is the raw read's callback: false asks the poller to wait for readability and call
// again. Kept open, it yields after each read that brought bytes, and goes on when the reader
// resumes it.
func (r *rawRead) read(fd uintptr) bool {
	b := r.b
	for {
		if r.wait {
			r.wait = false
			if !r.nowait {
				// The last read emptied the socket and was handled: what arrives from now on
				// wakes this wait, so nothing needs reading first.
				b.beforeWait()
				return false
			}
		}
		p := r.into
		if p == nil {
			if b.Buf == nil {
				b.Buf = b.pool.Get().(*[]byte)
			}
			p = (*b.Buf)[b.W:]
		}
		n, err := RawRead(fd, p)
		switch err {
		case nil:
			r.n, r.short = n, n < len(p)
			if n == 0 || r.yield == nil || !r.yield(struct{}{}) {
				return true // one read done, the end of the stream, or the reader stopped
			}
		case syscall.EINTR:
		case syscall.EAGAIN:
			// Nothing more to read: the outbox goes out now, and the wait that follows is
			// woken by whatever arrived meanwhile (the poller was armed before this read).
			b.beforeWait()
			if r.nowait {
				r.wouldBlock = true
				return true
			}
			return false
		default:
			r.err = err
			return true
		}
	}
}

// readRaw reads once on the socket: into p, or into the read buffer when p is nil. It
// returns the bytes read (never 0 without an error), ErrWouldBlock (nowait, the socket
// empty), io.EOF, or the error that ended the raw read. An open raw read ends with any error.
func (b *ReadBuffer) readRaw(p []byte, nowait bool) (int, error) {
	if b.keepOpen {
		return b.readOpen(p, nowait)
	}
	r := b.raw
	r.into, r.nowait, r.n, r.err, r.wouldBlock = p, nowait, 0, nil, false
	for {
		err := b.rc.Read(r.fn)
		if err == nil {
			break
		}
		if !b.waitOn(err) {
			r.into = nil
			return 0, err
		}
	}
	r.into = nil
	return r.result(r.n)
}

// waitOn reports whether a raw read that ended with err (its deadline passed, perhaps) waits
// on (DeadlineHandler).
func (b *ReadBuffer) waitOn(err error) bool {
	return b.Deadline != nil && errors.Is(err, os.ErrDeadlineExceeded) && b.Deadline.ReadDeadlinePassed()
}

// result is what a read that ended its raw read reports.
func (r *rawRead) result(n int) (int, error) {
	switch {
	case r.wouldBlock:
		return 0, ErrWouldBlock
	case r.err != nil:
		return 0, r.err
	case r.end != nil:
		return 0, r.end
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readOpen is readRaw through the open raw read, starting one when none is open.
func (b *ReadBuffer) readOpen(p []byte, nowait bool) (int, error) {
	r := b.raw
	if r == nil {
		r = newRawRead(b)
		r.next, r.stop = iter.Pull(r.run)
		b.raw = r
	} else {
		r.wait = r.short
	}
	r.into, r.nowait, r.n = p, nowait, 0
	_, ok := r.next()
	r.into = nil
	if ok {
		return r.n, nil
	}
	b.raw = nil // the coroutine has returned
	return r.result(0)
}

// run is the coroutine of an open raw read: the RawConn.Read, opened again when its deadline
// passed but the connection waits on.
func (r *rawRead) run(yield func(struct{}) bool) {
	r.yield = yield
	for {
		err := r.b.rc.Read(r.fn)
		if err != nil && r.b.waitOn(err) {
			r.wait = false // a new raw read forgets readiness: it reads first
			continue
		}
		r.end = err
		return
	}
}

// Stop ends the open raw read, if any. The reader calls it when it stops reading (before it
// waits for the socket to close: closing waits for the raw read to end) or hands the socket
// over; reading again later opens a new one.
func (b *ReadBuffer) Stop() {
	if r := b.raw; r != nil && b.keepOpen {
		b.raw = nil
		r.stop()
	}
}
