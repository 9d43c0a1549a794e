package realm_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// In-process clients reach the router over an in-memory connection: no socket, no HTTP. They
// join as trusted sessions, for backends embedded in the router's process.
func ExampleRouter_LocalClient() {
	router := realm.NewRouter(nil, realm.New(realm.Config{Name: "realm1"}, nil))
	defer router.Shutdown(time.Second)
	ctx := context.Background()

	backend, err := router.LocalClient(ctx, "realm1", client.Options{AuthID: "backend"})
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Close()
	_, err = backend.Register(ctx, "com.example.greet", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: wamp.List{fmt.Sprintf("hello, %v", inv.Args[0])}}, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	caller, err := router.LocalClient(ctx, "realm1", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()
	res, err := caller.Call(ctx, "com.example.greet", nil, wamp.List{"world"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	role, _ := backend.Welcome().String("authrole")
	fmt.Println(res.Args[0], "from a", role, "session")
	// Output: hello, world from a trusted session
}
