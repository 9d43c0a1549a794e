package rawsocket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/transport/internal/keepalive"
	"github.com/pawl-wamp/pawl/transport/internal/sockio"
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
// Outbox. Keepalive is a wheel shared by all connections (keepalive.go), not a timer or a
// goroutine per connection.
type Conn struct {
	nc         net.Conn
	opts       *Options // shared by the connections a server accepted with the same options
	serializer string
	peerMax    int // the largest message the peer accepts
	rd         *reader
	out        sockio.Outbox // the reader's: connections its messages gave something to write

	quiet atomic.Bool // nothing read since the keepalive wheel last looked

	mu        sync.Mutex
	queue     [][]byte
	queued    int      // bytes in queue
	pongs     [][]byte // PONG payloads to send, each answering a PING
	closeCode int
	closeText string
	space     chan struct{} // signaled when the writer has taken the queue; made for SendWait

	// ka is the connection's place in its keepalive wheel (keepalive.go), with keepalive on.
	ka keepalive.Entry

	// An idle reader parks (park.go). canPark, parkAtOnce and resume are the owner's;
	// parked and parkToken are guarded by mu.
	resume    func()        // what ReadOrPark's caller resumes with, while parked
	active    *atomic.Int64 // the Server's count of connections, released by served
	parkToken uint32

	writeLoopFn func() // c.writeLoop, made once so starting a writer allocates nothing

	// Made on first use (most connections never wait for them), under mu.
	readDone   sockio.Signal // fires when the owner stopped reading (Done)
	writerDone sockio.Signal // fires when the socket is closed and no writer runs

	// wr is the writer's state, made when a writer first takes the role (holdWriterLocked)
	// and let go each time the reader parks with no writer running (park.go): it belongs to
	// whoever holds the writer's role (c.writing), a writer goroutine or an inline write.
	// Set and cleared under mu.
	wr *connWriter

	// Flags, together so that an idle connection carries no padding between them.
	server       bool // the router's end: its reader batches writes in out
	needPing     bool // (mu)
	awaiting     bool // a PING is out, unanswered (mu)
	writing      bool // a writer (goroutine or inline write) holds the writer's role (mu)
	closing      bool // (mu)
	aborted      bool // (mu)
	finished     bool // (mu)
	readStopped  bool // Done was called (mu)
	socketClosed bool // finish closed the socket (mu)
	parked       bool // the socket is watched by idlewait: no goroutine reads (mu)
	canPark      bool
	parkAtOnce   bool // the next wait at a message boundary parks without waiting
}

// connWriter is what only the holder of a connection's writer role uses: the socket writer
// (straight on the socket on plain sockets) and its scratch. An idle connection holds none.
type connWriter struct {
	w         sockio.Writer
	batch     [][]byte // what the writer took from queue
	pongBatch [][]byte // what the writer took from pongs
	headers   []byte   // scratch for frame headers
	iov       [][]byte // scratch for writev
}

// holdWriterLocked takes the writer's role for the caller, making the writer's state if the
// connection holds none. Caller holds c.mu, and c.writing was false.
func (c *Conn) holdWriterLocked() {
	c.writing = true
	c.writerLocked()
}

// writerLocked returns the writer's state, made on first use. Caller holds c.mu.
func (c *Conn) writerLocked() *connWriter {
	if c.wr == nil {
		wr := &connWriter{}
		wr.w.Init(c.nc, c.rd.RawConn(), c.opts.WriteTimeout, c.writeQueued)
		c.wr = wr
	}
	return c.wr
}

// heldByLocked is the outbox that holds the writer's role, or nil. Caller holds c.mu.
func (c *Conn) heldByLocked() *sockio.Outbox {
	if c.wr == nil {
		return nil
	}
	return c.wr.w.HeldBy
}

// newConn wraps a socket whose handshake is done. server says which end it is (for the
// outbox: only a router's reader batches fan-out).
func newConn(nc net.Conn, serializer string, peerMax int, opts *Options, server bool) *Conn {
	c := &Conn{
		nc:         nc,
		opts:       opts,
		serializer: serializer,
		peerMax:    peerMax,
	}
	c.writeLoopFn = c.writeLoop
	rc := sockio.RawConnOf(nc)
	var out *sockio.Outbox
	if server {
		c.server = true
		out = &c.out
	} else {
		c.space = make(chan struct{}, 1) // SendWait, which clients use, waits on it
	}
	c.rd = newReader(nc, rc, opts.ReadBufferSize, opts.MaxMessageSize, out)
	if opts.PingInterval > 0 {
		c.mu.Lock()
		c.keepalive().Schedule((*keepaliveSide)(c), time.Now().Add(opts.PingInterval).UnixNano())
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
		if c.rd.Pending() == 0 {
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
		if c.canPark && c.rd.Pending() == 0 {
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

// keepaliveDue runs on the keepalive wheel. A connection that read something since the last
// look is alive; a quiet one is sent a PING, and if it stays quiet for PongTimeout more (no
// PONG, nothing else) it is cut off.
func (c *Conn) keepaliveDue(now int64) {
	c.mu.Lock()
	if c.finished || c.closing {
		c.mu.Unlock()
		return
	}
	if !c.quiet.Swap(true) {
		c.awaiting = false
		c.keepalive().Schedule((*keepaliveSide)(c), now+int64(c.opts.PingInterval))
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
	c.keepalive().Schedule((*keepaliveSide)(c), now+int64(c.opts.PongTimeout))
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
	if c.rd.RawConn() == nil || c.closing || c.writing || c.finished || len(c.queue) > 0 || len(frame) > c.peerMax {
		c.mu.Unlock()
		return c.enqueue(frame, nil, true)
	}
	c.holdWriterLocked()
	c.mu.Unlock()
	c.wr.headers = appendHeader(c.wr.headers[:0], frameRegular, len(frame))
	c.wr.iov = append(c.wr.iov[:0], c.wr.headers, frame)
	c.writeInline()
	return nil
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
func (c *Conn) Send(frame []byte) error { return c.enqueue(frame, nil, true) }

// SendWait queues one frame, waiting for room while the queue is full (peer.Client).
func (c *Conn) SendWait(ctx context.Context, frame []byte) error {
	for {
		err := c.enqueue(frame, nil, true)
		if !errors.Is(err, peer.ErrQueueFull) {
			return err
		}
		space, made := c.spaceSignal()
		if made {
			continue // the writer may have taken the queue before it could signal
		}
		select {
		case <-space:
		case <-c.WriterDone():
			return peer.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enqueue queues one frame. A writer that should start now is left to out, when not nil.
func (c *Conn) enqueue(frame []byte, out *sockio.Outbox, reply bool) error {
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
		c.wr.w.HeldBy = out
		c.mu.Unlock()
		out.Hold(&c.wr.w, reply)
		return nil
	}
	held := c.heldByLocked()
	if out != nil && (held != nil && held != out || held == nil && c.writing) {
		// Another reader's outbox holds the writer, or a write is under way: this frame
		// joins a write that other readers feed too.
		c.wr.w.Joined()
	}
	// A queue held back by this outbox must not fill up while it waits: half full, the
	// outbox is written now.
	full := out != nil && held == out && (2*len(c.queue) >= c.opts.QueueMessages || 2*c.queued >= c.opts.QueueBytes)
	c.mu.Unlock()
	if start {
		go c.writeLoopFn()
	}
	if full {
		out.Flush()
	}
	return nil
}

// startWriterLocked reports whether the caller must start a writer, and records that one
// runs. Caller holds c.mu.
func (c *Conn) startWriterLocked() bool {
	if c.writing || c.finished {
		return false
	}
	c.holdWriterLocked()
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
	wr := c.writerLocked() // kept from now on: the connection is closing
	c.mu.Unlock()
	// Unblock a write stuck on a peer that does not read, so the cut takes effect now.
	wr.w.Abort(abortWriteGrace)
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
	c.out.Flush()
	c.mu.Lock()
	if !c.readStopped {
		c.readStopped = true
		c.readDone.Fire()
	}
	c.mu.Unlock()
	c.Close(peer.CloseGoingAway, "")
	<-c.WriterDone()
	c.rd.Release()
}

// WriterDone is closed when the connection is finished: socket closed, no writer running.
func (c *Conn) WriterDone() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writerDone.Wait(c.socketClosed)
}

// readStoppedSignal is closed once the owner stopped reading (Done); nil when it has.
func (c *Conn) readStoppedSignal() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readStopped {
		return nil
	}
	return c.readDone.Wait(false)
}

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
		if cap(c.wr.batch) > idleQueueCap {
			c.wr.batch = nil
		}
		return work{idle: true}
	}
	return c.takeLocked()
}

// takeLocked moves the queue into the writer's batch. Caller holds c.mu and the writer's role.
func (c *Conn) takeLocked() work {
	c.wr.batch = append(c.wr.batch[:0], c.queue...)
	clear(c.queue)
	c.queue, c.queued = c.queue[:0], 0
	c.wr.pongBatch = append(c.wr.pongBatch[:0], c.pongs...)
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
	if c.wr.w.Failed() {
		c.finish() // an inline write found the socket broken
		return
	}
	if len(c.wr.w.Partial) > 0 {
		// What an inline write left goes before anything queued after it.
		c.wr.iov = c.wr.w.TakePartial(c.wr.iov[:0])
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
			clear(c.wr.batch)
			clear(c.wr.pongBatch)
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

// frameIovecs lays out one round for one writev in c.wr.iov: a PING, the PONGs, then the queued
// frames, each behind its header; the frames themselves are never copied.
func (c *Conn) frameIovecs(ping bool) {
	c.wr.headers = c.wr.headers[:0]
	c.wr.iov = c.wr.iov[:0]
	add := func(typ byte, p []byte) {
		start := len(c.wr.headers)
		c.wr.headers = appendHeader(c.wr.headers, typ, len(p))
		c.wr.iov = append(c.wr.iov, c.wr.headers[start:len(c.wr.headers):len(c.wr.headers)], p)
	}
	if ping {
		add(framePing, nil)
	}
	for _, p := range c.wr.pongBatch {
		add(framePong, p)
	}
	for _, f := range c.wr.batch {
		add(frameRegular, f)
	}
	// c.wr.headers may have moved while growing: rebuild the header views.
	for i := 0; i < len(c.wr.iov); i += 2 {
		c.wr.iov[i] = c.wr.headers[2*i : 2*i+headerSize : 2*i+headerSize]
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
		if read := c.readStoppedSignal(); read != nil {
			t := time.NewTimer(closeGrace)
			select {
			case <-read:
			case <-t.C:
			}
			t.Stop()
		}
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
	if c.opts.PingInterval > 0 {
		c.keepalive().Unschedule((*keepaliveSide)(c))
	}
	c.queue, c.queued, c.pongs = nil, 0, nil
	wake := c.unwatchLocked() // before the socket closes: its number may be reused
	c.mu.Unlock()
	c.nc.Close()
	c.mu.Lock()
	c.socketClosed = true
	c.writerDone.Fire()
	c.mu.Unlock()
	if wake {
		go c.resumed() // a parked reader: reading fails, and its session ends
	}
}

// writeRaw writes c.wr.iov (sockio.Writer.Write), waiting for the peer while its socket is full:
// straight on the socket with writev on plain sockets, else in one write (a TLS record per
// write, not per frame).
func (c *Conn) writeRaw() error {
	err := c.wr.w.Write(c.wr.iov)
	clear(c.wr.iov)
	c.wr.iov = c.wr.iov[:0]
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeQueued writes what is queued from the caller's goroutine, which an Outbox made the
// connection's writer: the frames its reader's burst queued go out in one non-blocking write.
// Anything else (a PING, PONGs, a close, what an earlier write left), or a socket without raw
// access, is the writer goroutine's.
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
	return c.wr.w.Inline() && len(c.wr.w.Partial) == 0 && len(c.queue) > 0 && len(c.pongs) == 0 && !c.needPing && !c.closing
}

// takeInlineLocked takes the queue and lays it out in c.wr.iov; it unlocks c.mu.
func (c *Conn) takeInlineLocked() {
	c.takeLocked()
	c.mu.Unlock()
	c.frameIovecs(false)
	clear(c.wr.batch)
}

// writeInline writes c.wr.iov from the caller's goroutine, which holds the writer's role, with
// non-blocking writes, then what was queued meanwhile (sockio.Writer.WriteInline). What the
// socket does not take waits for a writer goroutine, so the caller never waits for the peer.
func (c *Conn) writeInline() { c.wr.w.WriteInline(c.wr.iov, (*inlineSide)(c)) }

// inlineSide is the connection as its inline writer sees it (sockio.InlineConn).
type inlineSide Conn

func (s *inlineSide) NextInline(more bool) ([][]byte, bool) {
	c := (*Conn)(s)
	c.mu.Lock()
	switch {
	case len(c.queue) == 0 && len(c.pongs) == 0 && !c.needPing && !c.closing:
		c.writing = false
		c.mu.Unlock()
		return nil, true
	case more && c.inlineLocked():
		c.takeInlineLocked()
		return c.wr.iov, false
	}
	c.mu.Unlock()
	return nil, false
}

func (s *inlineSide) StartWriter() { go s.writeLoopFn() }
