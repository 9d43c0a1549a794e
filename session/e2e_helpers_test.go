package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

var serializers = []string{"json", "msgpack", "cbor"}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// join dials the router and closes the client when the test ends.
func join(t testing.TB, r *routertest.Router, serializer string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t), r.URL, "realm1", client.Options{Serializer: serializer})
	if err != nil {
		t.Fatalf("join (%s): %v", serializer, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// collector gathers events for assertions.
type collector chan *client.Event

func (c collector) handler(e *client.Event) { c <- e }

func (c collector) next(t testing.TB) *client.Event {
	t.Helper()
	select {
	case e := <-c:
		return e
	case <-time.After(10 * time.Second): // generous: CI runs packages side by side on 2 cores
		t.Fatal("no event within 10s")
		return nil
	}
}

// none asserts that no event arrives for a while.
func (c collector) none(t testing.TB, wait time.Duration) {
	t.Helper()
	select {
	case e := <-c:
		t.Fatalf("unexpected event: %+v", e)
	case <-time.After(wait):
	}
}

func appError(t testing.TB, err error) *wamp.ApplicationError {
	t.Helper()
	var ae *wamp.ApplicationError
	if err == nil {
		t.Fatal("expected an error, got none")
	}
	if !asAppError(err, &ae) {
		t.Fatalf("expected a *wamp.ApplicationError, got %T: %v", err, err)
	}
	return ae
}
