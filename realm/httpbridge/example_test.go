package httpbridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// A publisher and a caller service next to the WAMP endpoint of a router: one HTTP request
// publishes, another calls a procedure a WAMP session registered.
func Example() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router := realm.NewRouter(log, realm.New(realm.Config{Name: "realm1"}, log))
	bridge := httpbridge.New(router, httpbridge.Options{Logger: log})
	mux := http.NewServeMux()
	mux.Handle("/ws", router.WebSocketHandler(realm.EndpointOptions{}))
	for _, cfg := range []httpbridge.ServiceConfig{
		{Path: "/publish", Type: httpbridge.TypePublisher, Realm: "realm1", Role: "backend"},
		{Path: "/call", Type: httpbridge.TypeCaller, Realm: "realm1", Role: "backend"},
	} {
		svc, err := bridge.Handler(cfg)
		if err != nil {
			panic(err)
		}
		mux.Handle(cfg.Path, svc)
		<-svc.Joined()
	}
	srv := httptest.NewServer(mux)
	defer func() {
		srv.Close()
		bridge.Close()
		router.Shutdown(time.Second)
	}()

	// A WAMP peer (here an in-process one) listens and serves a procedure.
	ctx := context.Background()
	peer, _ := router.LocalClient(ctx, "realm1", client.Options{})
	defer peer.Close()
	got := make(chan string, 1)
	peer.Subscribe(ctx, "com.example.hello", func(e *client.Event) { got <- fmt.Sprint(e.Args...) }, nil)
	peer.Register(ctx, "com.example.add2", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := wamp.AsInt64(inv.Args[0])
		b, _ := wamp.AsInt64(inv.Args[1])
		return &client.Result{Args: wamp.List{a + b}}, nil
	}, nil)

	resp, _ := http.Post(srv.URL+"/publish", "application/json",
		strings.NewReader(`{"topic": "com.example.hello", "args": ["Hello over HTTP"]}`))
	resp.Body.Close()
	fmt.Println("publish:", resp.Status, "event:", <-got)

	resp, _ = http.Post(srv.URL+"/call", "application/json",
		strings.NewReader(`{"procedure": "com.example.add2", "args": [2, 3]}`))
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print("call: ", resp.Status, " ", string(answer))
	// Output:
	// publish: 200 OK event: Hello over HTTP
	// call: 200 OK {"args":[5]}
}
