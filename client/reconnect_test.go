package client

import (
	"testing"
	"time"
)

// Waits between attempts grow by the multiplier up to the cap, each spread by the jitter;
// the zero policy has useful defaults.
func TestReconnectBackoff(t *testing.T) {
	p := ReconnectPolicy{InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second, Multiplier: 2, Jitter: 0.25}.withDefaults()
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		lo, hi := time.Duration(float64(want)*0.75), time.Duration(float64(want)*1.25)
		spread := map[time.Duration]bool{}
		for range 200 {
			d := p.delay(n)
			if d < lo || d > hi {
				t.Fatalf("attempt %d waits %v, want %v ± 25%%", n, d, want)
			}
			spread[d] = true
		}
		if len(spread) < 50 {
			t.Errorf("attempt %d: only %d distinct waits in 200: no jitter", n, len(spread))
		}
	}
	noJitter := ReconnectPolicy{InitialDelay: time.Second, Jitter: -1}.withDefaults()
	if d := noJitter.delay(3); d != 4*time.Second {
		t.Errorf("without jitter the third wait is %v, want 4s", d)
	}
	zero := ReconnectPolicy{}.withDefaults()
	if zero.InitialDelay != 500*time.Millisecond || zero.MaxDelay != 30*time.Second || zero.Multiplier != 2 ||
		zero.Jitter != 0.2 || zero.MaxAttempts != 0 {
		t.Errorf("zero policy defaults: %+v", zero)
	}
}
