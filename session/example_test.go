package session_test

import (
	"context"
	"fmt"
	"log"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// A Go backend that registers a procedure, subscribes, publishes and calls.
func Example() {
	ctx := context.Background()
	c, err := session.Dial(ctx, "ws://127.0.0.1:8080/ws", "realm1", session.ClientOptions{Serializer: "msgpack"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A procedure: return a result, or a *wamp.ApplicationError to fail with a URI.
	_, err = c.Register(ctx, "com.example.add2", func(ctx context.Context, inv *session.Invocation) (*session.Result, error) {
		a, okA := wamp.AsInt64(inv.Args[0])
		b, okB := wamp.AsInt64(inv.Args[1])
		if !okA || !okB {
			return nil, wamp.NewError("com.example.error.not_a_number", "add2 takes two integers")
		}
		return &session.Result{Args: wamp.List{a + b}}, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Events arrive in order on one goroutine per client.
	_, err = c.Subscribe(ctx, "com.example.hello", func(e *session.Event) {
		fmt.Println("event:", e.Args, e.Kwargs)
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	// acknowledge: wait until the router has taken the event.
	err = c.Publish(ctx, "com.example.hello", wamp.Dict{"acknowledge": true}, wamp.List{"Hello, world"}, nil)
	if err != nil {
		log.Fatal(err)
	}

	res, err := c.Call(ctx, "com.example.add2", nil, wamp.List{2, 3}, nil)
	if err != nil {
		log.Fatal(err) // a *wamp.ApplicationError carries the error URI and payload
	}
	fmt.Println("2 + 3 =", res.Args[0])
}
