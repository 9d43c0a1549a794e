package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/transport/internal/keepalive"
	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

var (
	// ErrQueueFull: the peer does not read fast enough; the outbound queue is at its bound.
	ErrQueueFull = peer.ErrQueueFull
	// ErrClosed: the connection is closing or closed.
	ErrClosed = peer.ErrClosed
)

// Close codes used by Pawl beyond the standard ones.
const (
	CloseNormal        = websocket.CloseNormalClosure
	CloseGoingAway     = websocket.CloseGoingAway
	CloseProtocolError = websocket.CloseProtocolError
	// CloseInvalidPayload: a text message (or close reason) that is not UTF-8.
	CloseInvalidPayload = websocket.CloseInvalidFramePayloadData
	CloseMessageTooBig  = websocket.CloseMessageTooBig
	ClosePolicy         = websocket.ClosePolicyViolation
	CloseInternalError  = websocket.CloseInternalServerErr
	// CloseTryAgainLater is sent to a peer cut off because its outbound queue overflowed.
	CloseTryAgainLater = websocket.CloseTryAgainLater
)

// closeGrace is how long the writer waits for the peer to answer a close frame.
const closeGrace = 2 * time.Second

// abortWriteGrace is how long a write in progress may still take once a peer is cut off.
const abortWriteGrace = 500 * time.Millisecond

// Conn is one WebSocket connection carrying whole messages. Reads happen on the goroutine that
// owns the connection (the HTTP handler's, or the client's reader). Send only queues: a writer
// goroutine, started when there is something to write and gone when the queue is empty, writes
// the queue out, so a sender never blocks on a slow peer and an idle connection holds no
// writer. SendNow writes at once from the sender's goroutine when the connection is idle, with
// a non-blocking write. Keepalive pings come from a wheel shared by all connections
// (keepalive.go), not a timer or a goroutine per connection.
type Conn struct {
	nc          net.Conn
	clientAddr  net.Addr        // the client's address when it differs from nc's (a trusted proxy forwarded it)
	ws          *websocket.Conn // client side: gorilla reads and writes (masked) frames
	fr          *frameReader    // server side: frames are read here and written raw
	opts        *Options        // shared by every connection a server accepted with the same options
	subprotocol string
	request     *http.Request
	deflate     *DeflateOptions // server side: permessage-deflate was negotiated
	unread      *[][]byte       // batched subprotocols: the rest of a batch Read has split, returned first

	mu        sync.Mutex
	queue     [][]byte
	queued    int           // bytes in queue
	kinds     []bool        // each queued frame's type (true: binary) once SendMessage was used; else nil
	comp      []bool        // with deflate: whether each queued frame is compressed (and framed)
	lastWrite int64         // with a write delay: when the writer last took events only (Unix ns)
	pongs     [][]byte      // pongs to send, one per ping of the peer, in order
	closeWith *closeInfo    // the close codes and reasons, once either side closes
	space     chan struct{} // signaled when the writer has emptied the queue; made for SendWait

	// ka is the connection's place in its keepalive wheel (keepalive.go), with keepalive on.
	ka keepalive.Entry

	// writeLoopFn is c.writeLoop, made once: "go c.writeLoopFn()" would allocate a closure
	// each time a writer starts, i.e. per delivery to a quiet subscriber.
	writeLoopFn func()

	// Made on first use (most connections never wait for them), under mu.
	readDone   sockio.Signal // fires when the owner stopped reading (Done)
	writerDone sockio.Signal // fires when the socket is closed and no writer runs

	delay *delayShard // with Options.WriteDelay: queued frames wait for its tick

	// wr is the writer's state, made when a writer first takes the role (holdWriterLocked)
	// and let go each time the reader parks with no writer running (park.go): it belongs to
	// whoever holds the writer's role (c.writing), a writer goroutine or an inline write
	// (SendNow, an Outbox flush). Set and cleared under mu.
	wr *connWriter

	out sockio.Outbox // the reader's: connections its messages gave something to write

	// deadlineSet is when the keepalive read deadline was last moved (Unix ns), owner only.
	deadlineSet int64

	// An idle reader parks (park.go). parks enables it; parkAtOnce, parking and resume are
	// the owner's; parked, parkToken and nextPing are guarded by mu.
	resume    func()        // what ReadOrPark's caller resumes with, while parked
	active    *atomic.Int64 // the Server's count of connections, released by served
	nextPing  int64         // when the keepalive wheel next pings (Unix ns)
	parkToken uint32

	// Flags, together so that an idle connection carries no padding between them.
	server       bool  // frames are written raw (unmasked) by the writer, not through gorilla
	framing      uint8 // server side: how a batched subprotocol wraps messages
	binary       bool  // the subprotocol's frames are binary
	writing      bool  // a writer goroutine (or SendNow's inline write) is running (mu)
	delayed      bool  // waiting in a delay shard for its tick (mu)
	urgent       bool  // a one-to-one reply is queued: no write delay (mu)
	needPing     bool  // the keepalive wheel asks for a ping (mu)
	closing      bool  // Close called: drain, then send the close frame (mu)
	aborted      bool  // Abort called: drop the queue (mu)
	finished     bool  // the socket is closed (mu)
	readStopped  bool  // Done was called (mu)
	socketClosed bool  // finish closed the socket (mu)
	parks        bool  // the reader may park once idle for idleAfter()
	parked       bool  // the socket is watched by idlewait: no goroutine reads (mu)
	parkAtOnce   bool  // the next wait at a message boundary parks without waiting
	parking      bool  // awaitData waits at a message boundary and will park at the deadline
}

// connWriter is what only the holder of a connection's writer role uses: the socket writer
// and its scratch. An idle connection holds none (Conn.wr).
type connWriter struct {
	// w writes what the writer lays out in iov, straight on the socket on plain TCP.
	w         sockio.Writer
	batch     [][]byte // what the writer took from queue
	kindBatch []bool   // the batch's frame types
	compBatch []bool   // the batch's compression flags
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
		if c.server {
			// Frames written raw on the socket, and what an outbox held written inline.
			wr.w.Init(c.nc, c.fr.RawConn(), c.opts.WriteTimeout, c.writeQueued)
		} else {
			wr.w.Init(c.nc, nil, c.opts.WriteTimeout, nil) // through gorilla
		}
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

// newServerConn serves an upgraded connection. Gorilla's connection is not kept: its buffers
// would stay with every idle connection, and the server reads and writes frames itself.
func newServerConn(ws *websocket.Conn, opts *Options, r *http.Request, d *delayer) *Conn {
	sub := ws.Subprotocol()
	if i := slices.Index(opts.Subprotocols, sub); i >= 0 {
		sub = opts.Subprotocols[i] // the server's copy: the request's headers are let go
	}
	return newServerConnOn(ws.NetConn(), sub, opts, r, d)
}

// newServerConnOn serves a socket on which the WebSocket handshake is done.
func newServerConnOn(nc net.Conn, subprotocol string, opts *Options, r *http.Request, d *delayer) *Conn {
	c := newConnStateShared(nc, subprotocol, opts, r)
	c.server = true
	c.framing = framingOf(subprotocolInfo(subprotocol))
	if d != nil {
		c.delay = d.shard()
	}
	c.fr = newFrameReader(nc, opts.ReadBufferSize, &c.out)
	if opts.PingInterval > 0 {
		c.fr.progress = c.extendReadDeadlineSoon
	}
	c.startKeepalive()
	return c
}

// newClientConn wraps a dialed connection: gorilla reads and writes its frames.
func newClientConn(ws *websocket.Conn, opts Options) *Conn {
	c := newConnState(ws.NetConn(), ws.Subprotocol(), opts, nil)
	c.ws = ws
	c.space = make(chan struct{}, 1) // SendWait, which clients use, waits on it
	// No read limit in gorilla: Read enforces MaxMessageSize itself, the same on both sides.
	if opts.PingInterval > 0 {
		ws.SetPongHandler(func(string) error { c.extendReadDeadline(); return nil })
	}
	ws.SetCloseHandler(func(code int, text string) error {
		c.peerClosed(code, text)
		return nil
	})
	c.startKeepalive()
	return c
}

func newConnState(nc net.Conn, subprotocol string, opts Options, r *http.Request) *Conn {
	return newConnStateShared(nc, subprotocol, &opts, r)
}

// newConnStateShared is newConnState with options shared with other connections (a server's):
// an idle connection then holds a pointer rather than its own copy of them.
func newConnStateShared(nc net.Conn, subprotocol string, opts *Options, r *http.Request) *Conn {
	c := &Conn{
		nc:          nc,
		opts:        opts,
		subprotocol: subprotocol,
		binary:      subprotocolInfo(subprotocol).binary,
		request:     r,
	}
	c.writeLoopFn = c.writeLoop
	return c
}

func (c *Conn) startKeepalive() {
	if c.opts.PingInterval > 0 {
		c.extendReadDeadline()
		c.mu.Lock() // pingDue reads nextPing under the lock
		c.nextPing = time.Now().Add(c.opts.PingInterval).UnixNano()
		c.keepalive().Schedule((*keepaliveSide)(c), c.nextPing)
		c.mu.Unlock()
	}
}

// peerClosed records the peer's close frame and answers it through the queue, so frames
// already queued go first.
func (c *Conn) peerClosed(code int, text string) {
	c.mu.Lock()
	ci := c.closeInfoLocked()
	ci.peerCode, ci.peerText = code, text
	c.mu.Unlock()
	c.Close(CloseNormal, "")
}

// maxPendingPongs bounds the pongs waiting for the writer. RFC 6455 (section 5.5.3) lets an
// endpoint answer only the most recent of pings it has not answered yet; past this bound the
// oldest pending pong is dropped, so a peer that pings without reading holds little.
const maxPendingPongs = 32

// queuePong asks the writer to answer the peer's ping: every ping gets its own pong, in order.
func (c *Conn) queuePong(data []byte) {
	if data == nil {
		data = []byte{}
	}
	c.mu.Lock()
	if len(c.pongs) == maxPendingPongs {
		copy(c.pongs, c.pongs[1:])
		c.pongs = c.pongs[:len(c.pongs)-1]
	}
	c.pongs = append(c.pongs, data)
	c.mu.Unlock()
	c.kick()
}

// extendReadDeadline gives the peer another PingInterval+PongTimeout (with keepalive on). A
// reader that may park waits idleAfter instead (readDeadlinePassed then decides).
func (c *Conn) extendReadDeadline() {
	if c.opts.PingInterval <= 0 && !c.parks {
		return
	}
	now := time.Now()
	c.deadlineSet = now.UnixNano()
	if c.parks {
		c.nc.SetReadDeadline(now.Add(c.idleAfter()))
		return
	}
	c.nc.SetReadDeadline(now.Add(c.opts.PingInterval + c.opts.PongTimeout))
}

// extendReadDeadlineSoon extends the deadline while a message is still arriving (each
// fragment, each read of a long frame), at most once per eighth of the deadline: a peer
// whose bytes keep flowing is alive, however long its message, and a message in many tiny
// fragments does not reset a timer for each.
func (c *Conn) extendReadDeadlineSoon() {
	if c.opts.PingInterval <= 0 {
		return
	}
	if time.Now().UnixNano()-c.deadlineSet >= int64(c.opts.PingInterval+c.opts.PongTimeout)/8 {
		c.extendReadDeadline()
	}
}

// pingDue runs on the keepalive wheel: it asks the writer for a ping and schedules the next.
// While the reader is parked (no read deadline runs) it also wakes the reader once the peer
// has been silent past the keepalive's end, which ends the connection as a read deadline
// would.
func (c *Conn) pingDue() {
	c.mu.Lock()
	if c.finished || c.closing {
		c.mu.Unlock()
		return
	}
	now := time.Now().UnixNano()
	ping := now >= c.nextPing-int64(time.Millisecond)
	if ping {
		c.needPing = true
		c.nextPing = now + int64(c.opts.PingInterval)
	}
	next, wake := c.nextPing, false
	if c.parked {
		if end := c.keepaliveEnd(); end <= now {
			wake = c.unwatchLocked()
		} else {
			next = min(next, end)
		}
	}
	c.keepalive().Schedule((*keepaliveSide)(c), next)
	c.mu.Unlock()
	if wake {
		go c.resumed()
	}
	if ping {
		c.kick()
	}
}

// Subprotocol is the negotiated WebSocket subprotocol.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Serializer is the name of the serializer the negotiated subprotocol carries ("json" for
// wamp.2.json), or "" for a subprotocol not registered with RegisterSubprotocol.
func (c *Conn) Serializer() string { return subprotocolInfo(c.subprotocol).serializer }

// Details describe the connection for authentication and the meta API: the upgrade request
// (until DropRequest), the peer's address, the TLS state and the extensions negotiated.
func (c *Conn) Details() peer.Details {
	d := peer.Details{Transport: "websocket", Protocol: c.subprotocol, RemoteAddr: c.RemoteAddr(),
		TLS: c.TLSState(), Request: c.Request()}
	if c.Deflated() {
		d.Extensions = deflateExtension
	}
	return d
}

// Request is the HTTP upgrade request (server side), for headers, cookies and query parameters.
func (c *Conn) Request() *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.request
}

// DropRequest lets go of the upgrade request once nothing needs it any more (a WAMP session
// after authentication): an idle connection then holds no parsed headers.
func (c *Conn) DropRequest() {
	c.mu.Lock()
	c.request = nil
	c.mu.Unlock()
}

// RemoteAddr is the peer's network address: the client's, as a trusted proxy in front
// forwarded it (Options.TrustedProxies), or else the socket's peer.
func (c *Conn) RemoteAddr() net.Addr {
	if c.clientAddr != nil {
		return c.clientAddr
	}
	return c.nc.RemoteAddr()
}

// PeerClose returns the close code and reason the peer sent, or 0 when it sent none.
func (c *Conn) PeerClose() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeWith == nil {
		return 0, ""
	}
	return c.closeWith.peerCode, c.closeWith.peerText
}

// Read returns the next whole message. The returned slice is the caller's to keep.
// Only the connection's owner goroutine may call it.
func (c *Conn) Read() ([]byte, error) { return c.readNext(false) }

// readNext is Read, parking (errParked) when park allows it (ReadOrPark).
func (c *Conn) readNext(park bool) ([]byte, error) {
	if c.unread != nil && len(*c.unread) > 0 {
		data := (*c.unread)[0]
		(*c.unread)[0] = nil
		*c.unread = (*c.unread)[1:]
		return data, nil
	}
	for {
		if err := c.awaitData(park); err != nil {
			return nil, err
		}
		_, data, err := c.read()
		if err == errNoMessage {
			continue
		}
		if err != nil || c.framing == framingNone {
			return data, err
		}
		// A batched subprotocol: the WebSocket message carries one or more WAMP messages.
		if c.unread == nil {
			c.unread = new([][]byte)
		}
		msgs, err := splitBatch((*c.unread)[:0], data, c.framing)
		if err != nil {
			return nil, c.readFailed(CloseProtocolError, "malformed batch of WAMP messages")
		}
		*c.unread = msgs[1:]
		return msgs[0], nil
	}
}

// read returns the next whole message and whether it came in a binary frame.
func (c *Conn) read() (binary bool, data []byte, err error) {
	if c.fr != nil {
		return c.readFrames()
	}
	kind, r, err := c.ws.NextReader()
	if err != nil {
		return false, nil, err
	}
	// Read at most one byte past the limit: an oversized message never sits in memory whole.
	data, err = io.ReadAll(io.LimitReader(r, c.opts.MaxMessageSize+1))
	if err != nil {
		return false, nil, err
	}
	if int64(len(data)) > c.opts.MaxMessageSize {
		return false, nil, c.tooBig()
	}
	c.extendReadDeadline()
	return kind == websocket.BinaryMessage, data, nil
}

// Send queues one encoded message without blocking. The slice must not change afterwards: one
// frame is shared by every recipient. It fails with ErrQueueFull when the peer is too slow;
// the caller decides what that means (the session layer cuts the peer off).
func (c *Conn) Send(frame []byte) error {
	return c.enqueue(frame, sendOptions{binary: c.binary})
}

// compress returns what to queue for frame: with permessage-deflate and a frame of at least
// MinSize, the frame wrapped by the batched framing (if any) and compressed — once for all
// recipients when shared (a fan-out frame), else for this connection only.
func (c *Conn) compress(frame []byte, shared bool) ([]byte, bool) {
	if c.deflate == nil || len(frame) < c.deflate.MinSize {
		return frame, false
	}
	if shared {
		return compressedFrame(frame, c.framing, c.deflate.Level), true
	}
	return compressFramed(frame, c.framing, c.deflate.Level), true
}

// sendOptions say how enqueue treats a frame.
type sendOptions struct {
	binary bool // a binary frame, else text
	mixed  bool // the connection carries both kinds: each frame's kind is recorded
	urgent bool // a one-to-one reply: not held for a write delay
	shared bool // a fan-out frame: compressed once for every recipient
	out    *sockio.Outbox
}

// enqueue queues one frame. A writer that should start now is left to o.out, when not nil, to
// start once its reader is done.
func (c *Conn) enqueue(frame []byte, o sendOptions) error {
	binary, mixed, out := o.binary, o.mixed, o.out
	frame, compressed := c.compress(frame, o.shared)
	c.mu.Lock()
	if c.closing || c.aborted {
		c.mu.Unlock()
		return ErrClosed
	}
	// An empty queue admits one frame of any size: a frame larger than QueueBytes (an event
	// grown past it by its recipient's codec, e.g. binary as base64 for JSON) is no sign of a
	// slow consumer. Its size is bounded by the largest message the router accepts.
	if len(c.queue) >= c.opts.QueueMessages || c.queued+len(frame) > c.opts.QueueBytes && len(c.queue) > 0 {
		c.mu.Unlock()
		return ErrQueueFull
	}
	if mixed && c.kinds == nil {
		c.kinds = make([]bool, len(c.queue), len(c.queue)+1)
		for i := range c.kinds {
			c.kinds[i] = c.binary
		}
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	if o.urgent {
		c.urgent = true
	}
	if c.kinds != nil {
		c.kinds = append(c.kinds, binary)
	}
	if c.deflate != nil {
		c.comp = append(c.comp, compressed)
	}
	now, later := c.scheduleLocked()
	if now && out != nil {
		c.wr.w.HeldBy = out
		c.mu.Unlock()
		out.Hold(&c.wr.w, o.urgent)
		return nil
	}
	held := c.heldByLocked()
	if out != nil && (held != nil && held != out || held == nil && c.writing) {
		// Another reader's outbox holds the writer, or a write is under way: this frame
		// joins a write that other readers feed too.
		c.wr.w.Joined()
	}
	// A queue held back by this outbox must not fill up while it waits for its reader:
	// half full, the outbox is written now.
	full := out != nil && held == out && (2*len(c.queue) >= c.opts.QueueMessages || 2*c.queued >= c.opts.QueueBytes)
	c.mu.Unlock()
	c.startWriter(now, later)
	if full {
		out.Flush()
	}
	return nil
}

// scheduleLocked decides how queued frames get written: by a writer started now, or (with a
// write delay) by one started at the next tick. Caller holds c.mu.
func (c *Conn) scheduleLocked() (now, later bool) {
	if c.writing || c.finished {
		return false, false
	}
	if c.delay == nil || c.urgent {
		c.holdWriterLocked()
		return true, false
	}
	if c.delayed {
		return false, false // the tick will come
	}
	if time.Now().UnixNano()-c.lastWrite >= int64(c.opts.WriteDelay) {
		c.holdWriterLocked() // quiet for a while: nothing to wait for
		return true, false
	}
	c.delayed = true
	return false, true
}

func (c *Conn) startWriter(now, later bool) {
	switch {
	case now:
		go c.writeLoopFn()
	case later:
		c.delay.add(c)
	}
}

// tick starts the writer of a connection whose write delay is over (unless one runs).
func (c *Conn) tick() {
	c.mu.Lock()
	c.delayed = false
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.writeLoop()
	}
}

// SendMessage queues one message like Send, as a binary (true) or text frame whatever the
// subprotocol says: for connections that mix both (the plain WebSocket component API).
func (c *Conn) SendMessage(frame []byte, binary bool) error {
	return c.enqueue(frame, sendOptions{binary: binary, mixed: true})
}

// SendWait queues one message like Send, but waits for room while the queue is full: for
// clients, which would rather slow down than fail.
func (c *Conn) SendWait(ctx context.Context, frame []byte) error {
	for {
		err := c.Send(frame)
		if !errors.Is(err, ErrQueueFull) {
			return err
		}
		space, made := c.spaceSignal()
		if made {
			continue // the writer may have emptied the queue before it could signal
		}
		select {
		case <-space:
		case <-c.WriterDone():
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// spaceSignal returns the channel the writer signals once it has emptied the queue, made on
// first use (a server's connections rarely wait for room): made reports that it was just made.
func (c *Conn) spaceSignal() (space chan struct{}, made bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.space == nil {
		c.space, made = make(chan struct{}, 1), true
	}
	return c.space, made
}

// Queued returns the number of messages and bytes waiting to be written.
func (c *Conn) Queued() (messages, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue), c.queued
}

// hasWorkLocked reports whether a writer has something to do. Caller holds c.mu.
func (c *Conn) hasWorkLocked() bool {
	return len(c.queue) > 0 || len(c.pongs) > 0 || c.needPing || c.closing
}

// startWriterLocked reports whether the caller must start a writer (and records that one
// runs). Caller holds c.mu.
func (c *Conn) startWriterLocked() bool {
	if c.writing || c.finished {
		return false
	}
	c.holdWriterLocked()
	return true
}

// kick starts a writer unless one runs: it will see whatever was just recorded.
func (c *Conn) kick() {
	c.mu.Lock()
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoopFn()
	}
}

// Close writes what is queued, then a close frame with code and reason, and closes the socket
// once the peer answers (or after a short grace period). It does not block.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if !c.closing && !c.aborted {
		c.closing = true
		ci := c.closeInfoLocked()
		ci.code, ci.text = code, truncateReason(reason)
	}
	c.mu.Unlock()
	c.kick()
}

// Abort drops whatever is queued and closes with code and reason right away: for a peer that
// is cut off, whose queue would never drain.
func (c *Conn) Abort(code int, reason string) {
	c.mu.Lock()
	if !c.aborted {
		c.aborted = true
		c.closing = true
		ci := c.closeInfoLocked()
		ci.code, ci.text = code, truncateReason(reason)
		c.queue, c.queued = nil, 0
		if c.kinds != nil {
			c.kinds = c.kinds[:0]
		}
		c.comp = c.comp[:0]
	}
	wr := c.writerLocked() // kept from now on: the connection is closing
	c.mu.Unlock()
	// Unblock a write stuck on a peer that does not read, so the cut takes effect now.
	wr.w.Abort(abortWriteGrace)
	c.kick()
}

// Done releases the connection: the owner calls it once it has stopped reading. It waits until
// the socket is closed, so that no goroutine outlives the connection.
func (c *Conn) Done() {
	c.out.Flush() // what the last messages read queued
	c.mu.Lock()
	if !c.readStopped {
		c.readStopped = true
		c.readDone.Fire()
	}
	c.mu.Unlock()
	c.Close(CloseGoingAway, "")
	<-c.WriterDone()
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

// closeInfo is how a connection is closed: kept apart from Conn, which an open connection
// would otherwise carry for nothing.
type closeInfo struct {
	code     int // sent in our close frame
	text     string
	peerCode int // the peer's close frame, when it sent one
	peerText string
}

// closeInfoLocked returns the connection's closeInfo, made on first use. Caller holds c.mu.
func (c *Conn) closeInfoLocked() *closeInfo {
	if c.closeWith == nil {
		c.closeWith = &closeInfo{}
	}
	return c.closeWith
}

// truncateReason keeps a close reason within the 123 bytes a close frame allows.
func truncateReason(s string) string {
	if len(s) > 123 {
		return s[:123]
	}
	return s
}

// writeLoop writes until the queue is empty, then exits; when closing, it sends the close
// frame, waits for the owner to stop reading (or the grace period), and closes the socket.
func (c *Conn) writeLoop() {
	if c.wr.w.Failed() {
		c.finish() // an inline write found the socket broken
		return
	}
	if len(c.wr.w.Partial) > 0 {
		// What an inline write left: it goes before anything queued after it.
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
		if w.ping {
			if err := c.writeControl(websocket.PingMessage, nil); err != nil {
				c.finish()
				return
			}
		}
		if w.pongs {
			if err := c.writePongs(); err != nil {
				c.finish()
				return
			}
		}
		var kinds []bool
		if w.mixed {
			kinds = c.wr.kindBatch
		}
		if err := c.writeFrames(c.wr.batch, kinds, w.binary); err != nil {
			// The socket is broken; closing it makes the owner's Read fail.
			c.finish()
			return
		}
		c.recycle(c.wr.batch)
		if w.closing {
			c.closeAndFinish()
			return
		}
		if c.delay != nil && c.deferRest() {
			return
		}
	}
}

// deferRest, with a write delay, leaves what queued up while writing to the next tick, so
// that it goes out together; it does not when something urgent waits (a ping, a pong, a
// close, a one-to-one reply).
func (c *Conn) deferRest() bool {
	c.mu.Lock()
	if len(c.pongs) > 0 || c.needPing || c.closing || len(c.queue) == 0 {
		c.mu.Unlock()
		return false
	}
	// Schedule what is queued as if it had just been sent: urgent frames, or a write that
	// took longer than the delay, keep this writer going.
	c.writing = false
	now, later := c.scheduleLocked()
	c.mu.Unlock()
	if later {
		c.delay.add(c)
	}
	return !now
}

// closeAndFinish sends the close frame, waits for the owner to stop reading (or the grace
// period), and closes the socket. Apart from writeLoop so that writeLoop's stack frame stays
// small (the writer's stack is pinned by TestWaitingWriterStack).
func (c *Conn) closeAndFinish() {
	c.mu.Lock()
	code, text := c.closeWith.code, c.closeWith.text
	c.mu.Unlock()
	c.writeControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text))
	if read := c.readStoppedSignal(); read != nil {
		select {
		case <-read:
		case <-time.After(closeGrace):
		}
	}
	c.finish()
}

// work is what one round of the writer has to do besides writing c.wr.batch.
type work struct {
	pongs               bool // c.wr.pongBatch holds pongs to write
	ping, binary, mixed bool // mixed: c.wr.kindBatch gives each frame's type
	closing, idle       bool
}

// take moves everything queued into the writer's batch (copying the frame pointers), so the
// queue keeps its backing array and a steady stream of messages allocates nothing. With
// nothing to do it marks the writer stopped (idle) under the same lock Send uses, so no frame
// is ever left without a writer, and lets go of arrays a burst made large.
func (c *Conn) take() work {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hasWorkLocked() {
		c.writing = false
		if cap(c.queue) > idleQueueCap {
			c.queue = nil
		}
		if cap(c.wr.batch) > idleQueueCap {
			c.wr.batch = nil
		}
		c.wr.w.Release(2 * idleQueueCap)
		return work{idle: true}
	}
	return c.takeLocked()
}

// takeLocked moves the queue into the writer's batch and returns what else there is to do.
// Caller holds c.mu and the writer's role.
func (c *Conn) takeLocked() work {
	c.wr.batch = append(c.wr.batch[:0], c.queue...)
	clear(c.queue)
	if c.delay != nil && !c.urgent {
		// The delay spaces writes of events: a write that carries a reply does not count,
		// or an event after it would wait although no event was written for a while.
		c.lastWrite = time.Now().UnixNano()
	}
	c.urgent = false
	w := work{pongs: len(c.pongs) > 0, ping: c.needPing, binary: c.binary, closing: c.closing}
	if w.pongs {
		c.wr.pongBatch = append(c.wr.pongBatch[:0], c.pongs...)
		clear(c.pongs)
		c.pongs = c.pongs[:0]
	}
	c.queue = c.queue[:0]
	c.queued = 0
	if c.kinds != nil {
		c.wr.kindBatch = append(c.wr.kindBatch[:0], c.kinds...)
		c.kinds = c.kinds[:0]
		w.mixed = true
	}
	if c.deflate != nil {
		c.wr.compBatch = append(c.wr.compBatch[:0], c.comp...)
		c.comp = c.comp[:0]
	}
	c.needPing = false
	select {
	case c.space <- struct{}{}:
	default:
	}
	return w
}

// idleQueueCap is the queue capacity an idle connection may keep; larger arrays are released.
const idleQueueCap = 512

// finish closes the socket and marks the connection finished. Only a writer calls it.
func (c *Conn) finish() {
	c.mu.Lock()
	c.finished = true
	c.writing = false
	if c.opts.PingInterval > 0 {
		c.keepalive().Unschedule((*keepaliveSide)(c))
	}
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

// recycle drops the written frames' references so they can be collected.
func (c *Conn) recycle(frames [][]byte) { clear(frames) }

// writeFrames writes queued messages. On the server side it writes the WebSocket frames
// itself: every queued frame goes out in one writev, and a frame shared by many recipients
// is never copied. Client frames must be masked (a copy per frame), so clients use gorilla.
// kinds, when not nil, gives each frame's type (true: binary); otherwise binary does.
func (c *Conn) writeFrames(frames [][]byte, kinds []bool, binary bool) error {
	if len(frames) == 0 {
		return nil
	}
	if !c.server {
		return c.writeFramesClient(frames, kinds, binary)
	}
	c.frameIovecs(frames, kinds, binary)
	return c.writeRaw()
}

// frameIovecs lays out frames for one writev in c.wr.iov: each frame's header, then the frame
// itself, never copied. A compressed frame (c.wr.compBatch) is a whole message with RSV1 set.
// With a batched subprotocol, a run of uncompressed frames goes out as one WebSocket message
// (up to maxBatchMessage), each frame wrapped as the subprotocol says: a burst of events
// reaches the peer in one message.
func (c *Conn) frameIovecs(frames [][]byte, kinds []bool, binary bool) {
	// Room for every header and length prefix, so that appending never moves the bytes the
	// views in c.wr.iov point into.
	if need := len(frames) * (maxFrameHeader + 4); cap(c.wr.headers) < need {
		c.wr.headers = make([]byte, 0, need)
	}
	c.wr.headers = c.wr.headers[:0]
	c.wr.iov = c.wr.iov[:0]
	var comp []bool
	if c.deflate != nil {
		comp = c.wr.compBatch
	}
	for i := 0; i < len(frames); {
		op := opcodeOf(kinds, i, binary)
		if comp != nil && comp[i] {
			c.wr.iov = append(c.wr.iov, c.header(op|rsv1, len(frames[i])), frames[i])
			i++
			continue
		}
		if c.framing == framingNone {
			c.wr.iov = append(c.wr.iov, c.header(op, len(frames[i])), frames[i])
			i++
			continue
		}
		j, total := i, 0
		for j < len(frames) && (comp == nil || !comp[j]) {
			n := framedLen(c.framing, len(frames[j]))
			if j > i && total+n > maxBatchMessage {
				break
			}
			total += n
			j++
		}
		c.wr.iov = append(c.wr.iov, c.header(op, total))
		for _, f := range frames[i:j] {
			switch c.framing {
			case framingPrefix:
				start := len(c.wr.headers)
				c.wr.headers = c.wr.headers[:start+4]
				putLength(c.wr.headers[start:], len(f))
				c.wr.iov = append(c.wr.iov, c.wr.headers[start:start+4:start+4], f)
			case framingSeparator:
				c.wr.iov = append(c.wr.iov, f, batchSeparator)
			}
		}
		i = j
	}
}

// rsv1 marks a compressed message's first frame (RFC 7692 section 6).
const rsv1 = 0x40

// maxFrameHeader is the longest header of a server frame.
const maxFrameHeader = 10

// header appends a frame header to c.wr.headers and returns a view of it.
func (c *Conn) header(opcode byte, n int) []byte {
	start := len(c.wr.headers)
	c.wr.headers = appendFrameHeader(c.wr.headers, opcode, n)
	return c.wr.headers[start:len(c.wr.headers):len(c.wr.headers)]
}

// writeFramesClient writes through gorilla, which masks client frames.
func (c *Conn) writeFramesClient(frames [][]byte, kinds []bool, binary bool) error {
	for i, f := range frames {
		c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		c.ws.EnableWriteCompression(len(f) >= c.opts.Deflate.MinSize) // only if negotiated
		if err := c.ws.WriteMessage(int(opcodeOf(kinds, i, binary)), f); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// opcodeOf is frame i's opcode: from kinds when the connection mixes text and binary.
func opcodeOf(kinds []bool, i int, binary bool) byte {
	if kinds != nil {
		binary = kinds[i]
	}
	if binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// writeRaw writes c.wr.iov (sockio.Writer.Write), waiting for the peer while its socket is
// full; c.wr.iov keeps its backing array for the next round.
func (c *Conn) writeRaw() error {
	err := c.wr.w.Write(c.wr.iov)
	clear(c.wr.iov)
	c.wr.iov = c.wr.iov[:0]
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeControl writes a ping, pong or close frame.
func (c *Conn) writeControl(kind int, payload []byte) error {
	if !c.server {
		return c.ws.WriteControl(kind, payload, time.Now().Add(c.opts.WriteTimeout))
	}
	c.wr.headers = appendFrameHeader(c.wr.headers[:0], byte(kind), len(payload))
	c.wr.iov = append(c.wr.iov[:0], c.wr.headers, payload)
	return c.writeRaw()
}

// writePongs writes the pongs the writer took, in order, in one write (server side; a
// client's pongs are gorilla's).
func (c *Conn) writePongs() error {
	c.wr.headers = c.wr.headers[:0]
	for _, p := range c.wr.pongBatch {
		c.wr.headers = appendFrameHeader(c.wr.headers, websocket.PongMessage, len(p))
	}
	c.wr.iov = c.wr.iov[:0]
	for i, p := range c.wr.pongBatch {
		c.wr.iov = append(c.wr.iov, c.wr.headers[2*i:2*i+2:2*i+2], p)
	}
	clear(c.wr.pongBatch)
	return c.writeRaw()
}

// appendFrameHeader appends an unmasked (server-to-client) WebSocket frame header: FIN, the
// opcode, and the payload length in 7, 16 or 64 bits.
func appendFrameHeader(dst []byte, opcode byte, n int) []byte {
	dst = append(dst, 0x80|opcode)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// Conn is a router session's connection (peer.Peer) and a client's (peer.Client).
var (
	_ peer.Peer           = (*Conn)(nil)
	_ peer.Client         = (*Conn)(nil)
	_ peer.RequestDropper = (*Conn)(nil)
)
