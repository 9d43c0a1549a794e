// Command notify sends private notifications: a message meant for one user reaches that
// user's sessions only (all of them: phone and laptop), however many others subscribe to the
// same topic. Users log in with ticket authentication, so the router knows each session's
// authid; the notifier service publishes each notification on com.example.notify with the
// publish option eligible_authid: [the recipient], and the broker delivers it only to
// sessions with that authid. Users may subscribe to the topic and call
// com.example.notify.send(to, text), but not publish there themselves: the realm's roles say
// so, and the notifier adds who sent the message (caller identification), which a user cannot
// forge. By default the program runs its own router (realm realm1, WAMP on /ws).
//
//	go run ./examples/notify               # router + notifier on 127.0.0.1:8080
//	go run ./examples/notify -demo         # router + notifier + alice, bob and carol, then exit
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
	"slices"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

const (
	realmName wamp.URI = "realm1"
	notify    wamp.URI = "com.example.notify"
	send      wamp.URI = "com.example.notify.send"
)

// tickets are the demo users' tickets (authid → ticket) and the notifier service's. The
// router keeps only their hashes; a real deployment writes hashes into its configuration
// (see the realm's auth.principals) and hands each user their own ticket.
var tickets = map[string]string{
	"alice":    "alice-ticket",
	"bob":      "bob-ticket",
	"carol":    "carol-ticket",
	"notifier": "notifier-ticket",
}

// hashParams is the cost of the stored ticket hashes (argon2id with OWASP's defaults).
var hashParams = auth.HashParams{}

// realmConfig is realm1 with ticket logins only: users (role "user") may subscribe to
// notifications and ask the notifier to send one; the notifier (role "service") may register
// the send procedure and publish notifications.
func realmConfig() (realm.Config, error) {
	cfg := realm.Config{
		Name: realmName,
		Roles: []authz.Role{
			{Name: "user", Permissions: []authz.Permission{
				{URI: notify, Subscribe: true},
				{URI: send, Call: true},
			}},
			{Name: "service", Permissions: []authz.Permission{
				{URI: notify, Publish: true},
				{URI: send, Register: true},
			}},
		},
	}
	for authid, ticket := range tickets {
		hash, err := auth.HashSecret(ticket, hashParams)
		if err != nil {
			return cfg, fmt.Errorf("hashing %s's ticket: %w", authid, err)
		}
		role := "user"
		if authid == "notifier" {
			role = "service"
		}
		cfg.Auth.Principals = append(cfg.Auth.Principals, authn.Principal{AuthID: authid, Role: role, Ticket: hash})
	}
	slices.SortFunc(cfg.Auth.Principals, func(a, b authn.Principal) int {
		switch {
		case a.AuthID < b.AuthID:
			return -1
		case a.AuthID > b.AuthID:
			return 1
		}
		return 0
	})
	return cfg, cfg.Validate()
}

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port for the router (port 0 picks a free one; -demo: a free one unless given)")
	demoRun := flag.Bool("demo", false, "connect alice, bob and carol, send private notifications, print who got what, and exit")
	flag.Parse()
	listenGiven := false
	flag.Visit(func(f *flag.Flag) { listenGiven = listenGiven || f.Name == "listen" })
	if *demoRun && !listenGiven {
		*addr = "127.0.0.1:0" // the demo is its own client: any free port will do
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *demoRun {
		demoCtx, cancel := context.WithCancel(ctx)
		err = run(demoCtx, *addr, func(url string) {
			defer cancel()
			if err := demo(demoCtx, url, os.Stdout); err != nil {
				slog.Error("demo failed", "err", err)
			}
		})
	} else {
		err = run(ctx, *addr, func(url string) { slog.Info("listening", "url", url) })
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("notify example failed", "err", err)
		os.Exit(1)
	}
}

// run serves a router on addr with the notifier joined to it, until ctx ends; ready, when not
// nil, gets the router's WebSocket URL once the notifier is registered.
func run(ctx context.Context, addr string, ready func(url string)) error {
	log := slog.Default()
	cfg, err := realmConfig()
	if err != nil {
		return err
	}
	router := realm.NewRouter(log)
	router.AddRealm(realm.New(cfg, log))
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

	svcCtx, stopService := context.WithCancel(ctx)
	defer stopService()
	up := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serveNotifier(svcCtx, url, log, func() { close(up) }) }()
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
	stopService()
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

// login joins the realm as authid with its ticket.
func login(ctx context.Context, url, authid string, log *slog.Logger) (*client.Client, error) {
	c, err := client.Dial(ctx, url, realmName, client.Options{
		AuthID:      authid,
		Credentials: client.Credentials{Ticket: tickets[authid]},
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("login as %s: %w", authid, err)
	}
	return c, nil
}

// serveNotifier is the notifier service: it registers send(to, text) and turns each call
// into a notification for the user to only. ready, when not nil, is called once registered.
func serveNotifier(ctx context.Context, url string, log *slog.Logger, ready func()) error {
	c, err := login(ctx, url, "notifier", log)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Register(ctx, send, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if len(inv.Args) != 2 {
			return nil, wamp.NewError(wamp.ErrInvalidArgument, "send takes a recipient's authid and a text")
		}
		to, okTo := inv.Args[0].(string)
		text, okText := inv.Args[1].(string)
		if !okTo || !okText || to == "" {
			return nil, wamp.NewError(wamp.ErrInvalidArgument, "send takes a recipient's authid and a text")
		}
		from, _ := inv.Details.String("caller_authid") // disclosed because we registered with disclose_caller
		// eligible_authid: only sessions authenticated as `to` receive the event.
		err := c.PublishWith(ctx, notify, client.PublishOptions{Acknowledge: true, EligibleAuthID: []string{to}},
			wamp.List{text}, wamp.Dict{"from": from, "to": to, "at": time.Now().UTC().Format(time.RFC3339)})
		if err != nil {
			return nil, fmt.Errorf("publishing the notification: %w", err)
		}
		log.Info("notification sent", "from", from, "to", to)
		return &client.Result{Args: wamp.List{true}}, nil
	}, client.RegisterOptions{DiscloseCaller: true}.Dict())
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	log.Info("notifier ready", "procedure", send, "topic", notify)
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.Done():
		return fmt.Errorf("notifier: session ended: %w", c.Err())
	}
}

// demo logs in alice, bob and carol, all subscribed to notifications; bob sends alice a
// note and alice answers bob. Each prints what reaches them: carol gets nothing.
func demo(ctx context.Context, url string, out io.Writer) error {
	users := []string{"alice", "bob", "carol"}
	inbox := make(chan string, 16)
	clients := map[string]*client.Client{}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for _, name := range users {
		c, err := login(ctx, url, name, nil)
		if err != nil {
			return err
		}
		clients[name] = c
		if _, err := c.Subscribe(ctx, notify, func(e *client.Event) {
			from, _ := e.Kwargs.String("from")
			inbox <- fmt.Sprintf("%s got a notification from %s: %v", name, from, e.Args[0])
		}, nil); err != nil {
			return err
		}
	}
	for _, m := range []struct{ from, to, text string }{
		{"bob", "alice", "lunch at noon?"},
		{"alice", "bob", "yes!"},
	} {
		if _, err := clients[m.from].Call(ctx, send, nil, wamp.List{m.to, m.text}, nil); err != nil {
			return err
		}
		select {
		case line := <-inbox:
			fmt.Fprintln(out, line)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// A user may not publish on the topic directly (and so cannot pose as someone else).
	err := clients["carol"].Publish(ctx, notify, wamp.Dict{"acknowledge": true, "eligible_authid": wamp.List{"alice"}},
		wamp.List{"I am bob, really"}, wamp.Dict{"from": "bob"})
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) {
		return fmt.Errorf("carol's direct publish: expected an error, got %v", err)
	}
	fmt.Fprintf(out, "carol may not publish there herself: %s\n", ae.URI)
	select {
	case line := <-inbox:
		return fmt.Errorf("unexpected: %s", line)
	default:
	}
	return nil
}
