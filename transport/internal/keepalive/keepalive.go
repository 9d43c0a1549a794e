package keepalive

import (
	"sync"
	"time"
)

// A Conn is a connection a Scheduler calls back. It is a pointer type.
type Conn interface {
	comparable
	// KeepaliveDue runs on the scheduler's goroutine once the time the connection asked for
	// has come (now, Unix ns). It must not block; to be called again it schedules itself.
	KeepaliveDue(now int64)
	// KeepaliveEntry is the connection's place in the wheel, which only the scheduler uses.
	KeepaliveEntry() *Entry
}

// Entry is where a connection is in a Scheduler's wheel; its zero value is not scheduled. It
// is guarded by the scheduler's lock.
type Entry struct {
	due  int64 // Unix ns
	slot int32 // 1 + the wheel slot it is in; 0: not scheduled
	idx  int32 // its index in that slot
}

// slots is the wheel's size: a time further away than slots ticks waits in its slot for laps.
const slots = 64

// MaxTick is the coarsest tick.
const MaxTick = time.Second

// TickFor is the tick a keepalive of ping interval and pong timeout needs: a quarter of the
// shorter, at most MaxTick and at least a millisecond.
func TickFor(pingInterval, pongTimeout time.Duration) time.Duration {
	t := min(pingInterval, pongTimeout) / 4
	if pongTimeout <= 0 {
		t = pingInterval / 4
	}
	return min(max(t, time.Millisecond), MaxTick)
}

// Scheduler calls connections back at the times they ask for, one tick late at most.
type Scheduler[C Conn] struct {
	tick time.Duration

	mu      sync.Mutex
	wheel   [slots][]C
	count   int
	running bool
	last    int64         // the last tick the goroutine looked at (or the one it started in)
	stop    chan struct{} // asks the goroutine to look whether anything is left
}

// Schedulers are the schedulers of one connection type, one per tick: every connection with
// the same tick shares one wheel and one goroutine.
type Schedulers[C Conn] struct {
	m sync.Map // time.Duration → *Scheduler[C]
}

// For returns the scheduler of the given tick.
func (s *Schedulers[C]) For(tick time.Duration) *Scheduler[C] {
	if v, ok := s.m.Load(tick); ok {
		return v.(*Scheduler[C])
	}
	v, _ := s.m.LoadOrStore(tick, &Scheduler[C]{tick: tick, stop: make(chan struct{}, 1)})
	return v.(*Scheduler[C])
}

// Schedule asks for c.KeepaliveDue at due (Unix ns) or one tick after at most, replacing the
// time c asked for before.
func (s *Scheduler[C]) Schedule(c C, due int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := c.KeepaliveEntry()
	if e.slot != 0 {
		s.removeLocked(c, e)
	}
	// A time already past goes in the current tick's slot, which the wheel looks at next.
	now := time.Now().UnixNano()
	slot := int32((max(due, now) / int64(s.tick)) % slots)
	e.due, e.slot, e.idx = due, slot+1, int32(len(s.wheel[slot]))
	s.wheel[slot] = append(s.wheel[slot], c)
	s.count++
	if !s.running {
		// The goroutine looks from this tick on, however late it starts: nothing is in a
		// slot of an earlier tick.
		s.running, s.last = true, now/int64(s.tick)
		go s.loop()
	}
}

// Unschedule forgets c: it is not called back.
func (s *Scheduler[C]) Unschedule(c C) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := c.KeepaliveEntry(); e.slot != 0 {
		s.removeLocked(c, e)
		if s.count == 0 {
			select {
			case s.stop <- struct{}{}: // nothing left: the goroutine may end now
			default:
			}
		}
	}
}

// Scheduled is the number of connections waiting to be called back.
func (s *Scheduler[C]) Scheduled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// removeLocked takes c out of its slot. Caller holds s.mu.
func (s *Scheduler[C]) removeLocked(c C, e *Entry) {
	w := &s.wheel[e.slot-1]
	last := len(*w) - 1
	if int(e.idx) != last {
		moved := (*w)[last]
		(*w)[e.idx] = moved
		moved.KeepaliveEntry().idx = e.idx
	}
	var zero C
	(*w)[last] = zero
	*w = (*w)[:last]
	if cap(*w) > 64 && len(*w) < cap(*w)/4 {
		*w = append([]C(nil), *w...) // a burst's array, mostly empty now
	}
	*e = Entry{}
	s.count--
}

// loop calls back what is due, once per tick, until nothing is scheduled.
func (s *Scheduler[C]) loop() {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	var due []C
	for {
		select {
		case <-t.C:
		case <-s.stop:
		}
		now := time.Now().UnixNano()
		s.mu.Lock()
		if s.count == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		// Every slot whose tick has come since the last look (a late tick catches up).
		cur := now / int64(s.tick)
		from := max(s.last, cur-slots+1)
		for tick := from; tick <= cur; tick++ {
			w := &s.wheel[tick%slots]
			for i := len(*w) - 1; i >= 0; i-- { // backwards: removal swaps in a visited one
				c := (*w)[i]
				if e := c.KeepaliveEntry(); e.due <= now {
					s.removeLocked(c, e)
					due = append(due, c)
				}
			}
		}
		s.last = cur
		s.mu.Unlock()
		for i, c := range due {
			c.KeepaliveDue(now)
			var zero C
			due[i] = zero
		}
		due = due[:0]
	}
}
