package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/pawl-wamp/pawl/session/peer"
)

// Options configure an in-memory connection. The zero value is usable.
type Options struct {
	// Serializer names the codec both ends speak (default "json").
	Serializer string
	// QueueMessages bounds each direction's queue in messages (default 4096).
	QueueMessages int
	// QueueBytes bounds each direction's queue in bytes (default 16 MiB).
	QueueBytes int
	// Value travels with the connection to both ends (Conn.Value): what its creator knows of
	// the client (an in-process client's identity). Only code holding an end can set it, so
	// a router may trust it as no remote peer can forge it.
	Value any
}

// Defaults of zero Options fields, as the WebSocket transport's.
const (
	DefaultQueueMessages = 4096
	DefaultQueueBytes    = 16 << 20
)

// Pipe returns the two ends of a new in-memory connection: the router's and the client's.
func Pipe(opts Options) (router, client *Conn) {
	if opts.Serializer == "" {
		opts.Serializer = "json"
	}
	if opts.QueueMessages <= 0 {
		opts.QueueMessages = DefaultQueueMessages
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	p := &pipe{opts: opts, done: make(chan struct{})}
	for i := range p.dirs {
		p.dirs[i].ready = make(chan struct{}, 1)
		p.dirs[i].space = make(chan struct{}, 1)
	}
	router = &Conn{p: p, in: &p.dirs[0], out: &p.dirs[1]}
	client = &Conn{p: p, in: &p.dirs[1], out: &p.dirs[0]}
	return router, client
}

// pipe is what both ends share. One mutex guards both directions: an in-process connection
// has two parties, and its critical sections are a few slice operations.
type pipe struct {
	opts Options

	mu     sync.Mutex
	dirs   [2]queue // [0]: client to router, [1]: router to client
	closed bool     // no more sends; reads drain what is queued, then fail
	code   int
	reason string
	done   chan struct{} // closed with closed
}

// queue is one direction's frames, read by one goroutine.
type queue struct {
	frames [][]byte
	head   int // frames[head:] wait to be read
	bytes  int
	ready  chan struct{} // signaled when a frame was queued (cap 1)
	space  chan struct{} // signaled when a frame was read (cap 1)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Conn is one end of an in-memory connection.
type Conn struct {
	p       *pipe
	in, out *queue
}

var (
	_ peer.Peer   = (*Conn)(nil)
	_ peer.Client = (*Conn)(nil)
)

// Serializer is the serializer both ends speak.
func (c *Conn) Serializer() string { return c.p.opts.Serializer }

// Value is Options.Value.
func (c *Conn) Value() any { return c.p.opts.Value }

// Details describe the connection: transport "memory", no TLS, no HTTP request.
func (c *Conn) Details() peer.Details {
	return peer.Details{Transport: "memory", RemoteAddr: Addr{}}
}

// Addr is the address of the other end of an in-memory connection: "memory".
type Addr struct{}

// Network is "memory".
func (Addr) Network() string { return "memory" }

func (Addr) String() string { return "memory" }

// Read returns the next message the other end sent. Once the connection is closed it returns
// what was queued before, then an error wrapping peer.ErrClosed. The frame may be shared with
// other recipients: it must not be changed.
func (c *Conn) Read() ([]byte, error) {
	p, q := c.p, c.in
	for {
		p.mu.Lock()
		if q.head < len(q.frames) {
			f := q.frames[q.head]
			q.frames[q.head] = nil
			q.head++
			q.bytes -= len(f)
			if q.head == len(q.frames) {
				q.frames, q.head = q.frames[:0], 0
			}
			p.mu.Unlock()
			signal(q.space)
			return f, nil
		}
		if p.closed {
			err := p.closeErr()
			p.mu.Unlock()
			return nil, err
		}
		p.mu.Unlock()
		select {
		case <-q.ready:
		case <-p.done:
		}
	}
}

// closeErr says how the connection ended. Caller holds p.mu.
func (p *pipe) closeErr() error {
	return fmt.Errorf("%w: %d %s", peer.ErrClosed, p.code, p.reason)
}

// send queues frame for the other end, or fails with peer.ErrQueueFull or peer.ErrClosed.
func (c *Conn) send(frame []byte) error {
	p, q := c.p, c.out
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return peer.ErrClosed
	}
	if len(q.frames)-q.head >= p.opts.QueueMessages || q.bytes+len(frame) > p.opts.QueueBytes {
		p.mu.Unlock()
		return peer.ErrQueueFull
	}
	if q.head > 0 && len(q.frames) == cap(q.frames) {
		// Move what waits to the front rather than grow the array.
		n := copy(q.frames, q.frames[q.head:])
		clear(q.frames[n:])
		q.frames, q.head = q.frames[:n], 0
	}
	q.frames = append(q.frames, frame)
	q.bytes += len(frame)
	p.mu.Unlock()
	signal(q.ready)
	return nil
}

// SendNow queues a reply for the other end (peer.Peer); it never blocks.
func (c *Conn) SendNow(frame []byte) error { return c.send(frame) }

// SendFanout queues a fan-out frame for the other end (peer.Peer); it never blocks. Nothing
// is batched in memory, so via does not matter.
func (c *Conn) SendFanout(frame []byte, via peer.Peer) error { return c.send(frame) }

// SendWait queues a frame, waiting for room while the other end's queue is full (peer.Client).
func (c *Conn) SendWait(ctx context.Context, frame []byte) error {
	for {
		err := c.send(frame)
		if err != peer.ErrQueueFull {
			if err == nil && c.hasRoom() {
				signal(c.out.space) // another waiting sender may go on too
			}
			return err
		}
		select {
		case <-c.out.space:
		case <-c.p.done:
			return peer.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Conn) hasRoom() bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	q := c.out
	return len(q.frames)-q.head < c.p.opts.QueueMessages && q.bytes < c.p.opts.QueueBytes
}

// Queued reports what this end sent that the other has not read yet.
func (c *Conn) Queued() (messages, bytes int) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return len(c.out.frames) - c.out.head, c.out.bytes
}

// Close ends the connection with code and reason: both ends still read what was sent
// before, then their reads fail. Later sends fail with peer.ErrClosed.
func (c *Conn) Close(code int, reason string) { c.p.close(code, reason, nil) }

// Abort ends the connection like Close, but drops what this end sent and the other has not
// read yet: for a peer cut off, which would never read it.
func (c *Conn) Abort(code int, reason string) { c.p.close(code, reason, c.out) }

// Done releases this end once its owner has stopped reading: the connection is closed (if it
// was not) and what waits for this end is dropped.
func (c *Conn) Done() { c.p.close(peer.CloseGoingAway, "", c.in) }

// close closes the pipe once (the first code and reason stay) and drops drop's frames.
func (p *pipe) close(code int, reason string, drop *queue) {
	p.mu.Lock()
	if drop != nil {
		clear(drop.frames)
		drop.frames, drop.head, drop.bytes = nil, 0, 0
	}
	if !p.closed {
		p.closed = true
		p.code, p.reason = code, reason
		close(p.done)
	}
	p.mu.Unlock()
}
