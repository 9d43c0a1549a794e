package websocket

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/transport/internal/idlewait"
	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// An idle connection holds no goroutine. A server connection's reader that finds the socket
// empty once its peer has been quiet for Options.IdleAfter (at once right after the WAMP
// handshake) returns peer.ErrParked from ReadOrPark; the session layer unwinds, and the
// goroutine that served the connection registers its socket with the idlewait poller and
// ends (settle). Wake, called by the poller once the socket has something to read, by the
// keepalive wheel once the peer has been silent too long, or by finish when the connection
// closes, starts a goroutine that runs the session's resume function: reading goes on from
// where it stopped.
//
// While the reader waits in the runtime's poller, the read deadline is the earlier of the
// keepalive's end and IdleAfter from the last message (extendReadDeadline): reaching it at a
// message boundary parks the reader, elsewhere (a message still arriving) it only moves the
// deadline on to the keepalive's end (readDeadlinePassed). A parked connection's keepalive
// end is watched by the keepalive wheel (pingDue).

// errParked: the reader parks (awaitData to ReadOrPark).
var errParked = errors.New("websocket: reader parks")

// errNoMessage: readFrames read control frames only and nothing more is buffered; the caller
// waits for data (and may park) before reading on.
var errNoMessage = errors.New("websocket: control frames only")

// canPark enables parking for a connection a Server serves: plain sockets only (a TLS
// connection's reads go through crypto/tls, which must own them).
func (c *Conn) canPark(active *atomic.Int64) {
	c.active = active
	if !idlewait.Supported || !c.server || c.fr.RawConn() == nil || c.opts.IdleAfter <= 0 {
		return
	}
	c.parks, c.parkAtOnce, c.fr.Deadline = true, true, (*parkDeadline)(c)
}

// idleAfter is how long a reader that may park waits for its peer before it parks: IdleAfter,
// or the keepalive's end when that comes first.
func (c *Conn) idleAfter() time.Duration {
	after := c.opts.IdleAfter
	if c.opts.PingInterval > 0 {
		after = min(after, c.opts.PingInterval+c.opts.PongTimeout)
	}
	return after
}

// ReadOrPark is Read, except that it returns peer.ErrParked, instead of waiting, once the
// peer has been quiet for IdleAfter (peer.Parker). resume then runs on a new goroutine when
// the peer sends something, the connection closes, or the keepalive runs out.
func (c *Conn) ReadOrPark(resume func()) ([]byte, error) {
	data, err := c.readNext(c.parks)
	if err == errParked {
		c.resume = resume
		return nil, peer.ErrParked
	}
	return data, err
}

// awaitData waits until the peer has sent something. Waiting here, a few calls deep, rather
// than in the frame parser keeps an idle connection's goroutine stack small enough for the
// garbage collector to shrink it to the minimum. With park, it returns errParked instead of
// waiting once the peer has been quiet for idleAfter (or right after the handshake).
func (c *Conn) awaitData(park bool) error {
	if c.fr == nil || c.fr.Pending() > 0 {
		return nil
	}
	if !park {
		return c.fr.Fill()
	}
	c.parking = true
	var err error
	if c.parkAtOnce {
		c.parkAtOnce = false
		err = c.fr.FillOrNot()
	} else {
		err = c.fr.Fill()
	}
	c.parking = false
	switch {
	case err == nil:
		return nil
	case err == sockio.ErrWouldBlock:
		return errParked
	case errors.Is(err, os.ErrDeadlineExceeded) && !c.keepaliveOver():
		return errParked
	}
	return err
}

// keepaliveOver reports whether the peer has been silent past PingInterval+PongTimeout.
func (c *Conn) keepaliveOver() bool {
	return c.opts.PingInterval > 0 && time.Now().UnixNano() >= c.keepaliveEnd()
}

// keepaliveEnd is when the peer will have been silent too long (Unix ns).
func (c *Conn) keepaliveEnd() int64 {
	return c.deadlineSet + int64(c.opts.PingInterval+c.opts.PongTimeout)
}

// parkDeadline is a Conn as the read buffer's sockio.DeadlineHandler (no method on Conn's own
// API, and no allocation).
type parkDeadline Conn

// ReadDeadlinePassed implements sockio.DeadlineHandler.
func (d *parkDeadline) ReadDeadlinePassed() bool { return (*Conn)(d).readDeadlinePassed() }

// readDeadlinePassed is called when a read's deadline passed while the reader waited in the
// runtime's poller. It reports whether to wait on: the deadline was the one to park by, but
// the reader is not at a message boundary (or is not asked to park), and the keepalive has
// not run out — the deadline moves on to the keepalive's end.
func (c *Conn) readDeadlinePassed() bool {
	if !c.parks || c.parking {
		return false
	}
	if c.opts.PingInterval <= 0 {
		c.nc.SetReadDeadline(time.Time{})
		return true
	}
	end := c.keepaliveEnd()
	if time.Now().UnixNano() >= end {
		return false
	}
	c.nc.SetReadDeadline(time.Unix(0, end))
	return true
}

// settle parks the reader when the handler returned because ReadOrPark did: the socket is
// watched, and the goroutine that called settle must end without touching the connection. It
// reports false when the handler is done for good (or could not park, in which case the
// handler has been resumed on this goroutine until it finished).
func (c *Conn) settle() bool {
	for c.resume != nil {
		if c.watch() {
			return true
		}
		c.runResume() // the socket is closing: reading on fails, and the handler ends
	}
	return false
}

// watch registers the socket with the poller and marks the reader parked.
func (c *Conn) watch() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return false
	}
	token, ok := idlewait.Watch(c.fr.RawConn(), c)
	if !ok {
		return false
	}
	c.parked, c.parkToken = true, token
	if !c.writing && !c.closing {
		// The writer's state is let go each time the reader parks with no writer running
		// (taking the role needs mu): what the WELCOME's write, a keepalive ping or the
		// replies of the last burst made. A parked connection that is written to (a
		// subscriber's) makes it once and keeps it until its reader next parks, which
		// only something read from its peer brings about — never a write.
		c.wr = nil
	}
	if c.opts.PingInterval > 0 {
		// The reader waits for no deadline now: the keepalive wheel watches the keepalive's
		// end. It calls back at the next ping already (pingDue), which is usually earlier:
		// the peer answered the last ping.
		if end := c.keepaliveEnd(); end < c.nextPing {
			c.keepalive().Schedule((*keepaliveSide)(c), end)
		}
	}
	return true
}

// Wake resumes a parked reader (idlewait.Waker): the poller calls it once the socket has
// something to read; the keepalive wheel and finish call it too.
func (c *Conn) Wake() {
	c.mu.Lock()
	wake := c.unwatchLocked()
	c.mu.Unlock()
	if wake {
		go c.resumed()
	}
}

// unwatchLocked ends the reader's parking, reporting whether it was parked: the caller starts
// c.resumed. Caller holds c.mu.
func (c *Conn) unwatchLocked() bool {
	if !c.parked {
		return false
	}
	c.parked = false
	idlewait.Unwatch(c.fr.RawConn(), c.parkToken)
	return true
}

// resumed serves a woken connection: the handler goes on reading until it parks again or
// ends, and then the connection is released as the goroutine that first served it would have.
func (c *Conn) resumed() {
	c.runResume()
	if c.settle() {
		return
	}
	c.served()
}

// runResume runs the handler's resume function, with a read deadline: the keepalive's end,
// or idleAfter from now, whichever comes first (a wake with nothing to read parks again) —
// but never in the past, so that what the socket holds is read first: a pong that arrived
// just before the keepalive wheel woke the reader still counts.
func (c *Conn) runResume() {
	resume := c.resume
	c.resume = nil
	now := time.Now()
	deadline := now.Add(c.idleAfter())
	if c.opts.PingInterval > 0 {
		if end := time.Unix(0, c.keepaliveEnd()); end.Before(deadline) {
			deadline = end
		}
	}
	c.nc.SetReadDeadline(later(deadline, now.Add(resumeGrace)))
	resume()
}

// resumeGrace is the least time a resumed reader waits before its deadline.
const resumeGrace = 10 * time.Millisecond

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// served releases the connection once its handler is done (Server's connections).
func (c *Conn) served() {
	c.Done()
	if c.active != nil {
		c.active.Add(-1)
	}
}

var _ peer.Parker = (*Conn)(nil)

// ParkedReaders is the number of connections in this process whose reader is parked: idle,
// holding no goroutine (for metrics and tests).
func ParkedReaders() int { return idlewait.Watched() }
