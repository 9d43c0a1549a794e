package admin

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
)

// Options configure the admin handler. The zero value serves metrics, health and status with
// no readiness checks (always ready while the process runs).
type Options struct {
	// Checks decide /readyz; each failing one is named in its 503 answer.
	Checks []Check
	// Logger receives errors of the metrics exposition (default slog.Default()).
	Logger *slog.Logger
	// Bridge, when set, adds the HTTP bridge's counters (pawl_bridge_*) to /metrics.
	Bridge *httpbridge.Bridge
	// Cluster, when set (a node of a cluster), adds its counters (pawl_cluster_*) to /metrics
	// and its nodes to the status page.
	Cluster Cluster
}

// Handler serves the admin routes of a router: /metrics, /healthz, /readyz, /status and
// /status.json (and / redirects to /status). Mount it on a listener of its own: the status
// page shows who is connected.
func Handler(rt *realm.Router, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(), // go_build_info: the module's version
		routerCollector{rt},
		limitCollector{},
	)
	if opts.Bridge != nil {
		reg.MustRegister(bridgeCollector{opts.Bridge})
	}
	if opts.Cluster != nil {
		reg.MustRegister(clusterCollector{opts.Cluster})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(opts.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(opts.Checks))
	mux.HandleFunc("GET /status", statusPage)
	mux.HandleFunc("GET /status.json", statusJSON(rt, opts.Cluster))
	mux.Handle("GET /{$}", http.RedirectHandler("/status", http.StatusFound))
	return mux
}
