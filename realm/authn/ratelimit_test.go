package authn

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable time source for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLimiter(RateLimit{Burst: 3, Refill: 10 * time.Second, Delay: 100 * time.Millisecond, MaxDelay: time.Second})
	l.now = clock.now
	guesser := attempt{addr: "a", authID: "x"}
	var delays []time.Duration
	for i := 0; i < 3; i++ {
		if _, refused, _ := l.admit(guesser); refused {
			t.Fatalf("refused after %d failures", i)
		}
		delays = append(delays, l.fail(guesser))
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}; !equalDurations(delays, want) {
		t.Errorf("delays %v, want %v", delays, want)
	}
	if _, refused, retry := l.admit(guesser); !refused || retry != 10*time.Second {
		t.Errorf("after 3 failures: refused=%v retry=%v, want true 10s", refused, retry)
	}
	if _, refused, _ := l.admit(attempt{addr: "a", authID: "y"}); refused {
		t.Error("another authid is refused at the guesser's address")
	}
	if _, refused, _ := l.admit(attempt{addr: "b", authID: "x"}); refused {
		t.Error("the authid is refused from another address")
	}
	clock.t = clock.t.Add(5 * time.Second)
	if _, refused, retry := l.admit(guesser); !refused || retry != 5*time.Second {
		t.Errorf("half a refill later: refused=%v retry=%v", refused, retry)
	}
	clock.t = clock.t.Add(5 * time.Second)
	if _, refused, _ := l.admit(guesser); refused {
		t.Error("still refused after a refill")
	}
	// The delay is capped.
	for i := 0; i < 10; i++ {
		if d := l.fail(attempt{addr: "c", authID: "z"}); d > time.Second {
			t.Fatalf("delay %v above the cap", d)
		}
	}
	// Leaked keys go first when the table is full; the table stays bounded.
	small := newLimiter(RateLimit{MaxKeys: 4, Refill: time.Second})
	small.now = clock.now
	for i := 0; i < 100; i++ {
		small.fail(attempt{addr: strings.Repeat("k", i+1)})
		small.succeed(attempt{addr: strings.Repeat("k", i+1), authID: "u"})
		clock.t = clock.t.Add(100 * time.Millisecond)
	}
	if n := small.size(); n > 4 {
		t.Errorf("limiter holds %d keys, bound 4", n)
	}
	if n := len(small.known); n > 4 {
		t.Errorf("limiter knows %d pairs, bound 4", n)
	}
	if l := newLimiter(RateLimit{Disabled: true}); l != nil {
		t.Error("disabled limiter exists")
	}
	var none *limiter
	if _, refused, _ := none.admit(guesser); refused || none.fail(guesser) != 0 {
		t.Error("a disabled limiter limits")
	}
	noDelay := newLimiter(RateLimit{Delay: -1})
	if d := noDelay.fail(guesser); d != 0 {
		t.Errorf("negative delay gave %v", d)
	}
}

// One address guessing many users (a NAT, an attacker behind it) is refused past the
// address ceiling, but only for users that never logged in from there: a user who did keeps
// logging in.
func TestLimiterAddressCeilingSparesKnownUsers(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLimiter(RateLimit{Burst: 3, AddressBurst: 6, Refill: time.Hour, Delay: -1})
	l.now = clock.now
	honest := attempt{addr: "nat", authID: "joe"}
	l.succeed(honest)
	for i := 0; i < 6; i++ {
		if _, refused, _ := l.admit(attempt{addr: "nat", authID: fmt.Sprint("user", i)}); refused {
			t.Fatalf("refused after %d failures from the address", i)
		}
		l.fail(attempt{addr: "nat", authID: fmt.Sprint("user", i)})
	}
	if _, refused, _ := l.admit(attempt{addr: "nat", authID: "someone"}); !refused {
		t.Error("an address past its ceiling may still try new authids")
	}
	if wait, refused, _ := l.admit(honest); refused || wait != 0 {
		t.Errorf("a user who logged in from the address is refused (%v) or kept waiting (%v) by others' failures", refused, wait)
	}
	if _, refused, _ := l.admit(attempt{addr: "elsewhere", authID: "someone"}); refused {
		t.Error("the ceiling of one address refuses another")
	}
}

// Guessing one user's secret from many addresses never locks the user out: attempts from
// addresses the user has not logged in from take turns, MaxDelay apart, which bounds the
// guessing; the user from a known address goes straight through.
func TestLimiterAuthIDSlowsButNeverLocks(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLimiter(RateLimit{Burst: 3, AuthIDBurst: 5, Refill: time.Hour, Delay: -1, MaxDelay: 2 * time.Second})
	l.now = clock.now
	home := attempt{addr: "home", authID: "joe"}
	l.succeed(home)
	turns := 0
	for i := 0; i < 50; i++ { // a botnet: one guess per address, all at once
		bot := attempt{addr: fmt.Sprint("bot", i), authID: "joe"}
		wait, refused, _ := l.admit(bot)
		if refused {
			continue
		}
		if i >= 5 {
			if want := time.Duration(turns) * 2 * time.Second; wait != want {
				t.Fatalf("guess %d waits %v, want its turn %v", i, wait, want)
			}
			turns++
		}
		l.fail(bot)
	}
	// Beyond the first 5, guesses get a turn every 2s, at most maxTurnWait ahead: bounded.
	if max := int(maxTurnWait/(2*time.Second)) + 1; turns > max {
		t.Errorf("%d guesses admitted at once past the authid's burst, want at most %d", turns, max)
	}
	if wait, refused, _ := l.admit(home); refused || wait != 0 {
		t.Errorf("the user at a known address: refused=%v wait=%v, want straight through", refused, wait)
	}
	// Once the flood's turns have passed, the user gets in from a new address too.
	clock.t = clock.t.Add(time.Minute)
	if wait, refused, _ := l.admit(attempt{addr: "cafe", authID: "joe"}); refused || wait > 2*time.Second {
		t.Errorf("the user from a new address after the flood: refused=%v wait=%v", refused, wait)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
