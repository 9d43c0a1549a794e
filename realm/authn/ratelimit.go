package authn

import (
	"math"
	"sync"
	"time"
)

// limiter slows down password guessing without letting a guesser lock anyone else out. It
// counts authentication failures in leaky buckets (each failure adds one, one leaks out per
// refill period) under three kinds of key:
//
//   - the pair (address, authid): Burst failures lock that pair only — the guesser's own
//     address for that user — until one leaks out. This is the hard bound on guessing one
//     user's secret from one place.
//   - the address: AddressBurst failures (default 10×Burst: many users may share an address
//     behind NAT) lock the address for every authid it has never logged in as. A pair that
//     has logged in before (a known pair) is never refused for its address's failures.
//   - the authid: a user's failures from everywhere never lock the user out. Once they pass
//     AuthIDBurst, attempts for that authid from addresses that are not known pairs take
//     turns, MaxDelay apart: a guesser with many addresses gets one guess per MaxDelay, the
//     user from where they logged in before goes straight through, and from a new address
//     waits its turn.
//
// Each failure is answered after a delay that doubles with the pair's failures, from Delay up
// to MaxDelay. The limiter keeps no goroutine: levels are computed when a key is looked at;
// its memory is bounded by MaxKeys.
type limiter struct {
	burst        float64
	addressBurst float64
	authIDBurst  float64
	refill       time.Duration
	delay        time.Duration
	maxDelay     time.Duration
	maxKeys      int
	now          func() time.Time

	mu    sync.Mutex
	keys  map[string]*bucket
	known map[attempt]time.Time // pairs that logged in, and when
}

type bucket struct {
	level float64   // failures not yet forgiven, as of at
	at    time.Time // when level was computed
	turn  time.Time // authid keys: when the next attempt from an unknown pair may go
}

// attempt is who tries to log in: the peer's address (without port) and the authid.
type attempt struct{ addr, authID string }

// knownFor is how long a successful login makes its pair known.
const knownFor = 30 * 24 * time.Hour

// maxTurnWait bounds how long an attempt waits for its authid's turn; beyond it the attempt
// is refused with a time to retry (the user is flooded by guessers from many addresses).
const maxTurnWait = 20 * time.Second

func newLimiter(c RateLimit) *limiter {
	if c.Disabled {
		return nil
	}
	l := &limiter{burst: float64(c.Burst), addressBurst: float64(c.AddressBurst), authIDBurst: float64(c.AuthIDBurst),
		refill: c.Refill, delay: c.Delay, maxDelay: c.MaxDelay, maxKeys: c.MaxKeys, now: time.Now,
		keys: map[string]*bucket{}, known: map[attempt]time.Time{}}
	if l.burst <= 0 {
		l.burst = 10
	}
	if l.addressBurst <= 0 {
		l.addressBurst = 10 * l.burst
	}
	if l.authIDBurst <= 0 {
		l.authIDBurst = l.burst
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

func (a attempt) pairKey() string   { return "pair:" + a.addr + "|" + a.authID }
func (a attempt) addrKey() string   { return "addr:" + a.addr }
func (a attempt) authIDKey() string { return "authid:" + a.authID }

// level is a bucket's level now. Called with l.mu held.
func (l *limiter) level(b *bucket, now time.Time) float64 {
	leaked := float64(now.Sub(b.at)) / float64(l.refill)
	return math.Max(0, b.level-leaked)
}

// over reports how long until key's bucket is below limit again (0: it is). Called with l.mu held.
func (l *limiter) over(key string, limit float64, now time.Time) time.Duration {
	b, ok := l.keys[key]
	if !ok {
		return 0
	}
	if over := l.level(b, now) - (limit - 1); over > 0 {
		return time.Duration(over * float64(l.refill))
	}
	return 0
}

// isKnown reports whether the pair has logged in within knownFor. Called with l.mu held.
func (l *limiter) isKnown(a attempt, now time.Time) bool {
	at, ok := l.known[a]
	return ok && now.Sub(at) < knownFor
}

// admit decides whether an attempt may go ahead: refused (with when to retry), or allowed
// after waiting wait (its authid's turn).
func (l *limiter) admit(a attempt) (wait time.Duration, refused bool, retry time.Duration) {
	if l == nil {
		return 0, false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if w := l.over(a.pairKey(), l.burst, now); w > 0 {
		return 0, true, w
	}
	known := l.isKnown(a, now)
	if known {
		return 0, false, 0
	}
	if w := l.over(a.addrKey(), l.addressBurst, now); w > 0 {
		return 0, true, w
	}
	if a.authID == "" {
		return 0, false, 0
	}
	b, ok := l.keys[a.authIDKey()]
	if !ok || l.level(b, now) <= l.authIDBurst-1 {
		return 0, false, 0
	}
	// The authid is under attack: unknown pairs take turns, maxDelay apart.
	turn := b.turn
	if turn.Before(now) {
		turn = now
	}
	if wait = turn.Sub(now); wait > maxTurnWait {
		return 0, true, wait
	}
	b.turn = turn.Add(l.maxDelay)
	return wait, false, 0
}

// fail records a failed attempt and returns how long to wait before answering it.
func (l *limiter) fail(a attempt) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	pair := l.add(a.pairKey(), now)
	l.add(a.addrKey(), now)
	if a.authID != "" {
		l.add(a.authIDKey(), now)
	}
	if l.delay < 0 {
		return 0
	}
	// delay, 2*delay, 4*delay... up to maxDelay.
	d := time.Duration(float64(l.delay) * math.Pow(2, math.Min(pair-1, 30)))
	return min(d, l.maxDelay)
}

// add adds a failure to key's bucket and returns its new level. Called with l.mu held.
func (l *limiter) add(key string, now time.Time) float64 {
	b, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{}
		l.keys[key] = b
	}
	b.level, b.at = l.level(b, now)+1, now
	return b.level
}

// succeed records a login: the pair becomes known, and its failures are forgiven.
func (l *limiter) succeed(a attempt) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	delete(l.keys, a.pairKey())
	if _, ok := l.known[a]; !ok && len(l.known) >= l.maxKeys {
		for old, at := range l.known { // forget the expired, or else any one
			if now.Sub(at) >= knownFor {
				delete(l.known, old)
			}
		}
		for old := range l.known {
			if len(l.known) < l.maxKeys {
				break
			}
			delete(l.known, old)
		}
	}
	l.known[a] = now
}

// evict frees room: first every key that has leaked empty, then, if that was not enough,
// whatever keys the map yields first. Called with l.mu held.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.keys {
		if l.level(b, now) == 0 && !b.turn.After(now) {
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
