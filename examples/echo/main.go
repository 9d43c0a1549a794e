// Command echo serves wsapp.Echo, Pawl's ready echo component, on /echo: every message a
// client sends comes back to it, text as text and binary as binary. It is Ratchet's
// EchoServer in Go. A test page is served on /.
//
//	go run ./examples/echo -listen 127.0.0.1:8080
package main

import (
	"context"
	"embed"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/pawl-wamp/pawl/transport/wsapp"
)

//go:embed index.html
var page embed.FS

func main() {
	addr := flag.String("listen", "127.0.0.1:8080", "host:port to serve on (port 0 picks a free one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *addr, func(url string) {
		slog.Info("listening", "page", url+"/", "websocket", "ws"+url[len("http"):]+"/echo")
	})
	if err != nil {
		slog.Error("echo server failed", "err", err)
		os.Exit(1)
	}
}

// run serves the echo component on addr until ctx ends; ready, when not nil, gets the base
// URL (http://host:port) once the server listens.
func run(ctx context.Context, addr string, ready func(url string)) error {
	app := wsapp.NewApp(slog.Default())
	if err := app.Route("/echo", wsapp.Echo{}, wsapp.RouteOptions{
		AllowedOrigins: []string{"*"}, // any page may use it; the default is same-host pages only
		MaxMessageSize: 1 << 20,
	}); err != nil {
		return err
	}
	app.Handle("GET /{$}", http.FileServerFS(page))
	return app.Run(ctx, addr, func(a net.Addr) {
		if ready != nil {
			ready("http://" + a.String())
		}
	})
}
