package rawsocket

import (
	"runtime"
	"slices"
)

// Outbox holds back the writers of the connections that one reader's messages gave something
// to write (a publisher's burst of events), until that reader has handled what its reads
// brought: each subscriber then gets the whole burst in one write, with no delay added. It is
// flushed when the reader's socket has nothing more to read (plain sockets; before every read
// otherwise), after outboxMaxReads reads, as soon as a queue it holds is half full, and when
// the reader stops. Only the reading goroutine uses it (SendFanout with its connection as
// via). It mirrors the WebSocket transport's outbox, for RawSocket connections.
type Outbox struct {
	conns []*Conn // each holds the writer's role on the outbox's behalf
	reads int     // reads since the last flush
}

// outboxMaxReads bounds how many reads an outbox holds writes back for.
const outboxMaxReads = 8

// outboxShareAbove is how many connections one goroutine writes at least before a flush is
// shared with helpers.
const outboxShareAbove = 1024

// outboxKeepCap is the capacity a flushed outbox keeps.
const outboxKeepCap = 1024

func writeEach(conns []*Conn) {
	for _, c := range conns {
		c.writeQueued()
	}
}

// flush writes every held connection with one non-blocking write each; what a socket does not
// take is left to that connection's writer goroutine.
func (o *Outbox) flush() {
	conns := o.conns
	if len(conns) == 0 {
		o.reads = 0
		return
	}
	if len(conns) >= 2*outboxShareAbove {
		helpers := min(runtime.GOMAXPROCS(0)-1, len(conns)/outboxShareAbove-1)
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
