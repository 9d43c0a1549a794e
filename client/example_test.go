package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// A Go backend that registers a procedure, subscribes, publishes and calls.
func Example() {
	// A router in this process, on a loopback port (a deployment runs cmd/pawl instead).
	router := realm.NewRouter(nil, realm.New(realm.Config{Name: "realm1"}, nil))
	srv := httptest.NewServer(router.WebSocketHandler(realm.EndpointOptions{}))
	defer srv.Close()
	defer router.Shutdown(time.Second)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") // ws://127.0.0.1:PORT

	ctx := context.Background()
	c, err := client.Dial(ctx, url, "realm1", client.Options{Serializer: "msgpack"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A procedure: return a result, or a *wamp.ApplicationError to fail with a URI.
	_, err = c.Register(ctx, "com.example.add2", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a, okA := wamp.AsInt64(inv.Args[0])
		b, okB := wamp.AsInt64(inv.Args[1])
		if !okA || !okB {
			return nil, wamp.NewError("com.example.error.not_a_number", "add2 takes two integers")
		}
		return &client.Result{Args: wamp.List{a + b}}, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Events arrive in order on one goroutine per client.
	events := make(chan string, 1)
	_, err = c.Subscribe(ctx, "com.example.hello", func(e *client.Event) {
		events <- fmt.Sprint("event: ", e.Args)
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	// acknowledge: wait until the router has taken the event; exclude_me false: the
	// publisher, subscribed itself, gets it too.
	err = c.Publish(ctx, "com.example.hello", wamp.Dict{"acknowledge": true, "exclude_me": false},
		wamp.List{"Hello, world"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-events)

	res, err := c.Call(ctx, "com.example.add2", nil, wamp.List{2, 3}, nil)
	if err != nil {
		log.Fatal(err) // a *wamp.ApplicationError carries the error URI and payload
	}
	fmt.Println("2 + 3 =", res.Args[0])
	// Output:
	// event: [Hello, world]
	// 2 + 3 = 5
}
