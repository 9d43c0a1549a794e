package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/internal/version"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/admin"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

func serveCommand(args []string, _, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	configPath := fs.String("config", "", "YAML config `file` (default: the embedded config, see 'pawl config'); SIGHUP reads it again")
	listen := fs.String("listen", "", "listen `address` host:port for the first listener (port 0 picks a free port)")
	realmName := fs.String("realm", "", "serve one anonymous realm of this `name` instead of the configured realms")
	var allowOrigins []string
	fs.Func("allow-origin", "also allow this browser `origin` on every listener (repeatable; e.g. https://app.example.com, \"*\")",
		func(o string) error { allowOrigins = append(allowOrigins, o); return nil })
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback `address` (e.g. 127.0.0.1:6060)")
	adminAddr := fs.String("admin", "", "serve metrics, health and status on this `address` (a bare port: 127.0.0.1:port); replaces admin.listen")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if *adminAddr != "" {
		if err := (AdminConfig{Listen: *adminAddr}).validate(); err != nil {
			fmt.Fprintln(stderr, "pawl:", err)
			return 2
		}
	}
	// Before anything else: a SIGHUP that arrives while the router starts must not kill it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// load reads the config file and applies the command line's overrides, at start and on
	// every SIGHUP.
	load := func() (*Config, error) {
		cfg, err := loadConfig(*configPath)
		if err != nil {
			return nil, err
		}
		if *listen != "" {
			cfg.Listeners[0].Listen = *listen
		}
		for i := range cfg.Listeners {
			cfg.Listeners[i].AllowedOrigins = append(cfg.Listeners[i].AllowedOrigins, allowOrigins...)
		}
		if *realmName != "" {
			cfg.Realms = []realm.Config{{Name: wamp.URI(*realmName)}}
		}
		if *adminAddr != "" {
			cfg.Admin.Listen = *adminAddr
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(stderr, "pawl:", err)
		return 1
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
	if err := serveReloading(ctx, cfg, stderr, hup, load); err != nil {
		fmt.Fprintln(stderr, "pawl:", err)
		return 1
	}
	return 0
}

// serve runs the router until ctx ends, then shuts it down gracefully: every session gets
// its connection closed (1001, wamp.close.system_shutdown, so that clients reconnect), and
// the listeners close.
func serve(ctx context.Context, cfg *Config, logOut io.Writer) error {
	return serveReloading(ctx, cfg, logOut, nil, nil)
}

// serveReloading is serve that also reloads the configuration (load) whenever reload
// receives (SIGHUP).
func serveReloading(ctx context.Context, cfg *Config, logOut io.Writer, reload <-chan os.Signal,
	load func() (*Config, error)) error {
	r, err := start(ctx, cfg, logOut)
	if err != nil {
		return err
	}
	var runErr error
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case runErr = <-r.failed:
			r.log.Error("listener failed, shutting down", "err", runErr)
			done = true
		case <-reload:
			r.reload(load)
		}
	}
	r.shutdown()
	return runErr
}

// router is the running router: its listeners, realms and history store, and the
// configuration they were last set up from.
type router struct {
	log       *slog.Logger
	level     *slog.LevelVar // log.level, changed by reloads
	rt        *realm.Router
	history   pubsub.HistoryStore // nil when no realm keeps history
	bridge    *httpbridge.Bridge  // the HTTP bridge's services (bridge.go)
	listeners []*listener
	failed    chan error     // a listener that stopped serving
	admin     *adminServer   // nil without admin.listen
	node      *clusterNode   // nil without a cluster section
	ready     listenerStates // for the admin listener's /readyz

	mu  sync.Mutex // serializes reloads; guards cfg
	cfg *Config
}

// start sets the router up from cfg and starts serving. Whatever can fail on the command
// line's account — certificates, addresses — is tried first, before the history store is
// opened, so that such a mistake is reported at once and touches no data.
func start(ctx context.Context, cfg *Config, logOut io.Writer) (*router, error) {
	r := &router{level: new(slog.LevelVar), cfg: cfg, failed: make(chan error, len(cfg.Listeners))}
	var err error
	r.log = newLogger(cfg.Log, logOut, r.level)
	r.log.Info("starting", "version", version.Version(), "pid", os.Getpid())
	for _, lc := range cfg.Listeners {
		l, err := openListener(lc)
		if err != nil {
			r.closeListeners()
			return nil, err
		}
		r.listeners = append(r.listeners, l)
	}
	if cfg.Admin.Listen != "" {
		if r.admin, err = openAdmin(cfg.Admin); err != nil {
			r.closeListeners()
			return nil, err
		}
	}
	history, err := openHistoryStore(ctx, cfg, r.log)
	if err != nil {
		r.closeListeners()
		return nil, err
	}
	r.history = history
	r.rt = realm.NewRouter(r.log)
	if cfg.Cluster != nil {
		if r.node, err = startClusterNode(ctx, cfg, r.rt, r.log); err != nil {
			r.closeListeners()
			if history != nil {
				history.Close()
			}
			return nil, err
		}
		if cfg.historyWanted() && cfg.HistoryStore.Type == "jetstream" {
			if history, err = r.node.openClusterHistory(ctx, cfg); err != nil {
				r.closeListeners()
				r.node.close()
				return nil, err
			}
			r.history = history
			r.log.Info("event history on the cluster's JetStream")
		}
	}
	for _, rc := range cfg.Realms {
		rc.HistoryStore = history
		r.node.configureRealm(&rc)
		r.node.configureDealer(&rc)
		r.rt.AddRealm(realm.New(rc, r.log))
	}
	r.bridge = httpbridge.New(r.rt, httpbridge.Options{Logger: r.log})
	handlers := make([]map[string]http.Handler, len(r.listeners))
	err = cfg.startForwarders(r.bridge)
	for i, l := range r.listeners {
		if err == nil {
			handlers[i], err = bridgeHandlers(r.bridge, cfg.Listeners[i], l.url, r.log)
		}
	}
	if err != nil {
		r.bridge.Close()
		r.closeListeners()
		r.rt.Shutdown(0)
		r.node.close()
		if history != nil {
			history.Close()
		}
		return nil, err
	}
	r.ready.want = len(r.listeners)
	if r.admin != nil {
		// Before the listeners: /healthz answers, and /readyz says not yet, while they start.
		var c admin.Cluster // nil without a cluster section (a nil *Member would not be)
		if r.node != nil {
			c = r.node.member
		}
		r.admin.serve(r.rt, r.bridge, &r.ready, history, c, r.log)
	}
	for i, l := range r.listeners {
		l.serve(r.rt, cfg, cfg.Listeners[i], r.log, r.failed, handlers[i])
		r.ready.started()
	}
	return r, nil
}

func (r *router) closeListeners() {
	for _, l := range r.listeners {
		l.close()
	}
	if r.admin != nil {
		r.admin.close()
	}
}

// reload reads the configuration again and applies what it changes; a configuration that
// does not load, or a certificate that does not, leaves the running one as it is.
func (r *router) reload(load func() (*Config, error)) {
	r.log.Info("reloading the configuration (SIGHUP)")
	if load == nil {
		return
	}
	cfg, err := load()
	if err == nil {
		err = r.apply(cfg)
	}
	if err != nil {
		r.log.Error("reload failed: the running configuration is kept", "err", err)
	}
}

// apply changes the running router to cfg, without dropping a session. What it cannot change
// is logged, and needs a restart. Everything that may fail is tried before anything changes.
func (r *router) apply(cfg *Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var restart []string
	note := func(key string) {
		if !slices.Contains(restart, key) {
			restart = append(restart, key)
		}
	}

	// Listeners: matched by position (the first one is the one -listen names).
	if len(cfg.Listeners) != len(r.listeners) {
		note("listeners (their number)")
	}
	updates := make([]*listenerUpdate, len(r.listeners))
	for i, l := range r.listeners {
		if i >= len(cfg.Listeners) {
			break
		}
		u, err := l.prepare(cfg.Listeners[i])
		if err != nil {
			return err
		}
		for _, key := range u.restartNeeded {
			note(key)
		}
		updates[i] = u
	}
	for _, rc := range cfg.Realms {
		if err := rc.Validate(); err != nil {
			return err
		}
	}
	if cfg.DataDir != r.cfg.DataDir {
		note("data_dir")
	}
	if !reflect.DeepEqual(cfg.HistoryStore, r.cfg.HistoryStore) {
		note("history_store")
	}
	if cfg.Log.Format != r.cfg.Log.Format {
		note("log.format")
	}
	for i, lc := range cfg.Listeners {
		if i < len(r.cfg.Listeners) && !reflect.DeepEqual(lc.Bridge, r.cfg.Listeners[i].Bridge) {
			note("listeners[" + r.cfg.Listeners[i].Listen + "].bridge")
		}
	}
	if !reflect.DeepEqual(cfg.Bridge, r.cfg.Bridge) {
		note("bridge")
	}
	if adminAddress(cfg.Admin.Listen) != adminAddress(r.cfg.Admin.Listen) {
		note("admin.listen")
	}
	if cfg.Limits.httpTimeouts() != r.cfg.Limits.httpTimeouts() {
		note("limits.http_*") // set on each listener's HTTP server when it starts
	}

	// From here on nothing fails.
	for i, u := range updates {
		if u != nil {
			r.listeners[i].apply(cfg, u, r.log)
		}
	}
	configured := map[wamp.URI]bool{}
	for _, rc := range cfg.Realms {
		configured[rc.Name] = true
		rc.HistoryStore = r.history
		if existing, ok := r.rt.Realm(rc.Name); ok {
			keys, err := existing.Reconfigure(rc)
			if err != nil { // validated above; kept as the realm was
				r.log.Error("realm not reconfigured", "realm", rc.Name, "err", err)
			}
			for _, key := range keys {
				note("realms[" + string(rc.Name) + "]." + key)
			}
			continue
		}
		r.node.configureRealm(&rc)
		r.node.configureDealer(&rc)
		r.rt.AddRealm(realm.New(rc, r.log))
		r.log.Info("realm added", "realm", rc.Name)
	}
	for _, rc := range r.cfg.Realms {
		if !configured[rc.Name] {
			note("realms (removing " + string(rc.Name) + ")")
		}
	}
	level, _ := parseLevel(cfg.Log.Level)
	r.level.Set(level)
	r.cfg = cfg
	if len(restart) > 0 {
		r.log.Warn("configuration reloaded; these changes need a restart and were not applied", "keys", restart)
	} else {
		r.log.Info("configuration reloaded")
	}
	return nil
}

// shutdown stops accepting, then lets sessions say goodbye within the shutdown grace.
func (r *router) shutdown() {
	r.mu.Lock()
	grace := r.cfg.shutdownGrace()
	r.mu.Unlock()
	r.log.Info("shutting down", "grace", grace)
	r.ready.shuttingDown() // /readyz: 503 while sessions drain
	closeCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, l := range r.listeners {
		l.shutdown(closeCtx)
	}
	r.boundedByCluster(grace+clusterCloseMargin, func() {
		r.bridge.Close() // its sessions leave before the router says GOODBYE to the rest
		r.rt.Shutdown(grace)
		r.node.close() // after the sessions have left: their leaving reached the other nodes
		if r.history != nil {
			r.history.Close() // after the realms' shutdown has flushed their history
		}
	})
	if r.admin != nil {
		r.admin.close() // last: metrics and readiness answered while sessions drained
	}
	r.log.Info("stopped")
}

// clusterCloseMargin is how long a cluster node's shutdown may take beyond the grace: what is
// left then waits on a NATS or JetStream answer that a node whose peers are gone may never get.
const clusterCloseMargin = 2 * time.Second

// boundedByCluster runs closeAll; on a cluster node it waits at most bound for it and then
// logs what is still running (all goroutines' stacks, to stderr) and lets the process exit,
// rather than hang on a cluster that no longer answers. Without a cluster it just runs it:
// closing a local history store flushes it, and is never cut short.
func (r *router) boundedByCluster(bound time.Duration, closeAll func()) {
	if r.node == nil {
		closeAll()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		closeAll()
	}()
	select {
	case <-done:
	case <-time.After(bound):
		r.log.Error("shutdown: the cluster did not let go within its bound; exiting anyway", "bound", bound)
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
	}
}

func (c *Config) shutdownGrace() time.Duration {
	if c.Limits.ShutdownGrace > 0 {
		return c.Limits.ShutdownGrace
	}
	return 5 * time.Second
}
