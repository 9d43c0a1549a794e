package realm

import (
	"math"
	"sync"
	"time"
)

// limiter counts authentication failures per key (a peer's address, an authid) in a leaky
// bucket: each failure adds one, one leaks out per refill period. A key whose bucket is full
// is refused until it has leaked. It keeps no goroutine: levels are computed when a key is
// looked at, and its memory is bounded by maxKeys.
type limiter struct {
	burst    float64
	refill   time.Duration
	delay    time.Duration
	maxDelay time.Duration
	maxKeys  int
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*bucket
}

type bucket struct {
	level float64   // failures not yet forgiven, as of at
	at    time.Time // when level was computed
}

func newLimiter(c RateLimit) *limiter {
	if c.Disabled {
		return nil
	}
	l := &limiter{burst: float64(c.Burst), refill: c.Refill, delay: c.Delay, maxDelay: c.MaxDelay,
		maxKeys: c.MaxKeys, now: time.Now, keys: map[string]*bucket{}}
	if l.burst <= 0 {
		l.burst = 10
	}
	if l.refill <= 0 {
		l.refill = 30 * time.Second
	}
	if l.delay == 0 {
		l.delay = 200 * time.Millisecond
	}
	if l.maxDelay <= 0 {
		l.maxDelay = 3 * time.Second
	}
	if l.maxKeys <= 0 {
		l.maxKeys = 100_000
	}
	return l
}

// level is a bucket's level now. Called with l.mu held.
func (l *limiter) level(b *bucket, now time.Time) float64 {
	leaked := float64(now.Sub(b.at)) / float64(l.refill)
	return math.Max(0, b.level-leaked)
}

// blocked reports whether any key is out of failures, and when the first of them may try again.
func (l *limiter) blocked(keys ...string) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		b, ok := l.keys[k]
		if !ok {
			continue
		}
		if over := l.level(b, now) - (l.burst - 1); over > 0 {
			if w := time.Duration(over * float64(l.refill)); w > wait {
				wait = w
			}
		}
	}
	return wait > 0, wait
}

// fail records a failure for every key and returns how long to wait before answering it.
func (l *limiter) fail(keys ...string) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	worst := 0.0
	for _, k := range keys {
		b, ok := l.keys[k]
		if !ok {
			if len(l.keys) >= l.maxKeys {
				l.evict(now)
			}
			b = &bucket{}
			l.keys[k] = b
		}
		b.level, b.at = l.level(b, now)+1, now
		worst = math.Max(worst, b.level)
	}
	if l.delay < 0 {
		return 0
	}
	// delay, 2*delay, 4*delay... up to maxDelay.
	d := time.Duration(float64(l.delay) * math.Pow(2, math.Min(worst-1, 30)))
	return min(d, l.maxDelay)
}

// evict frees room: first every key that has leaked empty, then, if that was not enough,
// whatever keys the map yields first. Called with l.mu held.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.keys {
		if l.level(b, now) == 0 {
			delete(l.keys, k)
		}
	}
	for k := range l.keys {
		if len(l.keys) < l.maxKeys {
			break
		}
		delete(l.keys, k)
	}
}

// size is the number of keys tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
