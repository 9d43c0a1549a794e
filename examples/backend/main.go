// Command backend is Thruway's "hello + add2" client in Go: a backend service that registers
// the procedure com.example.add2, publishes a greeting on com.example.hello every second, and
// logs what others publish there. By default it runs its own router (realm realm1, WAMP on
// /ws) and connects to it over WebSocket like any other client; with -router it joins an
// existing router instead.
//
//	go run ./examples/backend                                  # router + backend on 127.0.0.1:8080
//	go run ./examples/backend -router ws://127.0.0.1:8080/ws   # backend only, e.g. for cmd/pawl
//	go run ./examples/backend -demo                            # router + backend + a demo client, then exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
	"github.com/pawl-wamp/pawl/wamp"
)

const (
	realmName    wamp.URI = "realm1"
	helloTopic   wamp.URI = "com.example.hello"
	add2         wamp.URI = "com.example.add2"
	errNotNumber wamp.URI = "com.example.error.not_a_number"
)

// publishEvery is how often the backend says hello.
var publishEvery = time.Second

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port for the embedded router (port 0 picks a free one; -demo: a free one unless given)")
	routerURL := flag.String("router", "", "join this router (ws://host:port/ws) instead of running one")
	demoRun := flag.Bool("demo", false, "run a demo client against the backend, print what it sees, and exit")
	flag.Parse()
	listenGiven := false
	flag.Visit(func(f *flag.Flag) { listenGiven = listenGiven || f.Name == "listen" })
	if *demoRun && !listenGiven {
		*addr = "127.0.0.1:0" // the demo is its own client: any free port will do
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case *routerURL != "":
		err = serveBackend(ctx, *routerURL, slog.Default())
	case *demoRun:
		demoCtx, cancel := context.WithCancel(ctx)
		err = run(demoCtx, *addr, func(url string) {
			defer cancel()
			if err := demo(demoCtx, url, os.Stdout); err != nil {
				slog.Error("demo failed", "err", err)
			}
		})
	default:
		err = run(ctx, *addr, func(url string) { slog.Info("listening", "url", url) })
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("backend failed", "err", err)
		os.Exit(1)
	}
}

// run serves a router on addr with the backend joined to it, until ctx ends; ready, when not
// nil, gets the router's WebSocket URL (ws://host:port/ws) once the backend is registered.
func run(ctx context.Context, addr string, ready func(url string)) error {
	log := slog.Default()
	router := realm.NewRouter(log)
	router.AddRealm(realm.New(realm.Config{Name: realmName}, log))
	app := wsapp.NewApp(log)
	app.Handle("/ws", router.WebSocketHandler(realm.EndpointOptions{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := websocket.NewHTTPServer(app, websocket.HTTPTimeouts{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "ws://" + ln.Addr().String() + "/ws"

	backendCtx, stopBackend := context.WithCancel(ctx)
	defer stopBackend()
	up := make(chan struct{})
	backendDone := make(chan error, 1)
	go func() { backendDone <- serveBackendReady(backendCtx, url, log, func() { close(up) }) }()
	select {
	case <-up:
		if ready != nil {
			ready(url)
		}
	case err = <-backendDone:
	}
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-backendDone:
		}
	}
	stopBackend()
	if e := <-backendDone; err == nil && e != nil && !errors.Is(e, context.Canceled) {
		err = e
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	router.Shutdown(2 * time.Second)
	err = errors.Join(err, srv.Shutdown(stopCtx))
	if e := <-served; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return err
}

// serveBackend joins the router at url and serves until ctx ends.
func serveBackend(ctx context.Context, url string, log *slog.Logger) error {
	return serveBackendReady(ctx, url, log, nil)
}

// serveBackendReady is serveBackend that calls ready once the procedure is registered.
func serveBackendReady(ctx context.Context, url string, log *slog.Logger, ready func()) error {
	c, err := client.Dial(ctx, url, realmName, client.Options{Serializer: "msgpack", Logger: log})
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer c.Close()

	// A procedure: return a result, or a *wamp.ApplicationError to fail with an error URI.
	_, err = c.Register(ctx, add2, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		if len(inv.Args) != 2 {
			return nil, wamp.NewError(wamp.ErrInvalidArgument, "add2 takes two integers")
		}
		a, okA := wamp.AsInt64(inv.Args[0])
		b, okB := wamp.AsInt64(inv.Args[1])
		if !okA || !okB {
			return nil, wamp.NewError(errNotNumber, "add2 takes two integers", inv.Args[0], inv.Args[1])
		}
		return &client.Result{Args: wamp.List{a + b}}, nil
	}, nil)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	// Others' hellos (our own are not sent back to us: exclude_me is the default).
	_, err = c.Subscribe(ctx, helloTopic, func(e *client.Event) {
		log.Info("someone said hello", "args", e.Args, "kwargs", e.Kwargs)
	}, nil)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	log.Info("backend ready", "procedure", add2, "topic", helloTopic, "session", c.ID())
	if ready != nil {
		ready()
	}

	tick := time.NewTicker(publishEvery)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return fmt.Errorf("backend: session ended: %w", c.Err())
		case <-tick.C:
		}
		err := c.Publish(ctx, helloTopic, nil, wamp.List{"Hello from the Go backend", n}, wamp.Dict{"at": time.Now().UTC().Format(time.RFC3339)})
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("backend: %w", err)
		}
	}
}

// demo is a client of the backend: it waits for a hello, calls add2 right and wrong, and
// prints what it gets.
func demo(ctx context.Context, url string, out io.Writer) error {
	c, err := client.Dial(ctx, url, realmName, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	hello := make(chan *client.Event, 1)
	if _, err := c.Subscribe(ctx, helloTopic, func(e *client.Event) {
		select {
		case hello <- e:
		default:
		}
	}, nil); err != nil {
		return err
	}
	select {
	case e := <-hello:
		fmt.Fprintf(out, "event on %s: %v\n", helloTopic, e.Args)
	case <-ctx.Done():
		return ctx.Err()
	}
	res, err := c.Call(ctx, add2, nil, wamp.List{2, 3}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s(2, 3) = %v\n", add2, res.Args[0])
	_, err = c.Call(ctx, add2, nil, wamp.List{"two", 3}, nil)
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) {
		return fmt.Errorf("add2(\"two\", 3): expected an application error, got %v", err)
	}
	fmt.Fprintf(out, "%s(\"two\", 3) failed: %s %v\n", add2, ae.URI, ae.Args)
	return nil
}
