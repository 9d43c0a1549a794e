package pubsub

import (
	"sync/atomic"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Counts is what a broker has done since it started: for metrics.
type Counts struct {
	// Publications routed for peers (the router's own meta events and testaments, published
	// by nobody, are not counted; their deliveries are).
	Publications uint64
	// Deliveries are the EVENTs of publications queued for subscribers (one per matching
	// subscription and recipient).
	Deliveries uint64
	// HistoryWritten are the events the history store accepted.
	HistoryWritten uint64
	// HistoryQueueFull are events not kept in history because its writer was behind.
	HistoryQueueFull uint64
	// HistoryStoreFailed are events not kept because the store refused them (down, failing).
	HistoryStoreFailed uint64
	// HistoryEnabled reports whether the broker keeps an event history at all.
	HistoryEnabled bool
}

// counters are a broker's running counts. A publication adds to them once, and each
// subscription it reaches once more — never once per recipient.
type counters struct {
	publications atomic.Uint64
	deliveries   atomic.Uint64
}

// delivered counts the events one subscription's recipients were given, in the broker and
// in the realm's traffic (as EVENTs sent).
func (c *counters) delivered(t *session.Traffic, events, bytes int) {
	if events == 0 {
		return
	}
	c.deliveries.Add(uint64(events))
	if t != nil {
		t.Sent(wamp.TypeEvent, events, bytes)
	}
}

// Counts reports what the broker has done so far.
func (b *Local) Counts() Counts {
	c := Counts{Publications: b.counts.publications.Load(), Deliveries: b.counts.deliveries.Load()}
	if h := b.history; h != nil {
		c.HistoryEnabled = true
		c.HistoryWritten = uint64(h.written.Load())
		c.HistoryQueueFull = uint64(h.dropped.Load())
		c.HistoryStoreFailed = uint64(h.failed.Load())
	}
	return c
}
