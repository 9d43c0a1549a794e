package rawsocket

import (
	"errors"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/transport/internal/idlewait"
	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// An idle connection holds no goroutine, as on the WebSocket transport: a router-side reader
// that finds the socket empty at a message boundary right after the handshake, or after a
// PING or PONG, returns peer.ErrParked from ReadOrPark, and the goroutine that served the
// connection registers the socket with the idlewait poller and ends (settle). The router
// PINGs a connection once it has been quiet for PingInterval, so a quiet connection's reader
// parks when the PONG comes back. Wake, called by the poller once the socket has something to
// read or by finish when the connection closes (the keepalive wheel cutting off a silent
// peer, too), starts a goroutine that runs the session's resume function. A reader that has
// just read a message waits in the runtime's poller as before: parking costs the hot path
// nothing.

var (
	// errParked: the reader parks (awaitData to ReadOrPark).
	errParked = errors.New("rawsocket: reader parks")
	// errNoMessage: readMessage read PINGs or PONGs only, and nothing more is buffered.
	errNoMessage = errors.New("rawsocket: control frames only")
)

// enablePark lets the reader of a connection a Server serves park: plain sockets only (a TLS
// connection's reads go through crypto/tls, which must own them).
func (c *Conn) enablePark(active *atomic.Int64) {
	c.active = active
	if !idlewait.Supported || c.rd.RawConn() == nil || c.opts.KeepIdleReaders {
		return
	}
	c.canPark, c.parkAtOnce = true, true
}

// ReadOrPark is Read, except that it returns peer.ErrParked instead of waiting once the peer
// is quiet (peer.Parker). resume then runs on a new goroutine when the peer sends something or
// the connection closes.
func (c *Conn) ReadOrPark(resume func()) ([]byte, error) {
	data, err := c.readNext(c.canPark)
	if err == errParked {
		c.resume = resume
		return nil, peer.ErrParked
	}
	return data, err
}

// awaitData waits until the peer has sent something; with park, it returns errParked instead
// of waiting when the reader is to park.
func (c *Conn) awaitData(park bool) error {
	if !park {
		return c.rd.Fill()
	}
	if !c.parkAtOnce {
		return c.rd.Fill()
	}
	c.parkAtOnce = false
	if err := c.rd.FillOrNot(); err != sockio.ErrWouldBlock {
		return err
	}
	return errParked
}

// settle parks the reader when the handler returned because ReadOrPark did: the socket is
// watched, and the calling goroutine must end without touching the connection. It reports
// false when the handler is done for good.
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
	token, ok := idlewait.Watch(c.rd.RawConn(), c)
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
	return true
}

// Wake resumes a parked reader (idlewait.Waker).
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
	idlewait.Unwatch(c.rd.RawConn(), c.parkToken)
	return true
}

// resumed serves a woken connection until its handler parks again or ends.
func (c *Conn) resumed() {
	c.runResume()
	if c.settle() {
		return
	}
	c.served()
}

// runResume runs the handler's resume function.
func (c *Conn) runResume() {
	resume := c.resume
	c.resume = nil
	resume()
}

// served releases the connection once its handler is done (Server's connections).
func (c *Conn) served() {
	c.Done()
	if c.active != nil {
		c.active.Add(-1)
	}
}

var _ peer.Parker = (*Conn)(nil)
