package keepalive

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

type conn struct {
	e      Entry
	mu     sync.Mutex
	called []int64
	again  func(c *conn, now int64)
}

func (c *conn) KeepaliveEntry() *Entry { return &c.e }
func (c *conn) KeepaliveDue(now int64) {
	c.mu.Lock()
	c.called = append(c.called, time.Now().UnixNano())
	c.mu.Unlock()
	if c.again != nil {
		c.again(c, now)
	}
}
func (c *conn) calls() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.called...)
}

// waitCalled waits (at most 5 s) until each of cs has been called back.
func waitCalled(t *testing.T, cs ...*conn) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range cs {
		for len(c.calls()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("not called back")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func loopRunning() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "keepalive.(*Scheduler[...]).loop")
}

// TestScheduleCallsBackOnceWhenDue: each connection is called back once, not before the time
// it asked for and at most about a tick after; a connection unscheduled is not called back,
// nor is one whose time moved on; and the wheel's goroutine runs only while something is
// scheduled.
func TestScheduleCallsBackOnceWhenDue(t *testing.T) {
	var all Schedulers[*conn]
	const tick = 20 * time.Millisecond
	s := all.For(tick)
	if all.For(tick) != s {
		t.Fatal("two schedulers for one tick")
	}
	start := time.Now().UnixNano()
	cs := make([]*conn, 50)
	for i := range cs {
		cs[i] = &conn{}
		s.Schedule(cs[i], start+int64(i%10)*int64(5*time.Millisecond))
	}
	gone, moved := &conn{}, &conn{}
	s.Schedule(gone, start+int64(10*time.Millisecond))
	s.Unschedule(gone)
	s.Schedule(moved, start+int64(10*time.Millisecond))
	s.Schedule(moved, start+int64(300*time.Millisecond)) // replaces the earlier time
	past := &conn{}
	s.Schedule(past, start-int64(time.Hour)) // long past: called back at the next tick
	waitCalled(t, append([]*conn{past}, cs...)...)
	time.Sleep(3 * tick) // a second call back, if any, would come by now
	for i, c := range cs {
		got := c.calls()
		due := start + int64(i%10)*int64(5*time.Millisecond)
		if len(got) != 1 {
			t.Fatalf("conn %d called back %d times, want once", i, len(got))
		}
		// Late by a tick, and by what a loaded machine adds; never by a lap of the wheel.
		if got[0] < due || got[0] > due+int64(slots*tick)*3/4 {
			t.Errorf("conn %d called back %v after its time", i, time.Duration(got[0]-due))
		}
	}
	if n := len(gone.calls()); n != 0 {
		t.Errorf("an unscheduled conn was called back %d times", n)
	}
	if n := len(past.calls()); n != 1 {
		t.Errorf("a conn due in the past was called back %d times, want once", n)
	}
	waitCalled(t, moved)
	time.Sleep(3 * tick)
	if got := moved.calls(); len(got) != 1 || got[0] < start+int64(300*time.Millisecond) {
		t.Errorf("a conn whose time moved on was called back at %v, want once at 300ms",
			func() (at []time.Duration) {
				for _, g := range got {
					at = append(at, time.Duration(g-start))
				}
				return at
			}())
	}
	if s.Scheduled() != 0 {
		t.Fatalf("%d still scheduled", s.Scheduled())
	}
	deadline := time.Now().Add(5 * time.Second)
	for loopRunning() {
		if time.Now().After(deadline) {
			t.Fatal("the wheel's goroutine still runs with nothing scheduled")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A connection that schedules itself again from its callback is called back each time,
	// past a lap of the wheel.
	fine := all.For(time.Millisecond)
	c := &conn{}
	c.again = func(c *conn, now int64) {
		if len(c.calls()) < 3 {
			fine.Schedule(c, now+int64(slots+3)*int64(time.Millisecond))
		}
	}
	fine.Schedule(c, time.Now().UnixNano())
	deadline = time.Now().Add(5 * time.Second)
	for len(c.calls()) < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := c.calls()
	if len(got) != 3 {
		t.Fatalf("called back %d times, want 3", len(got))
	}
	if d := time.Duration(got[1] - got[0]); d < (slots+3)*time.Millisecond {
		t.Errorf("called back again after %v, before the %v it asked for", d, (slots+3)*time.Millisecond)
	}
	fine.Unschedule(c)
}

func TestTickFor(t *testing.T) {
	for _, c := range []struct{ ping, pong, want time.Duration }{
		{30 * time.Second, 10 * time.Second, time.Second},
		{100 * time.Millisecond, 400 * time.Millisecond, 25 * time.Millisecond},
		{time.Microsecond, time.Microsecond, time.Millisecond},
		{2 * time.Second, 0, 500 * time.Millisecond},
	} {
		if got := TickFor(c.ping, c.pong); got != c.want {
			t.Errorf("TickFor(%v, %v) = %v, want %v", c.ping, c.pong, got, c.want)
		}
	}
}
