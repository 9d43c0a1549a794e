package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/exampletest"
	"github.com/pawl-wamp/pawl/wamp"
)

func start(t *testing.T) string {
	t.Helper()
	publishEvery = 20 * time.Millisecond
	return exampletest.Start(t, run)
}

// Clients of both serializers get the backend's hellos and call add2; a wrong argument gets
// the backend's error URI.
func TestBackend(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, serializer := range []string{"json", "msgpack"} {
		c, err := client.Dial(ctx, url, realmName, client.Options{Serializer: serializer})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		events := make(chan *client.Event, 16)
		if _, err := c.Subscribe(ctx, helloTopic, func(e *client.Event) {
			select {
			case events <- e:
			default:
			}
		}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-events:
			if n, ok := wamp.AsInt64(e.Args[1]); len(e.Args) != 2 || e.Args[0] != "Hello from the Go backend" || !ok || n < 1 {
				t.Fatalf("event %v", e.Args)
			}
			if _, ok := e.Kwargs.String("at"); !ok {
				t.Fatalf("event kwargs %v", e.Kwargs)
			}
		case <-ctx.Done():
			t.Fatal("no hello event")
		}
		res, err := c.Call(ctx, add2, nil, wamp.List{40, 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := wamp.AsInt64(res.Args[0]); n != 42 {
			t.Fatalf("add2(40, 2) = %v", res.Args)
		}
		_, err = c.Call(ctx, add2, nil, wamp.List{"forty", 2}, nil)
		var ae *wamp.ApplicationError
		if !errors.As(err, &ae) || ae.URI != errNotNumber {
			t.Fatalf("add2(\"forty\", 2): %v", err)
		}
		// A client's hello reaches the backend's subscription (logged) without error.
		if err := c.Publish(ctx, helloTopic, wamp.Dict{"acknowledge": true}, wamp.List{"Hello from " + serializer}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// The demo client prints what the README says it prints.
func TestDemo(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if err := demo(ctx, url, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"event on com.example.hello: [Hello from the Go backend ",
		"com.example.add2(2, 3) = 5\n",
		`com.example.add2("two", 3) failed: com.example.error.not_a_number [add2 takes two integers two 3]`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

// The demo runs on a port of its own: 8080 need not be free.
func TestDemoOnFreePort(t *testing.T) {
	if out := exampletest.RunDemo(t); !strings.Contains(out, "com.example.add2(2, 3) = 5\n") {
		t.Fatalf("demo printed:\n%s", out)
	}
}
