// Command workers runs several Go workers that share one procedure: each registers
// com.example.work with the shared-registration policy "roundrobin", and the router hands
// the calls to them in turn. More workers can join (and leave) at any time, from this program
// or another. By default it runs its own router (realm realm1, WAMP on /ws).
//
//	go run ./examples/workers                                  # router + 3 workers on 127.0.0.1:8080
//	go run ./examples/workers -n 2 -router ws://127.0.0.1:8080/ws   # 2 more workers for that router
//	go run ./examples/workers -demo                            # router + workers + 6 calls, then exit
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
	realmName wamp.URI = "realm1"
	work      wamp.URI = "com.example.work"
)

// workerCount is how many workers run serves.
var workerCount = 3

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port for the embedded router (port 0 picks a free one; -demo: a free one unless given)")
	routerURL := flag.String("router", "", "join this router (ws://host:port/ws) instead of running one")
	flag.IntVar(&workerCount, "n", workerCount, "number of workers")
	demoRun := flag.Bool("demo", false, "call the workers a few times, print who answered, and exit")
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
		err = serveWorkers(ctx, *routerURL, workerCount, slog.Default(), nil)
	case *demoRun:
		demoCtx, cancel := context.WithCancel(ctx)
		err = run(demoCtx, *addr, func(url string) {
			defer cancel()
			if err := demo(demoCtx, url, 2*workerCount, os.Stdout); err != nil {
				slog.Error("demo failed", "err", err)
			}
		})
	default:
		err = run(ctx, *addr, func(url string) { slog.Info("listening", "url", url) })
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("workers failed", "err", err)
		os.Exit(1)
	}
}

// run serves a router on addr with workerCount workers joined to it, until ctx ends; ready,
// when not nil, gets the router's WebSocket URL once every worker is registered.
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

	workCtx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	up := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serveWorkers(workCtx, url, workerCount, log, func() { close(up) }) }()
	select {
	case <-up:
		if ready != nil {
			ready(url)
		}
		select {
		case <-ctx.Done():
		case err = <-done:
			done <- err
		}
	case err = <-done:
		done <- err
	}
	stopWorkers()
	if e := <-done; e != nil && !errors.Is(e, context.Canceled) {
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

// serveWorkers joins n workers to the router at url and serves until ctx ends; ready, when
// not nil, is called once all are registered.
func serveWorkers(ctx context.Context, url string, n int, log *slog.Logger, ready func()) error {
	workers := make([]*client.Client, 0, n)
	defer func() {
		for _, c := range workers {
			c.Close()
		}
	}()
	for i := 1; i <= n; i++ {
		c, err := startWorker(ctx, url, fmt.Sprintf("worker-%d", i), log)
		if err != nil {
			return err
		}
		workers = append(workers, c)
	}
	log.Info("workers ready", "procedure", work, "workers", n)
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	return ctx.Err()
}

// startWorker is one worker: its own session, registering the shared procedure (every
// registrant must ask for the same policy). The answer says who did the work: [name, job²].
func startWorker(ctx context.Context, url, name string, log *slog.Logger) (*client.Client, error) {
	c, err := client.Dial(ctx, url, realmName, client.Options{Logger: log.With("worker", name)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	_, err = c.Register(ctx, work, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		var job int64
		if len(inv.Args) > 0 {
			job, _ = wamp.AsInt64(inv.Args[0])
		}
		return &client.Result{Args: wamp.List{name, job * job}}, nil
	}, client.RegisterOptions{Invoke: "roundrobin"}.Dict())
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// demo calls the shared procedure calls times and prints who answered.
func demo(ctx context.Context, url string, calls int, out io.Writer) error {
	c, err := client.Dial(ctx, url, realmName, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 1; i <= calls; i++ {
		res, err := c.Call(ctx, work, nil, wamp.List{i}, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s(%d) = %v, answered by %v\n", work, i, res.Args[1], res.Args[0])
	}
	return nil
}
