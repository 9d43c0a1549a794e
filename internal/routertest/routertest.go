// Package routertest runs a real Pawl router on a loopback port for tests.
package routertest

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/internal/testcert"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// Router is a running test router.
type Router struct {
	*realm.Router
	URL string // ws://127.0.0.1:PORT/ws
	// RawSocketURL is rs://127.0.0.1:PORT (rss:// with TLS), with Options.RawSocket; the
	// WebSocket port serves RawSocket too (rawsocket.Split).
	RawSocketURL string
	Realm        *realm.Realm
	// TLS is the client configuration trusting the router's certificate (Options.TLS).
	TLS    *tls.Config
	server *http.Server
}

// Options for Start; the zero value serves realm "realm1" with default limits.
type Options struct {
	Realms   []realm.Config
	Endpoint realm.EndpointOptions
	// Logger defaults to one that prints warnings and errors only.
	Logger *slog.Logger
	// TLS serves wss:// with a certificate generated for the test; ServerTLS, when set,
	// adjusts the server's TLS configuration (e.g. MaxVersion).
	TLS       bool
	ServerTLS func(*tls.Config)
	// RawSocket also serves RawSocket on a port of its own (RawSocketURL) and on the
	// WebSocket port, with these options.
	RawSocket *realm.RawSocketEndpointOptions
}

// Start runs a router on 127.0.0.1:0 until the test ends; at cleanup it shuts the router down,
// checks that every session left, and that no goroutine is left behind.
func Start(t testing.TB, opts Options) *Router {
	t.Helper()
	leakcheck.Check(t)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if len(opts.Realms) == 0 {
		opts.Realms = []realm.Config{{Name: "realm1"}}
	}
	rt := realm.NewRouter(log)
	for _, rc := range opts.Realms {
		rt.AddRealm(realm.New(rc, log))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "ws://"
	var clientTLS, serverTLS *tls.Config
	if opts.TLS {
		cert, err := testcert.New()
		if err != nil {
			t.Fatal(err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
		if opts.ServerTLS != nil {
			opts.ServerTLS(cfg)
		}
		ln, serverTLS = tls.NewListener(ln, cfg), cfg
		scheme, clientTLS = "wss://", cert.ClientConfig()
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", rt.WebSocketHandler(opts.Endpoint))
	hs := websocket.NewHTTPServer(mux, websocket.HTTPTimeouts{})
	served := make(chan error, 1)
	wsAddr := ln.Addr().String()
	var rsURL string
	var rs *realm.RawSocketEndpoint
	if opts.RawSocket != nil {
		rs = rt.NewRawSocketEndpoint(*opts.RawSocket)
		rln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rsScheme := "rs://"
		if clientTLS != nil {
			rln = tls.NewListener(rln, serverTLS)
			rsScheme = "rss://"
		}
		rsURL = rsScheme + rln.Addr().String()
		go rs.Serve(rln)
		ln = rawsocket.Split(ln, rs.Server(), 0)
		hs.ConnContext = rawsocket.ConnContext
		hs.Handler = rawsocket.RestoreTLS(mux)
	}
	go func() { served <- hs.Serve(ln) }()
	r := &Router{Router: rt, URL: scheme + wsAddr + "/ws", RawSocketURL: rsURL, TLS: clientTLS, server: hs}
	r.Realm, _ = rt.Realm(wamp.URI(opts.Realms[0].Name))
	t.Cleanup(func() {
		hs.Close()
		if rs != nil {
			rs.Close()
		}
		rt.Shutdown(2 * time.Second)
		if n := rt.Sessions(); n != 0 {
			t.Errorf("router still serves %d sessions after shutdown", n)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return r
}
