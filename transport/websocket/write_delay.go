package websocket

import (
	"sync"
	"sync/atomic"
	"time"
)

// delayer starts the writers of connections whose frames wait for Options.WriteDelay: one
// ticker per shard for all of a server's connections, not a timer per connection, running
// only while some connection waits. A connection's frames wait at most one tick; every frame
// queued meanwhile goes out in the same write, which is what saves system calls in fan-out.
type delayer struct {
	shards []delayShard
	next   atomic.Uint32
}

type delayShard struct {
	mu      sync.Mutex
	delay   time.Duration
	waiting []*Conn
	ticking bool
}

func newDelayer(delay time.Duration, shards int) *delayer {
	d := &delayer{shards: make([]delayShard, max(shards, 1))}
	for i := range d.shards {
		d.shards[i].delay = delay
	}
	return d
}

// shard picks a shard for a new connection, round robin: no lock is shared by all.
func (d *delayer) shard() *delayShard {
	return &d.shards[int(d.next.Add(1))%len(d.shards)]
}

// add makes c's writer start at the next tick. The caller has marked c as delayed.
func (s *delayShard) add(c *Conn) {
	s.mu.Lock()
	s.waiting = append(s.waiting, c)
	start := !s.ticking
	s.ticking = true
	s.mu.Unlock()
	if start {
		go s.tick()
	}
}

func (s *delayShard) tick() {
	t := time.NewTicker(s.delay)
	defer t.Stop()
	var due []*Conn
	for range t.C {
		s.mu.Lock()
		due, s.waiting = s.waiting, due[:0]
		if len(due) == 0 {
			s.ticking = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, c := range due {
			go c.tick()
		}
		clear(due)
	}
}
