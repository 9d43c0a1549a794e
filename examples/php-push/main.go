// Command php-push is the Ratchet "push" recipe done the WAMP way: a PHP page, running under
// PHP-FPM or PHP's built-in server, pushes a notification with one signed HTTP request to
// Pawl's HTTP bridge, and every browser that has the notifications page open shows it at once
// (autobahn.js, subscribed to app.notifications). No ZeroMQ, no React loop in PHP, no
// WebSocket in the PHP app.
//
// This program runs the router (WAMP on /ws), the bridge's signed publisher on /push, and the
// notifications page on /. The realm lets browsers (role anonymous) only subscribe to
// app.notifications, and the bridge (role php) only publish there.
//
//	(cd examples/php-push && npm ci && npm run build)      # autobahn.js for the page
//	go run ./examples/php-push                             # http://127.0.0.1:8080/
//	php -S 127.0.0.1:8000 -t examples/php-push/php         # the PHP app: http://127.0.0.1:8000/
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/transport/wsapp"
	"github.com/pawl-wamp/pawl/wamp"
)

//go:embed index.html all:assets
var page embed.FS

const (
	realmName     wamp.URI = "realm1"
	notifications wamp.URI = "app.notifications"
)

// Default key and secret of the PHP app's signed requests; php/index.php has the same
// defaults. Set your own with -key/-secret here and PAWL_KEY/PAWL_SECRET for PHP.
const (
	defaultKey    = "php-app"
	defaultSecret = "change-me: a long random secret shared with the PHP app"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port to serve on (port 0 picks a free one)")
	key := flag.String("key", defaultKey, "the PHP app's key for signed requests")
	secret := flag.String("secret", defaultSecret, "the PHP app's secret for signed requests")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *addr, *key, *secret, func(url string) {
		slog.Info("listening", "page", url+"/", "push", url+"/push", "wamp", "ws"+url[len("http"):]+"/ws")
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("php-push failed", "err", err)
		os.Exit(1)
	}
}

// realmConfig: browsers may only subscribe to the notifications, the PHP app only publish.
func realmConfig() realm.Config {
	return realm.Config{Name: realmName, Roles: []authz.Role{
		{Name: "anonymous", Permissions: []authz.Permission{{URI: notifications, Subscribe: true}}},
		{Name: "php", Permissions: []authz.Permission{{URI: notifications, Publish: true}}},
	}}
}

// run serves the page, the router and the bridge on addr until ctx ends; ready, when not
// nil, gets the base URL (http://host:port) once everything is up.
func run(ctx context.Context, addr, key, secret string, ready func(url string)) error {
	log := slog.Default()
	files, err := fs.Sub(page, ".")
	if err != nil {
		return err
	}
	if _, err := fs.Stat(files, "assets/autobahn.min.js"); err != nil {
		log.Warn("the page's autobahn.js bundle is missing: run `npm ci && npm run build` in examples/php-push (then rebuild)")
	}
	router := realm.NewRouter(log)
	router.AddRealm(realm.New(realmConfig(), log))
	bridge := httpbridge.New(router, httpbridge.Options{Logger: log})
	push, err := bridge.Handler(httpbridge.ServiceConfig{Path: "/push", Type: httpbridge.TypePublisher,
		Realm: realmName, Role: "php", AuthID: "php-app", Keys: map[string]string{key: secret}})
	if err != nil {
		return err
	}
	app := wsapp.NewApp(log)
	app.Handle("/ws", router.WebSocketHandler(realm.EndpointOptions{}))
	app.Handle("/push", push)
	app.Handle("/", http.FileServerFS(files))

	stopAll := func() {
		bridge.Close()
		router.Shutdown(2 * time.Second)
	}
	select {
	case <-push.Joined():
	case <-ctx.Done():
		stopAll()
		return ctx.Err()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		stopAll()
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready("http://" + ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-served:
		served <- err
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(stopCtx))
	stopAll()
	if e := <-served; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return err
}
