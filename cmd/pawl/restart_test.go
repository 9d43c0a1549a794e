package main

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/session"
)

// Zero-downtime restart: listeners use SO_REUSEPORT, so a second router serves the port of
// a running one; the first is stopped with SIGTERM, and clients that keep connecting
// throughout are served every time.
func TestRestartOnSharedPort(t *testing.T) {
	leakcheck.Check(t)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()

	old := startPawl(t, t.TempDir(), "serve", "-listen", addr)
	url := old.url(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var joined, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a client that keeps connecting, one connection at a time
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := session.Dial(ctx, url, "realm1", session.ClientOptions{})
			if err != nil {
				failed.Add(1)
				errOnce.Do(func() { firstErr = err })
			} else {
				joined.Add(1)
				c.Close()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	waitJoins := func(n int64) {
		t.Helper()
		target := joined.Load() + n
		for joined.Load() < target {
			if ctx.Err() != nil {
				t.Fatalf("clients stopped joining (%d failed: %v)", failed.Load(), firstErr)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitJoins(5)

	next := startPawl(t, t.TempDir(), "serve", "-listen", addr)
	if got := next.url(t); got != url {
		t.Fatalf("the new router listens on %s, want %s", got, url)
	}
	waitJoins(5)
	old.stop(t)
	waitJoins(20) // all served by the new router now
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d connections failed during the restart; first: %v", n, n+joined.Load(), firstErr)
	}
	next.stop(t)
}
