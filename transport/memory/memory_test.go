package memory

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/session/peer"
)

func read(t *testing.T, c *Conn) string {
	t.Helper()
	got := make(chan []byte, 1)
	errc := make(chan error, 1)
	go func() {
		f, err := c.Read()
		if err != nil {
			errc <- err
			return
		}
		got <- f
	}()
	select {
	case f := <-got:
		return string(f)
	case err := <-errc:
		t.Fatalf("Read: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return")
	}
	return ""
}

func TestPipeCarriesFramesInOrderBothWays(t *testing.T) {
	router, client := Pipe(Options{Serializer: "msgpack", Value: "who"})
	if router.Serializer() != "msgpack" || client.Serializer() != "msgpack" || router.Value() != "who" {
		t.Fatalf("serializer %q/%q value %v", router.Serializer(), client.Serializer(), router.Value())
	}
	if d := router.Details(); d.Transport != "memory" || d.Request != nil || d.TLS != nil || d.RemoteAddr.String() != "memory" {
		t.Errorf("details %+v", d)
	}
	for _, f := range []string{"a", "b", "c"} {
		if err := client.SendWait(context.Background(), []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	router.SendNow([]byte("reply"))
	router.SendFanout([]byte("event"), client)
	for _, want := range []string{"a", "b", "c"} {
		if got := read(t, router); got != want {
			t.Errorf("router read %q, want %q", got, want)
		}
	}
	for _, want := range []string{"reply", "event"} {
		if got := read(t, client); got != want {
			t.Errorf("client read %q, want %q", got, want)
		}
	}
}

// The router's sends never wait: a client that does not read fills its bounded queue, and the
// next send says so (the session layer then cuts the client off).
func TestRouterSendsToAFullQueueFail(t *testing.T) {
	router, client := Pipe(Options{QueueMessages: 2, QueueBytes: 10})
	if err := router.SendNow([]byte("12345")); err != nil {
		t.Fatal(err)
	}
	if err := router.SendFanout([]byte("12345"), nil); err != nil {
		t.Fatal(err)
	}
	if err := router.SendNow([]byte("x")); !errors.Is(err, peer.ErrQueueFull) {
		t.Fatalf("third send: %v, want ErrQueueFull (message bound)", err)
	}
	if m, b := router.Queued(); m != 2 || b != 10 {
		t.Errorf("Queued = %d, %d", m, b)
	}
	read(t, client)
	if err := router.SendNow([]byte("123456")); !errors.Is(err, peer.ErrQueueFull) {
		t.Fatalf("send past the byte bound: %v, want ErrQueueFull", err)
	}
	if err := router.SendNow([]byte("12345")); err != nil {
		t.Fatalf("send within both bounds: %v", err)
	}
}

// The client waits for room instead, until the router reads or its context ends.
func TestClientSendWaitsForRoom(t *testing.T) {
	router, client := Pipe(Options{QueueMessages: 1})
	if err := client.SendWait(context.Background(), []byte("1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := client.SendWait(ctx, []byte("2")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendWait on a full queue: %v, want the context's error", err)
	}
	sent := make(chan error, 1)
	go func() { sent <- client.SendWait(context.Background(), []byte("2")) }()
	if got := read(t, router); got != "1" {
		t.Fatalf("read %q", got)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if got := read(t, router); got != "2" {
		t.Fatalf("read %q", got)
	}
}

// Close delivers what was sent before it, then both ends' reads fail; Abort drops what the
// aborting end sent; Done unblocks the other end's Read.
func TestCloseAbortDone(t *testing.T) {
	router, client := Pipe(Options{})
	router.SendNow([]byte("goodbye"))
	router.Close(peer.CloseNormal, "bye")
	if err := router.SendNow([]byte("late")); !errors.Is(err, peer.ErrClosed) {
		t.Errorf("send after Close: %v", err)
	}
	if got := read(t, client); got != "goodbye" {
		t.Fatalf("read %q", got)
	}
	for _, c := range []*Conn{client, router} {
		if _, err := c.Read(); !errors.Is(err, peer.ErrClosed) {
			t.Errorf("Read after Close: %v", err)
		}
	}

	router, client = Pipe(Options{})
	router.SendNow([]byte("dropped"))
	router.Abort(peer.CloseTryAgainLater, "slow")
	if _, err := client.Read(); !errors.Is(err, peer.ErrClosed) {
		t.Errorf("Read after Abort: %v (what was queued must be dropped)", err)
	}

	router, client = Pipe(Options{})
	done := make(chan error, 1)
	go func() { _, err := router.Read(); done <- err }()
	client.Done()
	select {
	case err := <-done:
		if !errors.Is(err, peer.ErrClosed) {
			t.Errorf("Read after the other end's Done: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after the other end's Done")
	}
}
