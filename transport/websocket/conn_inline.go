package websocket

// SendNow queues one message like Send, and when nothing else is queued or being written it
// writes the frame right away from the caller's goroutine, with one non-blocking write: no
// writer goroutine is started for it. For one-to-one traffic (call results, invocations,
// acknowledgements), where latency counts and there is nothing to batch. What the socket does
// not take at once is left to a writer goroutine, so the caller never waits for the peer.
// Fan-out should use Send: its writers batch what queues up while they write.
func (c *Conn) SendNow(frame []byte) error {
	if c.framing != framingNone || c.deflate != nil {
		// Framed by the writer (batched, compressed): queued, but not held for a delay.
		return c.enqueue(frame, sendOptions{binary: c.binary, urgent: true})
	}
	c.mu.Lock()
	if !c.rawWrites() || c.closing || c.aborted || c.writing || c.finished || len(c.queue) > 0 || c.kinds != nil {
		// Not written here (no raw socket, e.g. TLS; closing; or queued behind what waits
		// already): queued, but not held for a write delay.
		c.mu.Unlock()
		return c.enqueue(frame, sendOptions{binary: c.binary, urgent: true})
	}
	c.holdWriterLocked() // this goroutine is the writer for the moment
	binary := c.binary
	c.mu.Unlock()
	c.wr.headers = appendFrameHeader(c.wr.headers[:0], opcodeOf(nil, 0, binary), len(frame))
	c.wr.iov = append(c.wr.iov[:0], c.wr.headers, frame)
	c.writeInline()
	return nil
}

// writeQueued writes what is queued from the caller's goroutine, which an Outbox made the
// connection's writer: the frames its reader's burst queued go out in one non-blocking
// write. Anything else to do (a ping, a pong, a close, what an earlier write left), or a
// socket without raw access, is the writer goroutine's.
func (c *Conn) writeQueued() {
	c.mu.Lock()
	c.wr.w.HeldBy = nil
	if !c.inlineLocked() {
		c.mu.Unlock()
		go c.writeLoopFn()
		return
	}
	c.takeInlineLocked()
	c.writeInline()
}

// inlineLocked reports whether what is queued can be written inline: frames only, on a raw
// socket, nothing left over from an earlier write. Caller holds c.mu.
func (c *Conn) inlineLocked() bool {
	return c.wr.w.Inline() && len(c.wr.w.Partial) == 0 && len(c.queue) > 0 && len(c.pongs) == 0 && !c.needPing &&
		!c.closing && c.kinds == nil
}

// takeInlineLocked takes the queue and lays it out in c.wr.iov; it unlocks c.mu.
func (c *Conn) takeInlineLocked() {
	w := c.takeLocked()
	c.mu.Unlock()
	c.frameIovecs(c.wr.batch, nil, w.binary)
	c.recycle(c.wr.batch) // c.wr.iov holds the frames now
}

// writeInline writes c.wr.iov from the caller's goroutine, which holds the writer's role
// (c.writing), with non-blocking writes, then what was queued meanwhile
// (sockio.Writer.WriteInline). What the socket does not take at once waits for a writer
// goroutine started here, so the caller never waits for the peer.
func (c *Conn) writeInline() { c.wr.w.WriteInline(c.wr.iov, (*inlineSide)(c)) }

// inlineSide is the connection as its inline writer sees it (sockio.InlineConn).
type inlineSide Conn

func (s *inlineSide) NextInline(more bool) ([][]byte, bool) {
	c := (*Conn)(s)
	c.mu.Lock()
	if !c.hasWorkLocked() {
		c.writing = false
		c.mu.Unlock()
		return nil, true
	}
	if !more || c.delay != nil || !c.inlineLocked() { // a write delay spaces what follows
		c.mu.Unlock()
		return nil, false
	}
	c.takeInlineLocked()
	return c.wr.iov, false
}

func (s *inlineSide) StartWriter() { go s.writeLoopFn() }

// rawWrites reports whether frames are written straight on the socket (a server on plain
// TCP), where a write that would wait can stop instead: only then is a frame written from a
// sender's goroutine.
func (c *Conn) rawWrites() bool { return c.server && c.fr.RawConn() != nil }
