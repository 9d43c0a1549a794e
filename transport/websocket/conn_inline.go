package websocket

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
		c.mu.Unlock()
		return c.enqueue(frame, sendOptions{binary: c.binary, urgent: true})
	}
	c.writing = true // this goroutine is the writer for the moment
	binary := c.binary
	c.mu.Unlock()
	c.headers = appendFrameHeader(c.headers[:0], opcodeOf(nil, 0, binary), len(frame))
	c.iov = append(c.iov[:0], c.headers, frame)
	c.writeInline()
	return nil
}

// writeQueued writes what is queued from the caller's goroutine, which an Outbox made the
// connection's writer: the frames its reader's burst queued go out in one non-blocking
// write. Anything else to do (a ping, a pong, a close, what an earlier write left), or a
// socket without raw access, is the writer goroutine's.
func (c *Conn) writeQueued() {
	c.mu.Lock()
	c.heldBy = nil
	if c.rc == nil || len(c.partial) > 0 || len(c.queue) == 0 || len(c.pongs) > 0 || c.needPing || c.closing || c.kinds != nil {
		c.mu.Unlock()
		go c.writeLoopFn()
		return
	}
	w := c.takeLocked()
	c.mu.Unlock()
	c.frameIovecs(c.batch, nil, w.binary)
	c.recycle(c.batch) // c.iov holds the frames now
	c.writeInline()
}

// writeInline writes c.iov from the caller's goroutine, which holds the writer's role
// (c.writing), with non-blocking writes. What the socket does not take at once waits in
// c.partial for a writer goroutine started here, so the caller never waits for the peer;
// that goroutine also writes whatever was queued meanwhile.
func (c *Conn) writeInline() {
	c.bufs = c.iov
	c.writeErr, c.waited, c.nowait = nil, false, true
	if err := c.rc.Write(c.writevFn); err != nil {
		// Not written (a write deadline an abort set has passed, or the socket is closing):
		// the writer goroutine meets the same error and finishes the connection.
		c.writeErr = nil
	}
	c.nowait = false
	broken, left := c.writeErr != nil, len(c.bufs) > 0
	if left && !broken {
		// The headers in c.bufs point into c.headers, which nothing changes before the
		// writer goroutine has written c.partial.
		c.partial = append(c.partial[:0], c.bufs...)
	}
	c.bufs = nil
	clear(c.iov)
	c.iov = c.iov[:0]
	switch {
	case broken:
		c.finish() // the owner's Read fails next
		return
	case left:
		go c.writeLoopFn()
		return
	}
	c.mu.Lock()
	more := c.hasWorkLocked()
	if !more {
		c.writing = false
	}
	c.mu.Unlock()
	if more {
		go c.writeLoopFn()
	}
}
