package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/admin"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
)

// AdminConfig is the admin listener (YAML key "admin"): Prometheus metrics, health and
// readiness, and the status page (package realm/admin). It is off unless an address is
// given, like nats-server's monitoring port: no port opens that the operator did not ask for.
type AdminConfig struct {
	// Listen is host:port, or a bare port meaning 127.0.0.1:port. Empty: no admin listener.
	Listen string `yaml:"listen"`
}

// adminAddress completes a bare port to a loopback address: the status page shows who is
// connected, so the admin listener is private unless an address says otherwise.
func adminAddress(listen string) string {
	if listen != "" && !strings.Contains(listen, ":") {
		return net.JoinHostPort("127.0.0.1", listen)
	}
	return listen
}

func (c AdminConfig) validate() error {
	if c.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(adminAddress(c.Listen)); err != nil {
		return fmt.Errorf("admin.listen %q: %w", c.Listen, err)
	}
	return nil
}

// listenerStates says whether the WAMP listeners serve, for /readyz: all of them must have
// started, and the router must not be shutting down (a listener that fails shuts it down).
type listenerStates struct {
	want     int
	serving  atomic.Int32
	draining atomic.Bool
}

func (ls *listenerStates) started()      { ls.serving.Add(1) }
func (ls *listenerStates) shuttingDown() { ls.draining.Store(true) }

func (ls *listenerStates) check(context.Context) error {
	switch {
	case ls.draining.Load():
		return errors.New("shutting down")
	case int(ls.serving.Load()) < ls.want:
		return fmt.Errorf("%d of %d listeners serving", ls.serving.Load(), ls.want)
	}
	return nil
}

// adminServer is the admin listener: opened with the WAMP listeners (so that a taken port is
// reported before anything else happens), served once the router exists.
type adminServer struct {
	ln   net.Listener
	http *http.Server
}

// openAdmin opens the admin listener's socket, with SO_REUSEPORT like the WAMP listeners so
// that a new router can start beside one that drains.
func openAdmin(cfg AdminConfig) (*adminServer, error) {
	ln, err := listenReusePort(adminAddress(cfg.Listen))
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	return &adminServer{ln: ln}, nil
}

// serve serves the admin routes: readiness asks the listeners and, when it can be pinged, the
// history store.
func (a *adminServer) serve(rt *realm.Router, bridge *httpbridge.Bridge, listeners *listenerStates, history pubsub.HistoryStore, c admin.Cluster, log *slog.Logger) {
	checks := []admin.Check{{Name: "listeners", Check: listeners.check}}
	if p, ok := history.(pubsub.HistoryPinger); ok {
		checks = append(checks, admin.Check{Name: "history_store", Check: p.Ping})
	}
	a.http = &http.Server{
		Handler:           admin.Handler(rt, admin.Options{Checks: checks, Logger: log, Bridge: bridge, Cluster: c}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := a.ln.Addr().String()
	if host, _, _ := net.SplitHostPort(addr); !net.ParseIP(host).IsLoopback() {
		log.Warn("admin listener is not on loopback: its status page shows who is connected", "addr", addr)
	}
	log.Info("admin listening", "url", "http://"+addr+"/", "metrics", "http://"+addr+"/metrics")
	go a.http.Serve(a.ln)
}

// close stops the admin listener.
func (a *adminServer) close() {
	if a.http != nil {
		a.http.Close()
		return
	}
	a.ln.Close()
}
