package sockio

import (
	"sync"
	"sync/atomic"
	"testing"
)

// heldWriters are n writers whose held writes count into writes.
func heldWriters(n int, writes *atomic.Int64, wg *sync.WaitGroup) []*Writer {
	ws := make([]*Writer, n)
	for i := range ws {
		ws[i] = &Writer{writeHeld: func() { writes.Add(1); wg.Done() }}
	}
	return ws
}

// A reader that keeps finding bytes holds its writes back for maxReads reads, then flushes; a
// reader whose reads may wait (TLS) flushes before each.
func TestOutboxFlushesBeforeAReadThatMayWait(t *testing.T) {
	var writes atomic.Int64
	var wg sync.WaitGroup
	var o Outbox
	wg.Add(1)
	o.Hold(heldWriters(1, &writes, &wg)[0], false)
	for range maxReads {
		o.BeforeRead(true)
	}
	if writes.Load() != 0 || !o.Holding() {
		t.Fatalf("flushed within %d reads", maxReads)
	}
	o.BeforeRead(true)
	if writes.Load() != 1 || o.Holding() {
		t.Fatalf("not flushed after %d reads", maxReads+1)
	}
	wg.Add(1)
	o.Hold(heldWriters(1, &writes, &wg)[0], false)
	o.BeforeRead(false)
	if writes.Load() != 2 {
		t.Fatal("not flushed before a read that may wait")
	}
	var none *Outbox
	none.BeforeRead(false) // a client's connection has no outbox
}

// A large flush is shared with helper goroutines, and every held writer is written once.
func TestOutboxSharesALargeFlush(t *testing.T) {
	defer SetShareAbove(4)()
	var writes atomic.Int64
	var wg sync.WaitGroup
	const n = 40
	wg.Add(n)
	var o Outbox
	for _, w := range heldWriters(n, &writes, &wg) {
		o.Hold(w, false)
	}
	o.Flush()
	wg.Wait()
	if got := writes.Load(); got != n {
		t.Fatalf("%d writes for %d held writers", got, n)
	}
	if o.Holding() {
		t.Fatal("still holding after a flush")
	}
}

type reading struct{ out Outbox }

func (r *reading) ReadingOutbox() *Outbox { return &r.out }

// OutboxOf finds the outbox of any connection that has one, allocating nothing.
func TestOutboxOf(t *testing.T) {
	r := &reading{}
	var via any = r
	if OutboxOf(via) != &r.out {
		t.Fatal("OutboxOf missed a reading connection's outbox")
	}
	if OutboxOf(nil) != nil || OutboxOf(struct{}{}) != nil {
		t.Fatal("OutboxOf found an outbox where there is none")
	}
	if n := testing.AllocsPerRun(100, func() { OutboxOf(via) }); n != 0 {
		t.Fatalf("OutboxOf allocates %v times", n)
	}
}

// An outbox counts as contended while a writer it holds was recently fed by another reader
// (its reader then yields before flushing), for joinMemory flushes; a large fan-out never.
func TestOutboxContention(t *testing.T) {
	var writes atomic.Int64
	var wg sync.WaitGroup
	ws := heldWriters(maxContended+1, &writes, &wg)
	var o Outbox
	o.Hold(ws[0], true)
	if o.contended() {
		t.Fatal("contended with no other reader")
	}
	ws[0].Joined()
	for i := range joinMemory {
		if !o.contended() {
			t.Fatalf("not contended %d flushes after a join", i)
		}
	}
	if o.contended() {
		t.Fatalf("still contended %d flushes after the last join", joinMemory)
	}
	ws[0].Joined()
	for _, w := range ws[1:] {
		o.Hold(w, false)
	}
	if o.contended() {
		t.Fatalf("a flush of %d writers waits for other readers", len(ws))
	}
}

// Replies for a few writers that no other reader feeds are written as soon as the read that
// brought their requests is handled; anything else waits for the socket to be found empty.
func TestOutboxRepliesOnly(t *testing.T) {
	var writes atomic.Int64
	var wg sync.WaitGroup
	ws := heldWriters(maxContended+1, &writes, &wg)
	var o Outbox
	if o.repliesOnly() {
		t.Fatal("an empty outbox counts as holding replies")
	}
	o.Hold(ws[0], true)
	if !o.repliesOnly() {
		t.Fatal("a lone reply is held for the empty read")
	}
	ws[0].Joined()
	if o.repliesOnly() {
		t.Fatal("a reply other readers add to is not held for them")
	}
	ws[0].joined.Store(0)
	o.Hold(ws[1], false)
	if o.repliesOnly() {
		t.Fatal("a fan-out frame is not held for the empty read")
	}
	o2 := Outbox{}
	for _, w := range ws {
		o2.Hold(w, true)
	}
	if o2.repliesOnly() {
		t.Fatalf("replies to %d writers are not held for the empty read", len(ws))
	}
}
