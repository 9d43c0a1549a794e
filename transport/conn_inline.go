package transport

import (
	"syscall"

	"github.com/gorilla/websocket"
)

// SendNow queues one message like Send, and when nothing else is queued or being written it
// writes the frame right away from the caller's goroutine, with one non-blocking write: no
// writer goroutine is started for it. For one-to-one traffic (call results, invocations,
// acknowledgements), where latency counts and there is nothing to batch. What the socket does
// not take at once is left to a writer goroutine, so the caller never waits for the peer.
// Fan-out should use Send: its writers batch what queues up while they write.
func (c *Conn) SendNow(frame []byte) error {
	c.mu.Lock()
	if c.rc == nil || c.closing || c.aborted || c.writing || c.finished || len(c.queue) > 0 || c.kinds != nil {
		// Not written here (no raw socket, e.g. TLS; closing; or queued behind what waits
		// already): queued, but not held for a write delay.
		c.urgent = true
		return c.queueLocked(frame, c.binary, false)
	}
	c.writing = true // this goroutine is the writer for the moment
	binary := c.binary
	c.mu.Unlock()

	opcode := byte(websocket.TextMessage)
	if binary {
		opcode = websocket.BinaryMessage
	}
	c.inlineHeader = appendFrameHeader(c.inlineHeader[:0], opcode, len(frame))
	c.inlineFrame = frame
	c.inlineN, c.inlineErr = 0, nil
	if err := c.rc.Write(c.writeFn); err != nil {
		// Not written (a write deadline the writer goroutine set has passed, or the socket
		// is closing): the writer goroutine sorts it out.
		c.inlineN, c.inlineErr = 0, syscall.EAGAIN
	}
	header, n, err := c.inlineHeader, c.inlineN, c.inlineErr
	c.inlineFrame = nil
	switch {
	case err != nil && err != syscall.EAGAIN:
		c.finish() // the socket is broken: the owner's Read fails next
		return nil
	case n < len(header):
		c.partial = append(c.partial[:0], append([]byte(nil), header[n:]...), frame)
	case n < len(header)+len(frame):
		c.partial = append(c.partial[:0], frame[n-len(header):])
	default:
		c.mu.Lock()
		more := c.hasWorkLocked()
		if !more {
			c.writing = false
		}
		c.mu.Unlock()
		if more {
			go c.writeLoop()
		}
		return nil
	}
	// The socket's buffer is full: a writer goroutine writes the rest when it drains.
	go c.writeLoop()
	return nil
}

// writeOnce is the raw, non-blocking writev of SendNow's header and frame. It never asks the
// poller to wait: what does not fit is the writer goroutine's.
func (c *Conn) writeOnce(fd uintptr) bool {
	for {
		n, err := writev2(fd, c.inlineHeader, c.inlineFrame)
		if err == syscall.EINTR {
			continue
		}
		c.inlineN, c.inlineErr = n, err
		return true
	}
}
