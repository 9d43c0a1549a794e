// Command progress shows a long job that reports its progress to the caller as progressive
// call results, and that the caller can cancel. The job service registers com.example.long_job
// (steps) and sends a progressive result after each step; the caller asks for them with
// receive_progress (CallOptions.OnProgress in Go, {receive_progress: true} in autobahn.js)
// and cancels by ending its context (CANCEL; in autobahn.js, session.cancel(promise)). The
// job sees the cancellation as its context ending (the router's INTERRUPT) and stops. By
// default the program runs its own router (realm realm1, WAMP on /ws).
//
//	go run ./examples/progress                                  # router + job service on 127.0.0.1:8080
//	go run ./examples/progress -router ws://127.0.0.1:8080/ws   # job service only
//	go run ./examples/progress -demo                            # router + service + a caller, then exit
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
	longJob   wamp.URI = "com.example.long_job"
)

// stepTime is how long one step of the job takes.
var stepTime = 300 * time.Millisecond

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port for the embedded router (port 0 picks a free one; -demo: a free one unless given)")
	routerURL := flag.String("router", "", "join this router (ws://host:port/ws) instead of running one")
	flag.DurationVar(&stepTime, "step", stepTime, "how long one step of the job takes")
	demoRun := flag.Bool("demo", false, "run a job to the end, cancel another, print what happens, and exit")
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
		err = serveJobs(ctx, *routerURL, slog.Default(), nil)
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
		slog.Error("progress example failed", "err", err)
		os.Exit(1)
	}
}

// run serves a router on addr with the job service joined to it, until ctx ends; ready, when
// not nil, gets the router's WebSocket URL once the job procedure is registered.
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

	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	up := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serveJobs(jobsCtx, url, log, func() { close(up) }) }()
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
	stopJobs()
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

// serveJobs joins the router at url, registers the long job and serves until ctx ends; ready,
// when not nil, is called once the procedure is registered.
func serveJobs(ctx context.Context, url string, log *slog.Logger, ready func()) error {
	c, err := client.Dial(ctx, url, realmName, client.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("job service: %w", err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, longJob, runJob(log), nil); err != nil {
		return fmt.Errorf("job service: %w", err)
	}
	log.Info("job service ready", "procedure", longJob)
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.Done():
		return fmt.Errorf("job service: session ended: %w", c.Err())
	}
}

// runJob is the procedure long_job(steps): it works through the steps, reporting
// [step, steps] {percent} after each, and returns ["done", steps]. When its context ends
// (the caller canceled, or its timeout passed) it stops and answers wamp.error.canceled
// saying how far it got.
func runJob(log *slog.Logger) client.ProcedureHandler {
	return func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		var steps int64 = 5
		if len(inv.Args) > 0 {
			n, ok := wamp.AsInt64(inv.Args[0])
			if !ok || n < 1 || n > 10000 {
				return nil, wamp.NewError(wamp.ErrInvalidArgument, "steps must be an integer from 1 to 10000")
			}
			steps = n
		}
		timer := time.NewTimer(stepTime)
		defer timer.Stop()
		for step := int64(1); step <= steps; step++ {
			select {
			case <-ctx.Done():
				log.Info("job canceled", "step", step-1, "steps", steps)
				return nil, wamp.NewError(wamp.ErrCanceled, fmt.Sprintf("job stopped after %d of %d steps", step-1, steps))
			case <-timer.C:
				timer.Reset(stepTime)
			}
			// Progress is sent only when the caller asked for it.
			if _, err := inv.Progress(wamp.List{step, steps}, wamp.Dict{"percent": step * 100 / steps}); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: wamp.List{"done", steps}}, nil
	}
}

// demo runs one job to the end, printing its progress, then starts another and cancels it
// after three progress reports.
func demo(ctx context.Context, url string, out io.Writer) error {
	c, err := client.Dial(ctx, url, realmName, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.CallWith(ctx, longJob, wamp.List{5}, nil, client.CallOptions{
		OnProgress: func(r *client.Result) {
			percent, _ := r.Kwargs.Int("percent")
			fmt.Fprintf(out, "progress %v/%v (%d%%)\n", r.Args[0], r.Args[1], percent)
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "result: %v\n", res.Args)

	// Cancel from the caller: end the call's context. With mode "kill" the call waits for the
	// job's own answer, which says where it stopped.
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err = c.CallWith(jobCtx, longJob, wamp.List{100}, nil, client.CallOptions{
		CancelMode: "kill",
		OnProgress: func(r *client.Result) {
			fmt.Fprintf(out, "progress %v/%v\n", r.Args[0], r.Args[1])
			if step, _ := wamp.AsInt64(r.Args[0]); step == 3 {
				fmt.Fprintln(out, "canceling")
				cancel()
			}
		},
	})
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) {
		return fmt.Errorf("the canceled job answered %v", err)
	}
	fmt.Fprintf(out, "canceled: %s %v\n", ae.URI, ae.Args)
	return nil
}
