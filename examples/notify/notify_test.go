package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/exampletest"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

func start(t *testing.T) string {
	t.Helper()
	hashParams = auth.HashParams{Algorithm: auth.HashArgon2id, Iterations: 1, Memory: 64} // cheap, for tests
	return exampletest.Start(t, run)
}

// inbox is a user's session subscribed to notifications.
type inbox struct {
	c      *client.Client
	mu     sync.Mutex
	events []*client.Event
	got    chan struct{}
}

func subscribe(t *testing.T, ctx context.Context, url, authid, serializer string) *inbox {
	t.Helper()
	c, err := client.Dial(ctx, url, realmName, client.Options{Serializer: serializer, AuthID: authid,
		Credentials: client.Credentials{Ticket: tickets[authid]}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if got, _ := c.Welcome().String("authid"); got != authid {
		t.Fatalf("joined as %q", got)
	}
	in := &inbox{c: c, got: make(chan struct{}, 16)}
	if _, err := c.Subscribe(ctx, notify, func(e *client.Event) {
		in.mu.Lock()
		in.events = append(in.events, e)
		in.mu.Unlock()
		in.got <- struct{}{}
	}, nil); err != nil {
		t.Fatal(err)
	}
	return in
}

func (in *inbox) texts() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, e := range in.events {
		from, _ := e.Kwargs.String("from")
		out = append(out, from+": "+e.Args[0].(string))
	}
	return out
}

// A notification reaches every session of its recipient and no one else's.
func TestPrivateNotifications(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alicePhone := subscribe(t, ctx, url, "alice", "json")
	aliceLaptop := subscribe(t, ctx, url, "alice", "msgpack")
	bob := subscribe(t, ctx, url, "bob", "json")
	carol := subscribe(t, ctx, url, "carol", "msgpack")

	if _, err := bob.c.Call(ctx, send, nil, wamp.List{"alice", "lunch at noon?"}, nil); err != nil {
		t.Fatal(err)
	}
	<-alicePhone.got
	<-aliceLaptop.got
	if _, err := alicePhone.c.Call(ctx, send, nil, wamp.List{"bob", "yes!"}, nil); err != nil {
		t.Fatal(err)
	}
	<-bob.got
	// Carol's message to herself is the last one sent, so once she has it, every earlier
	// notification has been delivered too (events of one publisher arrive in order).
	if _, err := carol.c.Call(ctx, send, nil, wamp.List{"carol", "note to self"}, nil); err != nil {
		t.Fatal(err)
	}
	<-carol.got
	for _, c := range []struct {
		in   *inbox
		want string
	}{
		{alicePhone, "bob: lunch at noon?"},
		{aliceLaptop, "bob: lunch at noon?"},
		{bob, "alice: yes!"},
		{carol, "carol: note to self"},
	} {
		if got := strings.Join(c.in.texts(), "|"); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// Users may not publish on the topic themselves, nor register the procedure; a wrong ticket
// does not get in.
func TestOnlyTheNotifierPublishes(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bob := subscribe(t, ctx, url, "bob", "json")
	var ae *wamp.ApplicationError
	err := bob.c.Publish(ctx, notify, wamp.Dict{"acknowledge": true}, wamp.List{"spoof"}, wamp.Dict{"from": "alice"})
	if !errors.As(err, &ae) || ae.URI != wamp.ErrNotAuthorized {
		t.Fatalf("bob's publish: %v", err)
	}
	_, err = bob.c.Register(ctx, send, func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
	if !errors.As(err, &ae) || ae.URI != wamp.ErrNotAuthorized {
		t.Fatalf("bob's register: %v", err)
	}
	_, err = bob.c.Call(ctx, send, nil, wamp.List{"alice"}, nil)
	if !errors.As(err, &ae) || ae.URI != wamp.ErrInvalidArgument {
		t.Fatalf("send without text: %v", err)
	}
	_, err = client.Dial(ctx, url, realmName, client.Options{AuthID: "alice", Credentials: client.Credentials{Ticket: "guess"}})
	if !errors.As(err, &ae) || ae.URI != wamp.ErrAuthenticationFailed {
		t.Fatalf("wrong ticket: %v", err)
	}
	_, err = client.Dial(ctx, url, realmName, client.Options{})
	if err == nil {
		t.Fatal("an anonymous client got in")
	}
}

func TestDemo(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	if err := demo(ctx, url, &out); err != nil {
		t.Fatal(err)
	}
	want := "alice got a notification from bob: lunch at noon?\n" +
		"bob got a notification from alice: yes!\n" +
		"carol may not publish there herself: wamp.error.not_authorized\n"
	if out.String() != want {
		t.Fatalf("demo printed:\n%s\nwant:\n%s", out.String(), want)
	}
}

// The demo runs on a port of its own: 8080 need not be free.
func TestDemoOnFreePort(t *testing.T) {
	if out := exampletest.RunDemo(t); !strings.Contains(out, "alice got a notification from bob: lunch at noon?\n") {
		t.Fatalf("demo printed:\n%s", out)
	}
}
