package main

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// feed records the events a handler got, in order.
type feed struct {
	mu   sync.Mutex
	got  []int64
	more chan struct{}
}

func newFeed() *feed { return &feed{more: make(chan struct{}, 1000)} }

func (f *feed) handle(e *client.Event) {
	n, _ := wamp.AsInt64(e.Args[0])
	f.mu.Lock()
	f.got = append(f.got, n)
	f.mu.Unlock()
	f.more <- struct{}{}
}

// waitFor waits until the feed holds n events and returns them.
func (f *feed) waitFor(t *testing.T, n int) []int64 {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		f.mu.Lock()
		got := slices.Clone(f.got)
		f.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-f.more:
		case <-deadline:
			t.Fatalf("got events %v, want %d of them", got, n)
		}
	}
}

// The Go client with a ReconnectPolicy survives a router restart on the same port: it joins
// again by itself, its procedure is registered again, its subscription is back, and with
// Resume it gets, from the event history kept in the bbolt data_dir, the events published
// while it was away — right after the last one it saw, before newer ones, none twice.
func TestClientReconnectsAcrossRestart(t *testing.T) {
	leakcheck.Check(t)
	addr := freeLoopbackAddr(t)
	cfg := configFrom(t, "listeners: [{listen: '"+addr+"'}]\n"+
		"realms: [{name: realm1, history: {topics: [{topic: com.example.feed, limit: 100}]}}]\n"+
		"data_dir: "+filepath.Join(t.TempDir(), "data")+"\n")
	url, stop, _ := startServe(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	away := make(chan struct{}) // the test lets the client come back once events were missed
	lost := make(chan error, 1)
	rejoined := make(chan struct{}, 1)
	c, err := client.Dial(ctx, url, "realm1", client.Options{Reconnect: &client.ReconnectPolicy{
		InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond,
		OnDisconnect: func(err error) { lost <- err; <-away },
		OnRejoin:     func(*client.Client) { rejoined <- struct{}{} },
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	firstID := c.ID()
	events := newFeed()
	if _, err := c.SubscribeWith(ctx, "com.example.feed", events.handle, client.SubscribeOptions{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, "com.example.double", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		n, _ := wamp.AsInt64(inv.Args[0])
		return &client.Result{Args: wamp.List{2 * n}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	publish := func(p *client.Client, from, to int) {
		t.Helper()
		for n := from; n <= to; n++ {
			if err := p.Publish(ctx, "com.example.feed", wamp.Dict{"acknowledge": true}, wamp.List{n}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	p, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	publish(p, 1, 3)
	events.waitFor(t, 3)

	if err := stop(); err != nil { // SIGTERM, as it were
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		var ae *wamp.ApplicationError
		if !errors.As(err, &ae) || ae.URI != wamp.CloseSystemShutdown {
			t.Errorf("OnDisconnect got %v, want the router's %s", err, wamp.CloseSystemShutdown)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not notice the shutdown")
	}
	<-p.Done() // a client without a policy stays gone
	if _, err := p.Call(ctx, "com.example.double", nil, wamp.List{1}, nil); !errors.Is(err, client.ErrClosed) {
		t.Errorf("a client without a ReconnectPolicy: %v, want ErrClosed", err)
	}

	_, stop2, _ := startServe(t, cfg) // the same port, the same data_dir
	p2, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	publish(p2, 4, 6) // while the subscriber is away
	close(away)
	select {
	case <-rejoined:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not rejoin")
	}
	if c.ID() == firstID {
		t.Error("the rejoined session kept its old session ID")
	}
	if got := events.waitFor(t, 6); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("events %v, want 1..6: the missed ones replayed in order after the last one seen", got)
	}
	publish(p2, 7, 7)
	if got := events.waitFor(t, 7); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("events %v, want 1..7 (live events after the replay, none twice)", got)
	}
	res, err := p2.Call(ctx, "com.example.double", nil, wamp.List{21}, nil)
	if err != nil {
		t.Fatalf("the procedure was not registered again: %v", err)
	}
	if n, _ := wamp.AsInt64(res.Args[0]); n != 42 {
		t.Errorf("double(21) = %v", res.Args)
	}
	if c.Err() != nil {
		t.Errorf("Err() = %v on a rejoined client", c.Err())
	}
	c.Close()
	p2.Close()
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

// A client whose router does not come back gives up after MaxAttempts, and its session ends
// with the reason it was lost.
func TestClientReconnectGivesUp(t *testing.T) {
	leakcheck.Check(t)
	cfg := configFrom(t, "listeners: [{listen: '"+freeLoopbackAddr(t)+"'}]\nrealms: [{name: realm1}]\n")
	url, stop, _ := startServe(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, "realm1", client.Options{Reconnect: &client.ReconnectPolicy{
		InitialDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client kept trying past MaxAttempts")
	}
	var ae *wamp.ApplicationError
	if !errors.As(c.Err(), &ae) || ae.URI != wamp.CloseSystemShutdown {
		t.Errorf("Err() = %v, want %s", c.Err(), wamp.CloseSystemShutdown)
	}
}

// Close while the client waits to reconnect ends it at once, as a Close would: no error, no
// goroutine left trying.
func TestClientCloseWhileReconnecting(t *testing.T) {
	leakcheck.Check(t)
	cfg := configFrom(t, "listeners: [{listen: '"+freeLoopbackAddr(t)+"'}]\nrealms: [{name: realm1}]\n")
	url, stop, _ := startServe(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lost := make(chan error, 1)
	c, err := client.Dial(ctx, url, "realm1", client.Options{Reconnect: &client.ReconnectPolicy{
		InitialDelay: time.Hour, OnDisconnect: func(err error) { lost <- err }}})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	<-lost
	if _, err := c.Call(ctx, "com.example.x", nil, nil, nil); !errors.Is(err, client.ErrClosed) {
		t.Errorf("a call while reconnecting: %v, want ErrClosed", err)
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the reconnect delay")
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err() = %v after Close", err)
	}
}
