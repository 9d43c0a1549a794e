package httpbridge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/realm"
)

// Bridge runs a router's HTTP bridge services. Create it with New, add services with Handler
// (mount the result on a listener's mux), Forward and Serve, and Close it before the router
// shuts down.
type Bridge struct {
	rt     *realm.Router
	log    *slog.Logger
	client *http.Client // outgoing requests (forwarders)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	nonces nonceStore // of all signed services (signature.go)
	stats  Stats
}

// Options for New; the zero value is usable.
type Options struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// HTTPClient sends the forwarders' requests (default: a client of its own; each request
	// is bounded by the forwarder's timeout).
	HTTPClient *http.Client
}

// Stats counts what the bridge did and refused; every field is read with atomic loads.
type Stats struct {
	Requests  atomic.Int64 // HTTP requests received by the services
	Refused   atomic.Int64 // answered with a 4xx or 5xx status
	Forwarded atomic.Int64 // events POSTed successfully by subscriber forwarders
	Retries   atomic.Int64 // further attempts after a failed POST
	Failed    atomic.Int64 // events given up after the last retry (or refused by the target)
	Dropped   atomic.Int64 // events dropped because a forwarder's queue was full
	Invoked   atomic.Int64 // invocations POSTed by callee forwarders
}

// New returns a bridge for the router's realms.
func New(rt *realm.Router, opts Options) *Bridge {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	b := &Bridge{rt: rt, log: opts.Logger, client: opts.HTTPClient}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() *Stats { return &b.stats }

// startKeeper runs a service's session keeper until Close.
func (b *Bridge) startKeeper(k *keeper) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		k.run(b.ctx)
	}()
}

// Handler returns the HTTP handler of a publisher, caller or webhook service and starts its
// session. cfg is validated (and its defaults filled in) first.
func (b *Bridge) Handler(cfg ServiceConfig) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{b: b, cfg: cfg, log: b.log.With("bridge", cfg.Path, "type", cfg.Type),
		slots: make(chan struct{}, cfg.MaxInFlight)}
	if len(cfg.Keys) > 0 {
		b.nonces.grow(cfg.MaxNonces)
		s.signer = newVerifier(cfg.Keys, cfg.TimestampWindow, &b.nonces)
	}
	switch cfg.Type {
	case TypePublisher:
		s.process = s.publish
	case TypeCaller:
		s.process = s.call
	case TypeWebhook:
		s.process, s.rawBody = s.webhook, true
	default:
		return nil, fmt.Errorf("bridge service %s: unknown type %q", cfg.Path, cfg.Type)
	}
	s.keeper = newKeeper(b.rt, cfg.Realm, cfg.Role, cfg.AuthID, s.log, nil)
	b.startKeeper(s.keeper)
	return s, nil
}

// Close stops every service: forwarders stop retrying (events still queued are dropped and
// counted), their sessions leave, and the handlers answer 503. It waits for the bridge's
// goroutines to end.
func (b *Bridge) Close() {
	b.cancel()
	b.wg.Wait()
	b.client.CloseIdleConnections()
}
