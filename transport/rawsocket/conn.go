package rawsocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/session/peer"
)

// closeGrace is how long a closing connection waits, its writes done, for the peer to close
// its side.
const closeGrace = 2 * time.Second

// abortWriteGrace is how long a write in progress may still take once a peer is cut off.
const abortWriteGrace = 500 * time.Millisecond

// maxPendingPongs bounds the PONGs waiting to be written: a peer that sends PINGs faster
// than it reads the answers is cut off.
const maxPendingPongs = 64

// Conn is one RawSocket connection, the router's end (peer.Peer) or the client's
// (peer.Client): the protocol is the same both ways once the handshake is done. Reads happen
// on the owner's goroutine. Sends only queue, bounded in messages and bytes: a writer
// goroutine, started when there is something to write and gone when the queue is empty,
// writes every queued frame in one writev. SendNow writes at once from the sender's goroutine
// when nothing is queued, and SendFanout may leave the write to the reading connection's
// Outbox. Keepalive is one timer, not a goroutine.
type Conn struct {
	nc         net.Conn
	rc         syscall.RawConn // plain sockets: writev straight on the file descriptor
	opts       *Options        // shared by the connections a server accepted with the same options
	serializer string
	peerMax    int // the largest message the peer accepts
	rd         *reader
	out        Outbox // the reader's: connections its messages gave something to write

	quiet atomic.Bool // nothing read since the keepalive timer last looked

	mu        sync.Mutex
	queue     [][]byte
	queued    int      // bytes in queue
	batch     [][]byte // what the writer took from queue, used by the writer only
	pongs     [][]byte // PONG payloads to send, each answering a PING
	pongBatch [][]byte // what the writer took from pongs
	needPing  bool
	awaiting  bool    // a PING is out, unanswered
	writing   bool    // a writer (goroutine or inline write) holds the writer's role
	heldBy    *Outbox // the outbox that starts the writer
	closing   bool
	aborted   bool
	finished  bool
	closeCode int
	closeText string
	space     chan struct{} // signaled when the writer has taken the queue; made for SendWait
	pingTimer *time.Timer

	// An idle reader parks (park.go). canPark, parkAtOnce and resume are the owner's;
	// parked and parkToken are guarded by mu.
	resume     func()        // what ReadOrPark's caller resumes with, while parked
	active     *atomic.Int64 // the Server's count of connections, released by served
	parkToken  uint32
	parked     bool // the socket is watched by idlewait: no goroutine reads
	canPark    bool
	parkAtOnce bool // the next wait at a message boundary parks without waiting
	parkedOnce bool // the reader has parked before (guarded by mu)

	writeLoopFn func() // c.writeLoop, made once so starting a writer allocates nothing

	readDone   chan struct{} // closed when the owner stopped reading (Done)
	writerDone chan struct{} // closed when the socket is closed and no writer runs
	doneOnce   sync.Once

	// The writer's scratch, used by whoever holds the writer's role.
	headers  []byte
	iov      [][]byte
	bufs     net.Buffers
	wbuf     []byte // without a raw socket (TLS): the frames copied into one write
	iovecs   iovecs
	writevFn func(fd uintptr) bool
	writeErr error
	waited   bool     // the socket was full: a write deadline is set
	nowait   bool     // an inline write: a full socket is left to a writer goroutine
	partial  [][]byte // what an inline write left unwritten, for the writer goroutine
}

// newConn wraps a socket whose handshake is done. server says which end it is (for the
// outbox: only a router's reader batches fan-out).
func newConn(nc net.Conn, serializer string, peerMax int, opts *Options, server bool) *Conn {
	c := &Conn{
		nc:         nc,
		rc:         rawConnOf(nc),
		opts:       opts,
		serializer: serializer,
		peerMax:    peerMax,
		readDone:   make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.writeLoopFn = c.writeLoop
	if c.rc != nil {
		c.writevFn = c.writevSome
	}
	var out *Outbox
	if server {
		out = &c.out
	} else {
		c.space = make(chan struct{}, 1) // SendWait, which clients use, waits on it
	}
	c.rd = newReader(nc, c.rc, opts.ReadBufferSize, opts.MaxMessageSize, out)
	if opts.PingInterval > 0 {
		c.mu.Lock()
		c.pingTimer = time.AfterFunc(opts.PingInterval, c.keepalive)
		c.mu.Unlock()
	}
	return c
}

var (
	_ peer.Peer   = (*Conn)(nil)
	_ peer.Client = (*Conn)(nil)
)

// Serializer is the serializer the handshake agreed on ("json", "msgpack", "cbor").
func (c *Conn) Serializer() string { return c.serializer }

// PeerMaxMessageSize is the largest message the peer said it accepts.
func (c *Conn) PeerMaxMessageSize() int { return c.peerMax }

// Details describe the connection: transport "rawsocket", the serializer as protocol
// ("wamp.2.json"), the peer's address and the TLS state.
func (c *Conn) Details() peer.Details {
	d := peer.Details{Transport: "rawsocket", Protocol: "wamp.2." + c.serializer, RemoteAddr: c.nc.RemoteAddr()}
	d.TLS = tlsStateOf(c.nc)
	return d
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Read returns the next WAMP message, answering PINGs on the way. The slice is the caller's to
// keep. Only the owner's goroutine calls it.
func (c *Conn) Read() ([]byte, error) { return c.readNext(false) }

// readNext is Read, parking (errParked) when park allows it (ReadOrPark).
func (c *Conn) readNext(park bool) ([]byte, error) {
	for {
		// Waiting here, a few calls deep, rather than in the frame parser keeps an idle
		// connection's goroutine stack small enough to shrink to the minimum.
		if c.rd.pending() == 0 {
			if err := c.awaitData(park); err != nil {
				return nil, err
			}
		}
		data, err := c.readMessage()
		if err != errNoMessage {
			return data, err
		}
	}
}

func (c *Conn) readMessage() ([]byte, error) {
	for {
		typ, payload, err := c.rd.next()
		if err != nil {
			switch {
			case errors.Is(err, ErrTooBig):
				c.opts.Logger.Info("rawsocket: closing a connection that sent a message too big", "remote", c.nc.RemoteAddr(), "err", err)
				c.Close(peer.ClosePolicy, err.Error())
			case errors.Is(err, ErrProtocol):
				c.opts.Logger.Info("rawsocket: closing a connection that broke the protocol", "remote", c.nc.RemoteAddr(), "err", err)
				c.Close(peer.CloseProtocolError, err.Error())
			}
			return nil, err
		}
		if c.quiet.Load() {
			c.quiet.Store(false)
		}
		switch typ {
		case frameRegular:
			return payload, nil
		case framePing:
			if err := c.queuePong(payload); err != nil {
				return nil, err
			}
		}
		if c.canPark && c.rd.pending() == 0 {
			// A PING or PONG alone: back to the message boundary, where a reader that
			// has nothing more to read parks at once.
			c.parkAtOnce = true
			return nil, errNoMessage
		}
	}
}

// queuePong asks the writer to answer a PING with its payload.
func (c *Conn) queuePong(payload []byte) error {
	c.mu.Lock()
	if len(c.pongs) >= maxPendingPongs {
		c.mu.Unlock()
		err := fmt.Errorf("%w: %d PINGs unanswered, the peer does not read", ErrProtocol, maxPendingPongs)
		c.Abort(peer.ClosePolicy, err.Error())
		return err
	}
	c.pongs = append(c.pongs, payload)
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoopFn()
	}
	return nil
}

// keepalive runs on the keepalive timer. A connection that read something since the last look
// is alive; a quiet one is sent a PING, and if it stays quiet for PongTimeout more (no PONG,
// nothing else) it is cut off.
func (c *Conn) keepalive() {
	c.mu.Lock()
	if c.finished || c.closing {
		c.mu.Unlock()
		return
	}
	if !c.quiet.Swap(true) {
		c.awaiting = false
		c.pingTimer.Reset(c.opts.PingInterval)
		c.mu.Unlock()
		return
	}
	if c.awaiting {
		c.mu.Unlock()
		c.opts.Logger.Info("rawsocket: closing a connection that did not answer a PING", "remote", c.nc.RemoteAddr(),
			"pong_timeout", c.opts.PongTimeout)
		c.Abort(peer.CloseGoingAway, "keepalive: no PONG within "+c.opts.PongTimeout.String())
		return
	}
	c.awaiting, c.needPing = true, true
	c.pingTimer.Reset(c.opts.PongTimeout)
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoopFn()
	}
}

// SendNow sends a reply (peer.Peer): written at once from the caller's goroutine, with one
// non-blocking write, when nothing is queued or being written; queued otherwise.
func (c *Conn) SendNow(frame []byte) error {
	c.mu.Lock()
	if c.rc == nil || c.closing || c.writing || c.finished || len(c.queue) > 0 || len(frame) > c.peerMax {
		c.mu.Unlock()
		return c.enqueue(frame, nil)
	}
	c.writing = true
	c.mu.Unlock()
	c.headers = appendHeader(c.headers[:0], frameRegular, len(frame))
	c.iov = append(c.iov[:0], c.headers, frame)
	c.writeInline()
	return nil
}

// SendFanout queues one frame of a fan-out (peer.Peer). When via is a router-side RawSocket
// connection, whose reader is the goroutine sending, a writer that would start now is started
// when via's outbox is flushed instead, so a burst goes out in one write. It allocates
// nothing.
func (c *Conn) SendFanout(frame []byte, via peer.Peer) error {
	var out *Outbox
	if vc, ok := via.(*Conn); ok && vc.rd.out != nil {
		out = vc.rd.out
	}
	return c.enqueue(frame, out)
}

// spaceSignal returns the channel the writer signals once it has taken the queue, made on
// first use (a router's connections never wait for room): made reports that it was just made.
func (c *Conn) spaceSignal() (space chan struct{}, made bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.space == nil {
		c.space, made = make(chan struct{}, 1), true
	}
	return c.space, made
}

// Send queues one frame like SendFanout with no outbox.
func (c *Conn) Send(frame []byte) error { return c.enqueue(frame, nil) }

// SendWait queues one frame, waiting for room while the queue is full (peer.Client).
func (c *Conn) SendWait(ctx context.Context, frame []byte) error {
	for {
		err := c.enqueue(frame, nil)
		if !errors.Is(err, peer.ErrQueueFull) {
			return err
		}
		space, made := c.spaceSignal()
		if made {
			continue // the writer may have taken the queue before it could signal
		}
		select {
		case <-space:
		case <-c.writerDone:
			return peer.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enqueue queues one frame. A writer that should start now is left to out, when not nil.
func (c *Conn) enqueue(frame []byte, out *Outbox) error {
	if len(frame) > c.peerMax {
		err := fmt.Errorf("%w: a message of %d bytes, the peer accepts at most %d", ErrTooBig, len(frame), c.peerMax)
		c.opts.Logger.Warn("rawsocket: cutting off a peer that cannot take a message", "remote", c.nc.RemoteAddr(), "err", err)
		c.Abort(peer.ClosePolicy, err.Error())
		return err
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return peer.ErrClosed
	}
	if len(c.queue) >= c.opts.QueueMessages || c.queued+len(frame) > c.opts.QueueBytes {
		c.mu.Unlock()
		return peer.ErrQueueFull
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	start := c.startWriterLocked()
	if start && out != nil {
		c.heldBy = out
		c.mu.Unlock()
		out.conns = append(out.conns, c)
		return nil
	}
	// A queue held back by this outbox must not fill up while it waits: half full, the
	// outbox is written now.
	full := out != nil && c.heldBy == out && (2*len(c.queue) >= c.opts.QueueMessages || 2*c.queued >= c.opts.QueueBytes)
	c.mu.Unlock()
	if start {
		go c.writeLoopFn()
	}
	if full {
		out.flush()
	}
	return nil
}

// startWriterLocked reports whether the caller must start a writer, and records that one
// runs. Caller holds c.mu.
func (c *Conn) startWriterLocked() bool {
	if c.writing || c.finished {
		return false
	}
	c.writing = true
	return true
}

// Queued reports what waits to be written.
func (c *Conn) Queued() (messages, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.queued
}

// Close writes what is queued, then closes the connection. RawSocket has no close frame: code
// and reason are only what the connection reports (CloseReason). It does not block.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if !c.closing {
		c.closing = true
		c.closeCode, c.closeText = code, reason
	}
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoopFn()
	}
}

// Abort drops what is queued and closes the connection at once: for a peer that is cut off.
func (c *Conn) Abort(code int, reason string) {
	c.mu.Lock()
	if !c.aborted {
		c.aborted = true
		if !c.closing {
			c.closing = true
			c.closeCode, c.closeText = code, reason
		}
		clear(c.queue)
		c.queue, c.queued = c.queue[:0], 0
		c.pongs = nil
	}
	start := c.startWriterLocked()
	c.mu.Unlock()
	// Unblock a write stuck on a peer that does not read, so the cut takes effect now.
	c.nc.SetWriteDeadline(time.Now().Add(abortWriteGrace))
	if start {
		go c.writeLoopFn()
	}
}

// CloseReason is the code and reason the connection was closed with by this side, or 0.
func (c *Conn) CloseReason() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeText
}

// Done releases the connection once its owner has stopped reading; it returns when the socket
// is closed and no goroutine of the connection is left.
func (c *Conn) Done() {
	c.out.flush()
	c.doneOnce.Do(func() { close(c.readDone) })
	c.Close(peer.CloseGoingAway, "")
	<-c.writerDone
	c.rd.release()
}

// WriterDone is closed when the connection is finished: socket closed, no writer running.
func (c *Conn) WriterDone() <-chan struct{} { return c.writerDone }

// work is what one round of the writer has to do.
type work struct {
	ping, closing, aborted, idle bool
}

// idleQueueCap is the queue capacity an idle connection may keep; larger arrays are released.
const idleQueueCap = 512

// take moves what is queued into the writer's batch, or marks the writer stopped when there is
// nothing to do, under the lock sends take, so no frame is ever left without a writer.
func (c *Conn) take() work {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 && len(c.pongs) == 0 && !c.needPing && !c.closing {
		c.writing = false
		if cap(c.queue) > idleQueueCap {
			c.queue = nil
		}
		if cap(c.batch) > idleQueueCap {
			c.batch = nil
		}
		return work{idle: true}
	}
	return c.takeLocked()
}

// takeLocked moves the queue into the writer's batch. Caller holds c.mu and the writer's role.
func (c *Conn) takeLocked() work {
	c.batch = append(c.batch[:0], c.queue...)
	clear(c.queue)
	c.queue, c.queued = c.queue[:0], 0
	c.pongBatch = append(c.pongBatch[:0], c.pongs...)
	clear(c.pongs)
	c.pongs = c.pongs[:0]
	w := work{ping: c.needPing, closing: c.closing, aborted: c.aborted}
	c.needPing = false
	select {
	case c.space <- struct{}{}:
	default:
	}
	return w
}

// writeLoop writes until there is nothing left, then exits; when closing, it closes the
// socket once what was queued is written.
func (c *Conn) writeLoop() {
	if len(c.partial) > 0 {
		// What an inline write left goes before anything queued after it.
		c.iov = append(c.iov[:0], c.partial...)
		clear(c.partial)
		c.partial = c.partial[:0]
		if err := c.writeRaw(); err != nil {
			c.finish()
			return
		}
	}
	for {
		w := c.take()
		if w.idle {
			return
		}
		if !w.aborted {
			c.frameIovecs(w.ping)
			err := c.writeRaw()
			clear(c.batch)
			clear(c.pongBatch)
			if err != nil {
				c.finish()
				return
			}
		}
		if w.closing {
			c.closeAndFinish(w.aborted)
			return
		}
	}
}

// frameIovecs lays out one round for one writev in c.iov: a PING, the PONGs, then the queued
// frames, each behind its header; the frames themselves are never copied.
func (c *Conn) frameIovecs(ping bool) {
	c.headers = c.headers[:0]
	c.iov = c.iov[:0]
	add := func(typ byte, p []byte) {
		start := len(c.headers)
		c.headers = appendHeader(c.headers, typ, len(p))
		c.iov = append(c.iov, c.headers[start:len(c.headers):len(c.headers)], p)
	}
	if ping {
		add(framePing, nil)
	}
	for _, p := range c.pongBatch {
		add(framePong, p)
	}
	for _, f := range c.batch {
		add(frameRegular, f)
	}
	// c.headers may have moved while growing: rebuild the header views.
	for i := 0; i < len(c.iov); i += 2 {
		c.iov[i] = c.headers[2*i : 2*i+headerSize : 2*i+headerSize]
	}
}

// closeAndFinish ends the connection once its frames are written: it shuts down the writing
// side (the peer reads what was sent, then end of stream), waits for the owner to stop
// reading or the grace period, and closes the socket.
func (c *Conn) closeAndFinish(aborted bool) {
	if !aborted {
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		t := time.NewTimer(closeGrace)
		select {
		case <-c.readDone:
		case <-t.C:
		}
		t.Stop()
	}
	c.finish()
}

// finish closes the socket and marks the connection finished. Only a writer calls it.
func (c *Conn) finish() {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	c.writing = false
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	c.queue, c.queued, c.pongs = nil, 0, nil
	wake := c.unwatchLocked() // before the socket closes: its number may be reused
	c.mu.Unlock()
	c.nc.Close()
	close(c.writerDone)
	if wake {
		go c.resumed() // a parked reader: reading fails, and its session ends
	}
}

// writeRaw writes c.iov: straight on the socket with writev on plain sockets, else copied into
// one buffer and written at once (a TLS record per write, not per frame).
func (c *Conn) writeRaw() error {
	var err error
	if c.rc != nil {
		c.bufs = c.iov
		err = c.writeRawFD()
		c.bufs = nil
	} else {
		c.wbuf = c.wbuf[:0]
		for _, b := range c.iov {
			c.wbuf = append(c.wbuf, b...)
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		_, err = c.nc.Write(c.wbuf)
		if cap(c.wbuf) > 64<<10 {
			c.wbuf = nil
		}
	}
	clear(c.iov)
	c.iov = c.iov[:0]
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeRawFD writes c.bufs with non-blocking writev calls, and a write deadline only once the
// socket is full.
func (c *Conn) writeRawFD() error {
	c.writeErr, c.waited = nil, false
	err := c.rc.Write(c.writevFn)
	if err == nil {
		err = c.writeErr
	}
	if c.waited && !c.isAborted() {
		c.nc.SetWriteDeadline(time.Time{})
	}
	return err
}

func (c *Conn) isAborted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aborted
}

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// writevSome writes what is left of c.bufs; false asks the poller to wait until the socket
// takes more (or the write deadline passes).
func (c *Conn) writevSome(fd uintptr) bool {
	for len(c.bufs) > 0 {
		c.iovecs = appendIovecs(c.iovecs[:0], c.bufs, maxIovecs)
		if len(c.iovecs) == 0 {
			break
		}
		n, err := writevIovecs(fd, c.iovecs)
		clear(c.iovecs)
		switch err {
		case nil:
			consume(&c.bufs, n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			if c.nowait {
				return true
			}
			if !c.waited {
				c.waited = true
				if !c.isAborted() {
					c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
				}
			}
			return false
		default:
			c.writeErr = err
			return true
		}
	}
	return true
}

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

// writeInline writes c.iov from the caller's goroutine, which holds the writer's role, with
// non-blocking writes. What the socket does not take waits in c.partial for a writer
// goroutine, so the caller never waits for the peer.
func (c *Conn) writeInline() {
	c.bufs = c.iov
	c.writeErr, c.waited, c.nowait = nil, false, true
	if err := c.rc.Write(c.writevFn); err != nil {
		c.writeErr = nil // the writer goroutine meets the same error and finishes
	}
	c.nowait = false
	broken, left := c.writeErr != nil, len(c.bufs) > 0
	if left && !broken {
		c.partial = append(c.partial[:0], c.bufs...)
	}
	c.bufs = nil
	clear(c.iov)
	c.iov = c.iov[:0]
	switch {
	case broken:
		c.finish()
		return
	case left:
		go c.writeLoopFn()
		return
	}
	c.mu.Lock()
	more := len(c.queue) > 0 || len(c.pongs) > 0 || c.needPing || c.closing
	if !more {
		c.writing = false
	}
	c.mu.Unlock()
	if more {
		go c.writeLoopFn()
	}
}

// writeQueued writes what is queued from the caller's goroutine, which an Outbox made the
// connection's writer: the frames its reader's burst queued go out in one non-blocking write.
// Anything else (a PING, PONGs, a close, what an earlier write left), or a socket without raw
// access, is the writer goroutine's.
func (c *Conn) writeQueued() {
	c.mu.Lock()
	c.heldBy = nil
	if c.rc == nil || len(c.partial) > 0 || len(c.queue) == 0 || len(c.pongs) > 0 || c.needPing || c.closing {
		c.mu.Unlock()
		go c.writeLoopFn()
		return
	}
	c.takeLocked()
	c.mu.Unlock()
	c.frameIovecs(false)
	clear(c.batch)
	c.writeInline()
}
