package sockio

import (
	"runtime"
	"slices"
	"sync/atomic"
)

// Outbox holds back the writers of the connections that one reader's messages gave something
// to write, until that reader has handled what its reads brought. A burst of publications
// from one publisher then reaches each subscriber in one write carrying every event of the
// burst, and the INVOCATIONs of one read (or of several callers' reads, while the callee's
// writer is held) reach the callee in one write, instead of a write per message
// (nats-server flushes its pending clients at the end of a read the same way). The busier
// the reader, the larger the bursts and the fewer the writes per message, with no delay
// added: nothing in an outbox waits for a peer.
//
// It is flushed when the reader's socket has nothing more to read (plain sockets; before
// every read otherwise), after maxReads reads at the latest, as soon as a queue it holds is
// half full (the connection calls Flush), and when the reader stops. Held connections may be
// of either socket transport. Only the reading goroutine uses an outbox.
type Outbox struct {
	held   []*Writer // each holds the writer's role on the outbox's behalf
	reads  int       // reads since the last flush
	fanout bool      // a held writer has a fan-out frame (else replies only)
}

// maxReads bounds how many read buffers' messages an outbox holds writes back for while the
// socket keeps bringing more: what the first of them queued waits at most that long.
const maxReads = 8

// keepCap is the capacity a flushed outbox keeps; a larger array (a burst to very many
// subscribers) is let go.
const keepCap = 1024

// shareAbove is how many connections one goroutine writes at least before a flush is shared
// with helpers (1,024; tests change it with SetShareAbove).
var shareAbove = func() *atomic.Int32 {
	var n atomic.Int32
	n.Store(1024)
	return &n
}()

// SetShareAbove lets a test share small flushes with helper goroutines; it returns the
// restore.
func SetShareAbove(n int) (restore func()) {
	old := shareAbove.Swap(int32(n))
	return func() { shareAbove.Store(old) }
}

// Hold adds a connection whose writer role the caller just gave to o (setting w.HeldBy = o
// under the connection's lock, with nothing else writing it) for a reply (a one-to-one
// message) or a fan-out frame: it is written when o is flushed.
func (o *Outbox) Hold(w *Writer, reply bool) {
	o.held = append(o.held, w)
	if !reply {
		o.fanout = true
	}
}

// repliesOnly reports whether o holds only replies for a few writers that no other reader
// feeds: nothing is gained by holding them past the read that brought their requests (see
// ReadBuffer.Fill).
func (o *Outbox) repliesOnly() bool {
	if !o.Holding() || o.fanout || len(o.held) > maxContended {
		return false
	}
	for _, w := range o.held {
		if w.joined.Load() > 0 {
			return false
		}
	}
	return true
}

// Holding reports whether o holds writes back (false for a nil outbox).
func (o *Outbox) Holding() bool { return o != nil && len(o.held) > 0 }

// contended reports whether a writer o holds was recently fed by other readers too (a callee
// that many callers' reads give INVOCATIONs), counting each such writer's memory of it down.
// A large fan-out is never contended: it flushes at once.
func (o *Outbox) contended() bool {
	if len(o.held) > maxContended {
		return false
	}
	found := false
	for _, w := range o.held {
		if w.joined.Load() > 0 {
			w.joined.Add(-1)
			found = true
		}
	}
	return found
}

// maxContended is the most writers an outbox holds for which it looks for contention.
const maxContended = 16

// BeforeRead is called before each read from the reader's socket: it flushes o when the read
// may wait (waitFree false: a read through a net.Conn, which waits for the peer without
// telling) or when the reads since the last flush reach maxReads.
func (o *Outbox) BeforeRead(waitFree bool) {
	if !o.Holding() {
		return
	}
	if !waitFree || o.reads >= maxReads {
		o.Flush()
		return
	}
	o.reads++
}

// Flush writes what its reader's messages queued: each held connection is written from the
// calling goroutine with one non-blocking write, and what a socket does not take is left to
// that connection's writer goroutine.
func (o *Outbox) Flush() {
	held := o.held
	if share := int(shareAbove.Load()); len(held) >= 2*share {
		// A large fan-out is shared with a helper goroutine per spare core, so that one
		// publisher's burst is written on every core.
		helpers := min(runtime.GOMAXPROCS(0)-1, len(held)/share-1)
		per := len(held) / (helpers + 1)
		for range helpers {
			chunk := slices.Clone(held[len(held)-per:])
			held = held[:len(held)-per]
			go writeEach(chunk)
		}
	}
	writeEach(held)
	clear(o.held)
	o.held = o.held[:0]
	o.reads, o.fanout = 0, false
	if cap(o.held) > keepCap {
		o.held = nil
	}
}

// writeEach writes the connections an outbox held, from the calling goroutine.
func writeEach(held []*Writer) {
	for _, w := range held {
		w.writeHeld()
	}
}

// Reading is a connection whose reader holds an outbox: OutboxOf finds it.
type Reading interface {
	// ReadingOutbox is the outbox of the connection's reader, or nil (a client's
	// connection). Only that reading goroutine may use it.
	ReadingOutbox() *Outbox
}

// OutboxOf returns the outbox of via's reader when via is a socket connection with one, for
// a send made on via's reading goroutine; else nil. It allocates nothing.
func OutboxOf(via any) *Outbox {
	if r, ok := via.(Reading); ok {
		return r.ReadingOutbox()
	}
	return nil
}
