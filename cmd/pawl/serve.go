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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

func serveCommand(args []string, _, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	configPath := fs.String("config", "", "YAML config `file` (default: the embedded config, see 'pawl config')")
	listen := fs.String("listen", "", "listen `address` host:port for the first listener (port 0 picks a free port)")
	realmName := fs.String("realm", "", "serve one anonymous realm of this `name` instead of the configured realms")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback `address` (e.g. 127.0.0.1:6060)")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "pawl:", err)
		return 1
	}
	if *listen != "" {
		cfg.Listeners[0].Listen = *listen
	}
	if *realmName != "" {
		cfg.Realms = []realm.Config{{Name: wamp.URI(*realmName)}}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pprofAddr != "" {
		stopPprof, err := startPprof(*pprofAddr, newLogger(cfg.Log, stderr, nil))
		if err != nil {
			fmt.Fprintln(stderr, "pawl: pprof:", err)
			return 1
		}
		defer stopPprof()
	}
	if err := serve(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "pawl:", err)
		return 1
	}
	return 0
}

// serve runs the router until ctx ends, then shuts it down gracefully: every session gets
// GOODBYE wamp.close.system_shutdown, and the listeners close.
func serve(ctx context.Context, cfg *Config, logOut io.Writer) error {
	log := newLogger(cfg.Log, logOut, nil)
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
