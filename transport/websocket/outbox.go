package websocket

import (
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/session/peer"
)

// Outbox holds back the writers of the connections that one reader's messages gave something
// to write, until that reader has handled what its reads brought. A burst of publications
// from one publisher then reaches each subscriber in one write carrying every event of the
// burst, instead of a write per event (nats-server flushes its pending clients at the end of
// a read the same way). The busier the publisher, the larger the bursts and the fewer the
// writes per event, with no delay added: nothing in an outbox waits for a peer. It is flushed
// when the reader's socket has nothing more to read (plain TCP; before every read otherwise),
// after outboxMaxReads reads at the latest, as soon as a queue it holds is half full, and when
// the reader stops (Done).
//
// Each server connection holds the outbox of its reader (Conn.Outbox). Only that reading
// goroutine may use it: SendFanout with that connection as via.
type Outbox struct {
	conns []*Conn // each holds the writer's role (writing) on the outbox's behalf
	reads int     // reads since the last flush
}

// outboxMaxReads bounds how many read buffers' messages an outbox holds writes back for while
// the socket keeps bringing more: what the first of them queued waits at most that long.
const outboxMaxReads = 8

// outboxShareAbove is how many connections one goroutine writes at least before a flush is
// shared with helpers (1,024; tests change it).
var outboxShareAbove = func() *atomic.Int32 {
	var n atomic.Int32
	n.Store(1024)
	return &n
}()

// writeEach writes the connections an outbox held, from the calling goroutine.
func writeEach(conns []*Conn) {
	for _, c := range conns {
		c.writeQueued()
	}
}

// outboxKeepCap is the capacity a flushed outbox keeps; a larger array (a burst to very many
// subscribers) is let go.
const outboxKeepCap = 1024

// outbox is the outbox of the connection's reader: for sends made while handling a message
// read from this connection, on its reading goroutine. Nil on a client connection.
func (c *Conn) outbox() *Outbox {
	if c.fr == nil {
		return nil
	}
	return &c.out
}

// SendFanout queues one frame of a fan-out (peer.Peer) like Send. When via is a server
// connection, whose reader must be the goroutine sending, a writer that would start now is
// started when via's outbox is flushed instead. It allocates nothing.
func (c *Conn) SendFanout(frame []byte, via peer.Peer) error {
	var out *Outbox
	if vc, ok := via.(*Conn); ok {
		out = vc.outbox()
	}
	return c.enqueue(frame, sendOptions{binary: c.binary, out: out})
}

// flush writes what its reader's messages queued: each held connection is written from
// the calling goroutine with one non-blocking write, and what a socket does not take is
// left to that connection's writer goroutine.
func (o *Outbox) flush() {
	conns := o.conns
	if share := int(outboxShareAbove.Load()); len(conns) >= 2*share {
		// A large fan-out is shared with a helper goroutine per spare core, so that one
		// publisher's burst is written on every core.
		helpers := min(runtime.GOMAXPROCS(0)-1, len(conns)/share-1)
		per := len(conns) / (helpers + 1)
		for range helpers {
			chunk := slices.Clone(conns[len(conns)-per:])
			conns = conns[:len(conns)-per]
			go writeEach(chunk)
		}
	}
	writeEach(conns)
	clear(o.conns)
	o.conns = o.conns[:0]
	o.reads = 0
	if cap(o.conns) > outboxKeepCap {
		o.conns = nil
	}
}
