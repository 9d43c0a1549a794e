package rpc

import (
	"container/heap"
	"sync"
	"time"
)

// timeouts holds the deadlines of calls with a timeout in one heap per dealer, served by a
// single timer re-armed for the earliest deadline: no goroutine or timer per call.
type timeouts struct {
	mu     sync.Mutex
	heap   deadlineHeap
	timer  *time.Timer
	armed  time.Time
	expire func(inv *invocation)
}

type deadlineHeap []*invocation

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *deadlineHeap) Push(x any) {
	inv := x.(*invocation)
	inv.heapIndex = len(*h)
	*h = append(*h, inv)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	inv := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	inv.heapIndex = -1
	return inv
}

// add schedules inv to expire at inv.deadline.
func (t *timeouts) add(inv *invocation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	heap.Push(&t.heap, inv)
	t.rearm()
}

// remove unschedules inv (a no-op when it is not scheduled).
func (t *timeouts) remove(inv *invocation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if inv.heapIndex >= 0 && inv.heapIndex < len(t.heap) && t.heap[inv.heapIndex] == inv {
		heap.Remove(&t.heap, inv.heapIndex)
	}
}

// Len is the number of scheduled deadlines.
func (t *timeouts) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.heap)
}

// rearm points the timer at the earliest deadline. Caller holds t.mu.
func (t *timeouts) rearm() {
	if len(t.heap) == 0 {
		return
	}
	first := t.heap[0].deadline
	if t.timer != nil && !t.armed.IsZero() && !first.Before(t.armed) {
		return // already armed for an earlier or equal deadline
	}
	t.armed = first
	d := time.Until(first)
	if t.timer == nil {
		t.timer = time.AfterFunc(d, t.fire)
	} else {
		t.timer.Reset(d)
	}
}

// fire expires every call whose deadline has passed.
func (t *timeouts) fire() {
	now := time.Now()
	var due []*invocation
	t.mu.Lock()
	t.armed = time.Time{}
	for len(t.heap) > 0 && !t.heap[0].deadline.After(now) {
		due = append(due, heap.Pop(&t.heap).(*invocation))
	}
	t.rearm()
	t.mu.Unlock()
	for _, inv := range due {
		t.expire(inv)
	}
}

// stop releases the timer.
func (t *timeouts) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
	}
}
