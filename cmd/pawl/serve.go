package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
)

// serve runs the router until ctx ends, then shuts it down gracefully: every session gets
// GOODBYE wamp.close.system_shutdown, and the listeners close.
func serve(ctx context.Context, cfg *Config, logOut io.Writer) error {
	log := newLogger(cfg.Log, logOut)
	history, err := openHistoryStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	if history != nil {
		defer history.Close() // after the realms' shutdown has flushed their history
	}
	rt := realm.NewRouter(log)
	for _, rc := range cfg.Realms {
		rc.HistoryStore = history
		rt.AddRealm(realm.New(rc, log))
	}

	bridge := httpbridge.New(rt, httpbridge.Options{Logger: log})
	defer bridge.Close() // on the early returns; Close may be called twice
	if err := cfg.startForwarders(bridge); err != nil {
		return err
	}

	var servers []*http.Server
	errs := make(chan error, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		var tlsConfig *tls.Config
		scheme := "ws://"
		if l.TLS != nil {
			if tlsConfig, err = l.TLS.serverTLS(); err != nil {
				closeAll(servers)
				return fmt.Errorf("listener %s: %w", l.Listen, err)
			}
			scheme = "wss://"
		}
		ln, err := net.Listen("tcp", l.Listen)
		if err != nil {
			closeAll(servers)
			return fmt.Errorf("listen %s: %w", l.Listen, err)
		}
		if tlsConfig != nil {
			ln = tls.NewListener(ln, tlsConfig)
		}
		mux := http.NewServeMux()
		mux.Handle(l.Path, rt.WebSocketHandler(cfg.endpointOptions(l, log)))
		if err := mountBridge(mux, bridge, l, scheme, ln.Addr().String(), log); err != nil {
			ln.Close()
			closeAll(servers)
			return fmt.Errorf("listener %s: %w", l.Listen, err)
		}
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		servers = append(servers, hs)
		log.Info("listening", "url", scheme+ln.Addr().String()+l.Path)
		go func() {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", cfg.shutdownGrace())
	case runErr = <-errs:
		log.Error("listener failed, shutting down", "err", runErr)
	}
	// Stop accepting first, then let sessions say goodbye.
	closeCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace())
	defer cancel()
	for _, hs := range servers {
		hs.Shutdown(closeCtx)
	}
	bridge.Close() // its sessions leave before the router says GOODBYE to the rest
	rt.Shutdown(cfg.shutdownGrace())
	log.Info("stopped")
	return runErr
}

func closeAll(servers []*http.Server) {
	for _, hs := range servers {
		hs.Close()
	}
}

func (c *Config) shutdownGrace() time.Duration {
	if c.Limits.ShutdownGrace > 0 {
		return c.Limits.ShutdownGrace
	}
	return 5 * time.Second
}

func newLogger(c LogConfig, out io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Level) // validated when the config was loaded
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}
