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

// listenerStates tracks whether the WAMP listeners serve, for /readyz: all of them must
// have started, none may have failed, and the router must not be shutting down.
type listenerStates struct {
	want     int
	serving  atomic.Int32
	failed   atomic.Pointer[string]
	draining atomic.Bool
}

func (ls *listenerStates) started()          { ls.serving.Add(1) }
func (ls *listenerStates) stopped(err error) { msg := err.Error(); ls.failed.Store(&msg) }
func (ls *listenerStates) shuttingDown()     { ls.draining.Store(true) }
func (ls *listenerStates) check(context.Context) error {
	switch {
	case ls.draining.Load():
		return errors.New("shutting down")
	case ls.failed.Load() != nil:
		return errors.New(*ls.failed.Load())
	case int(ls.serving.Load()) < ls.want:
		return fmt.Errorf("%d of %d listeners serving", ls.serving.Load(), ls.want)
	}
	return nil
}

// startAdmin serves the admin routes on the configured address; stop closes it.
func startAdmin(cfg AdminConfig, rt *realm.Router, listeners *listenerStates, history pubsub.HistoryStore,
	log *slog.Logger) (stop func(), err error) {
	addr := adminAddress(cfg.Listen)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	checks := []admin.Check{{Name: "listeners", Check: listeners.check}}
	if p, ok := history.(pubsub.HistoryPinger); ok {
		checks = append(checks, admin.Check{Name: "history_store", Check: p.Ping})
	}
	srv := &http.Server{
		Handler:           admin.Handler(rt, admin.Options{Checks: checks, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		log.Warn("admin listener is not on loopback: its status page shows who is connected", "addr", ln.Addr().String())
	}
	log.Info("admin listening", "url", "http://"+ln.Addr().String()+"/", "metrics", "http://"+ln.Addr().String()+"/metrics")
	return func() { srv.Close() }, nil
}
