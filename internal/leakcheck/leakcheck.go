// Package leakcheck fails a test that leaves goroutines behind.
package leakcheck

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// checked holds the tests a Check watches.
var checked sync.Map // test name → true

// Check records the goroutines running now; at cleanup it waits (up to 5s) for the count to
// come back down and fails the test with the extra stacks if it does not. Only the first
// Check of a test and its subtests counts: its cleanup runs last, once everything started
// later is closed, whereas a later one would count what is still open at the time (a
// server's connections, whose goroutines may still be starting) into its baseline.
func Check(t testing.TB) {
	t.Helper()
	name := t.Name()
	for i := range len(name) {
		if name[i] == '/' {
			if _, ok := checked.Load(name[:i]); ok {
				return // a parent test checks
			}
		}
	}
	if _, dup := checked.LoadOrStore(name, true); dup {
		return
	}
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		defer checked.Delete(name)
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d running, %d before the test\n%s", n, before, interesting(string(buf)))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// interesting drops the test runner's own goroutines from a stack dump.
func interesting(dump string) string {
	var keep []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "testing.(*T).Run") || strings.Contains(g, "testing.tRunner") && strings.Contains(g, "testing.(*T).Parallel") {
			continue
		}
		keep = append(keep, g)
	}
	return strings.Join(keep, "\n\n")
}
