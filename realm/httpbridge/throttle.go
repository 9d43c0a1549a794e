package httpbridge

import (
	"log/slog"
	"sync"
	"time"
)

// throttledLog logs a recurring warning at most once per interval, saying how many were
// left out meanwhile: a target that is down must not flood the router's log.
type throttledLog struct {
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (l *throttledLog) warn(msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.skipped++
		l.mu.Unlock()
		return
	}
	skipped := l.skipped
	l.last, l.skipped = now, 0
	l.mu.Unlock()
	if skipped > 0 {
		args = append(args, "similar_left_out", skipped)
	}
	l.log.Warn(msg, args...)
}
