package websocket

import (
	"net"
	"syscall"
	"time"
)

// writeRawFD is writeRaw on plain TCP: non-blocking writev calls straight on the socket, and a
// write deadline only once the socket is full. A writer that never waits sets no deadline (a
// timer update per write saved). A writer waiting here for a full socket holds a 4 KiB stack
// (TestWaitingWriterStack).
func (c *Conn) writeRawFD() error {
	c.writeErr, c.waited = nil, false
	err := c.rc.Write(c.writevFn)
	if err == nil {
		err = c.writeErr
	}
	if c.waited && !c.isAborted() { // an abort's deadline stays: the connection is going
		c.nc.SetWriteDeadline(time.Time{})
	}
	return err
}

// writevSome writes what is left of c.bufs; false asks the poller to wait until the socket
// takes more (or the write deadline passes).
func (c *Conn) writevSome(fd uintptr) bool {
	for len(c.bufs) > 0 {
		c.iovecs = appendIovecs(c.iovecs[:0], c.bufs, maxIovecs)
		if len(c.iovecs) == 0 {
			break
		}
		n, err := writevIovecs(fd, c.iovecs)
		clear(c.iovecs) // no pointers into written frames stay behind
		switch err {
		case nil:
			consume(&c.bufs, n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			if c.nowait {
				return true // an inline write: what is left is the writer goroutine's
			}
			if !c.waited {
				c.armWriteDeadline()
			}
			return false
		default:
			c.writeErr = err
			return true
		}
	}
	return true
}

// armWriteDeadline bounds the wait for a full socket (unless an abort already set a shorter
// one).
func (c *Conn) armWriteDeadline() {
	c.waited = true
	if !c.isAborted() {
		c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	}
}

func (c *Conn) isAborted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aborted
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
