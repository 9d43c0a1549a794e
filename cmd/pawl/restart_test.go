package main

import (
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
)

// Zero-downtime restart: listeners use SO_REUSEPORT, so a second router serves the port of
// a running one; the first is stopped with SIGTERM, and clients that keep connecting
// throughout are served every time. A connection that was waiting in the old router's accept
// queue when it closed its socket is reset by Linux (unless net.ipv4.tcp_migrate_req=1 moves
// it to the new router); a client that retries at once, as WAMP clients do, is then served by
// the new router.
func TestRestartOnSharedPort(t *testing.T) {
	leakcheck.Check(t)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()

	dir := t.TempDir()
	config := writeFile(t, dir, "pawl.yaml", "listeners: [{listen: '"+addr+"'}]\nrealms: [{name: realm1}]\nlog: {level: debug}\n")
	old := startRouterProcess(t, dir, "serve", "-config", config)
	url := old.url(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	migrates := false // the kernel moves queued connections of a closing listener to its peers
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_migrate_req"); err == nil && len(b) > 0 && b[0] == '1' {
		migrates = true
	}
	var joined, failed, retried atomic.Int64
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
			c, err := client.Dial(ctx, url, "realm1", client.Options{})
			if err != nil && !migrates { // reset in the old router's queue: retry once
				retried.Add(1)
				t.Logf("retrying after: %v", err)
				c, err = client.Dial(ctx, url, "realm1", client.Options{})
			}
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

	next := startRouterProcess(t, dir, "serve", "-config", config)
	if got := next.url(t); got != url {
		t.Fatalf("the new router listens on %s, want %s", got, url)
	}
	waitJoins(5)
	old.stop(t)
	waitJoins(20) // all served by the new router now
	close(stop)
	wg.Wait()
	t.Logf("%d sessions joined; %d first attempts failed and were retried", joined.Load(), retried.Load())
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d connections failed during the restart; first: %v", n, n+joined.Load(), firstErr)
	}
	next.stop(t)
}
