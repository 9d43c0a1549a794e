package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/transport/websocket"
)

// listener is one of the router's sockets with its WAMP endpoint. Its settings are applied in
// one place, apply, at start and on every reload: the certificate, and the endpoint options
// (origins, limits) for the connections accepted from then on.
type listener struct {
	cfg      ListenerConfig             // as last applied
	ln       net.Listener               // the socket (TLS-wrapped for wss://)
	tls      atomic.Pointer[tls.Config] // the current certificate and TLS settings; nil for ws://
	endpoint *realm.Endpoint            // type websocket
	rs       *realm.RawSocketEndpoint   // type rawsocket, or RawSocket on a WebSocket port
	http     *http.Server
	url      string
	rsURL    string // where RawSocket is served, if it is
}

// listenerUpdate is a listener's new settings, with everything that could fail done.
type listenerUpdate struct {
	cfg           ListenerConfig
	tls           *tls.Config // nil: no TLS
	restartNeeded []string    // settings that cannot change while it serves
}

// openListener loads the listener's certificate and opens its socket (SO_REUSEPORT where the
// system has it, so that a new router can start on the same port before this one drains).
func openListener(lc ListenerConfig) (*listener, error) {
	l := &listener{}
	u, err := l.prepare(lc)
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	if lc.Unix != "" {
		ln, err = listenUnix(lc.Unix, lc.unixAccess)
	} else {
		ln, err = listenReusePort(lc.Listen)
	}
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", lc.name(), err)
	}
	scheme, rsScheme := "ws://", "rs://"
	if u.tls != nil {
		l.tls.Store(u.tls)
		// The handshake asks for the current config, so a reload's certificate serves the
		// next connection.
		ln = tls.NewListener(ln, &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return l.tls.Load(), nil
		}})
		scheme, rsScheme = "wss://", "rss://"
	}
	l.cfg, l.ln = lc, ln
	switch {
	case lc.Unix != "":
		l.rsURL = "unix://" + lc.Unix
	case lc.Type == "rawsocket":
		l.rsURL = rsScheme + ln.Addr().String()
	default:
		l.url = scheme + ln.Addr().String() + lc.Path
		if lc.servesRawSocket() {
			l.rsURL = rsScheme + ln.Addr().String()
		}
	}
	return l, nil
}

// prepare checks new settings for the listener and loads its certificate.
func (l *listener) prepare(lc ListenerConfig) (*listenerUpdate, error) {
	u := &listenerUpdate{cfg: lc}
	if l.ln != nil { // running: what only a restart changes
		if lc.Type != l.cfg.Type || lc.Unix != l.cfg.Unix || lc.servesRawSocket() != l.cfg.servesRawSocket() ||
			lc.unixAccess != l.cfg.unixAccess {
			u.restartNeeded = append(u.restartNeeded, "listeners["+l.cfg.name()+"].type, unix, unix_mode, unix_group, rawsocket")
		}
		if lc.Listen != l.cfg.Listen {
			u.restartNeeded = append(u.restartNeeded, "listeners["+l.cfg.Listen+"].listen")
		}
		if lc.Path != l.cfg.Path {
			u.restartNeeded = append(u.restartNeeded, "listeners["+l.cfg.Listen+"].path")
		}
		if (lc.TLS == nil) != (l.cfg.TLS == nil) {
			u.restartNeeded = append(u.restartNeeded, "listeners["+l.cfg.Listen+"].tls (on or off)")
			return u, nil // keep the scheme it serves
		}
	}
	if lc.TLS != nil {
		cfg, err := lc.TLS.serverTLS()
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", lc.Listen, err)
		}
		u.tls = cfg
	}
	return u, nil
}

// serve mounts the WAMP endpoint and the HTTP bridge's services (path → handler) and serves
// the socket; an error that ends serving goes to failed. A RawSocket listener serves RawSocket
// alone; a WebSocket listener serves it on its port too, unless its config says rawsocket: false.
func (l *listener) serve(rt *realm.Router, c *Config, lc ListenerConfig, log *slog.Logger, failed chan<- error,
	bridge map[string]http.Handler) {
	if lc.servesRawSocket() {
		l.rs = rt.NewRawSocketEndpoint(c.rawSocketOptions(lc, log))
	}
	if lc.Type == "rawsocket" {
		log.Info("listening", "rawsocket", l.rsURL)
		go func() {
			if err := l.rs.Serve(l.ln); !errors.Is(err, rawsocket.ErrServerClosed) {
				failed <- fmt.Errorf("serve %s: %w", l.ln.Addr(), err)
			}
		}()
		return
	}
	l.endpoint = rt.NewEndpoint(c.endpointOptions(lc, log))
	mux := http.NewServeMux()
	mux.Handle(lc.Path, l.endpoint)
	for path, h := range bridge {
		mux.Handle(path, h)
	}
	l.http = websocket.NewHTTPServer(mux, c.Limits.httpTimeouts()) // read, header and idle timeouts
	l.http.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	ln := l.ln
	if l.rs != nil {
		// RawSocket on the WebSocket port: a connection whose first octet is 0x7F is
		// RawSocket's, any other HTTP's.
		ln = rawsocket.Split(ln, l.rs.Server(), 0)
		l.http.ConnContext = rawsocket.ConnContext
		l.http.Handler = rawsocket.RestoreTLS(l.http.Handler)
		log.Info("listening", "url", l.url, "rawsocket", l.rsURL)
	} else {
		log.Info("listening", "url", l.url)
	}
	go func() {
		if err := l.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("serve %s: %w", l.ln.Addr(), err)
		}
	}()
}

// apply makes new settings the listener's: its certificate and the endpoint options for new
// connections. Sessions being served keep theirs.
func (l *listener) apply(c *Config, u *listenerUpdate, log *slog.Logger) {
	if u.tls != nil {
		l.tls.Store(u.tls)
	}
	lc := u.cfg
	lc.Listen, lc.Path, lc.TLS = l.cfg.Listen, l.cfg.Path, keepTLSPresence(l.cfg.TLS, u.cfg.TLS)
	lc.Type, lc.Unix, lc.RawSocket = l.cfg.Type, l.cfg.Unix, l.cfg.RawSocket
	lc.UnixMode, lc.UnixGroup, lc.unixAccess = l.cfg.UnixMode, l.cfg.UnixGroup, l.cfg.unixAccess
	if l.endpoint != nil {
		l.endpoint.SetOptions(c.endpointOptions(lc, log))
	}
	if l.rs != nil {
		l.rs.SetOptions(c.rawSocketOptions(lc, log))
	}
	l.cfg = lc
}

// keepTLSPresence keeps a listener's TLS on or off as it started.
func keepTLSPresence(running, next *TLSConfig) *TLSConfig {
	if (running == nil) != (next == nil) {
		return running
	}
	return next
}

// close closes a listener that never served.
func (l *listener) close() { l.ln.Close() }

// shutdown stops accepting and closes idle HTTP connections; WebSocket sessions are ended by
// the router's shutdown.
func (l *listener) shutdown(ctx context.Context) {
	if l.rs != nil {
		l.rs.Close()
	}
	if l.http != nil {
		l.http.Shutdown(ctx)
		return
	}
	l.ln.Close()
}
