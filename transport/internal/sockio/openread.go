package sockio

import (
	"errors"
	"iter"
	"os"
	"syscall"
)

// openRead is a raw read kept open across messages: one syscall.RawConn.Read call, run in a
// coroutine (iter.Pull), whose callback hands each read's bytes to the reader and goes on
// when the reader asks for more.
//
// Why: every RawConn.Read begins by forgetting a readiness notification that arrived before
// it (internal/poll's prepareRead), so a reader that starts a new one per read must read once
// more, finding the socket empty (EAGAIN), before it may wait; a caller's CALL then costs a
// read that brings it and one that finds nothing. Within one RawConn.Read nothing is
// forgotten: after a read that left room in the buffer (the socket was emptied at that
// instant), every later arrival is reported by the edge-triggered poller, so the callback may
// wait for readability at once, without that second read.
//
// The reader resumes the coroutine for each read it needs (ReadBuffer.readOpen); while it
// handles what a read brought, the coroutine is suspended inside the callback, holding the
// socket's read lock. A read that does not go through it would wait for that lock for ever,
// and closing the socket waits until the raw read returns: whoever stops reading ends it
// first (ReadBuffer.Stop, which the connections' Done calls). A raw read that ends (the
// socket is closed, the peer ended the stream, a read failed, a passed deadline the
// connection does not wait on, FillOrNot's empty socket) ends the coroutine with it, so a
// reader that parks or ends holds none.
type openRead struct {
	b     *ReadBuffer
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	fn    func(fd uintptr) bool // o.read, bound once

	into []byte // where the next read goes; nil: the read buffer
	n    int    // the last read's bytes
	err  error  // a read's error that ended the raw read
	end  error  // what RawConn.Read returned (a deadline, a closed socket)

	short      bool // the last read left room: it emptied the socket
	wait       bool // the next read waits for readability first (the last one was short)
	nowait     bool // FillOrNot: an empty socket ends the raw read (wouldBlock), not a wait
	wouldBlock bool
}

// startOpenRead starts the coroutine (suspended until the first next).
func startOpenRead(b *ReadBuffer) *openRead {
	o := &openRead{b: b}
	o.fn = o.read
	o.next, o.stop = iter.Pull(o.run)
	return o
}

// run is the coroutine: the raw read, opened again when its deadline passed but the
// connection waits on (DeadlineHandler).
func (o *openRead) run(yield func(struct{}) bool) {
	o.yield = yield
	for {
		err := o.b.rc.Read(o.fn)
		if err != nil && o.b.Deadline != nil && errors.Is(err, os.ErrDeadlineExceeded) && o.b.Deadline.ReadDeadlinePassed() {
			o.wait = false // a new raw read forgets readiness: it reads first
			continue
		}
		o.end = err
		return
	}
}

// read is the raw read's callback: false asks the poller to wait for readability and call
// again. It yields after each read that brought bytes, and goes on when the reader resumes it.
func (o *openRead) read(fd uintptr) bool {
	b := o.b
	for {
		if o.wait {
			o.wait = false
			if !o.nowait {
				// The last read emptied the socket and was handled: what arrives from now on
				// wakes this wait, so nothing needs reading first.
				b.beforeWait()
				return false
			}
		}
		p := o.into
		if p == nil {
			if b.Buf == nil {
				b.Buf = b.pool.Get().(*[]byte)
			}
			p = (*b.Buf)[b.W:]
		}
		n, err := RawRead(fd, p)
		switch err {
		case nil:
			if n == 0 {
				return true // end of stream: the raw read ends
			}
			o.n, o.short = n, n < len(p)
			if !o.yield(struct{}{}) {
				return true // stopped
			}
		case syscall.EINTR:
		case syscall.EAGAIN:
			b.beforeWait()
			if o.nowait {
				o.wouldBlock = true
				return true
			}
			return false
		default:
			o.err = err
			return true
		}
	}
}

// readOpen reads once through the open raw read, starting one when none is open: into p, or
// into the read buffer when p is nil. It returns the bytes read (never 0 without an error),
// ErrWouldBlock (nowait, the socket empty), io.EOF, or the error that ended the raw read;
// with an error the raw read has ended.
func (b *ReadBuffer) readOpen(p []byte, nowait bool) (int, error) {
	o := b.open
	if o == nil {
		o = startOpenRead(b)
		b.open = o
	} else {
		o.wait = o.short
	}
	o.into, o.nowait = p, nowait
	o.n = 0
	_, ok := o.next()
	o.into = nil
	if ok {
		return o.n, nil
	}
	b.open = nil // the coroutine has returned
	switch {
	case o.wouldBlock:
		return 0, ErrWouldBlock
	case o.err != nil:
		return 0, o.err
	case o.end != nil:
		return 0, o.end
	}
	return 0, errEOF
}

// Stop ends the open raw read, if any. The reader calls it when it stops reading (before it
// waits for the socket to close: closing waits for the raw read to end) or hands the socket
// over; reading again later opens a new one.
func (b *ReadBuffer) Stop() {
	if o := b.open; o != nil {
		b.open = nil
		o.stop()
	}
}
