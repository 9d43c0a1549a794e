// Package exampletest runs an example's server for its test.
package exampletest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
)

// RunFunc is an example's entry point: it serves on addr until ctx ends, calling ready with
// its URL once it listens.
type RunFunc func(ctx context.Context, addr string, ready func(url string)) error

// Start runs the example on a free loopback port until the test ends and returns the URL it
// announced. At cleanup it stops the example, checks it returned cleanly, and that no
// goroutine is left behind.
func Start(t testing.TB, run RunFunc) string {
	t.Helper()
	leakcheck.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	urls, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(url string) { urls <- url }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case url := <-urls:
		return url
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the example did not start")
	}
	return ""
}
