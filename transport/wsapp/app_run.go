package wsapp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// shutdownTimeout bounds each step of Run's shutdown.
const shutdownTimeout = 5 * time.Second

// OnShutdown registers f to run when Run shuts down, after the listener has closed and before
// the plain WebSocket connections are closed. Functions run newest first, like defers: register
// the WAMP router's Shutdown first and a backend that uses it after.
func (a *App) OnShutdown(f func()) {
	a.mu.Lock()
	a.onShutdown = append(a.onShutdown, f)
	a.mu.Unlock()
}

// Run serves the App on addr until ctx ends: Ratchet's $app->run(). ready, when not nil, is
// called with the listening address once connections are accepted. On the way out the listener
// closes, the OnShutdown functions run, and the plain WebSocket connections close with 1001.
func (a *App) Run(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := websocket.NewHTTPServer(a, websocket.HTTPTimeouts{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	var serveErr error
	stopped := false
	select {
	case serveErr = <-served:
		stopped = true
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(stopCtx)
	a.mu.Lock()
	hooks := a.onShutdown
	a.mu.Unlock()
	for i := len(hooks) - 1; i >= 0; i-- {
		hooks[i]()
	}
	err = errors.Join(err, a.Shutdown(stopCtx))
	if !stopped {
		serveErr = <-served
	}
	if !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve: %w", serveErr))
	}
	return err
}
