package websocket

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Handler serves one upgraded connection. ServeConn runs on the connection's reader goroutine;
// when it returns, the connection is released.
type Handler interface {
	ServeConn(c *Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(c *Conn)

// ServeConn calls f(c).
func (f HandlerFunc) ServeConn(c *Conn) { f(c) }

// writeBufferPool shares write buffers between connections: an idle connection holds none.
var writeBufferPool = &sync.Pool{}

// Server is an http.Handler that upgrades requests to WebSocket and hands them to Handler.
type Server struct {
	cur          atomic.Pointer[serverOptions] // for new connections; SetOptions swaps it
	subprotocols []string                      // fixed when built
	handler      Handler
	upgrader     websocket.Upgrader
	log          *slog.Logger
	active       atomic.Int64 // connections being served (for MaxConnections)
}

// serverOptions are a server's options with the defaults filled in, and the delayer their
// WriteDelay needs.
type serverOptions struct {
	Options
	delay *delayer // with WriteDelay
}

// NewServer builds a WebSocket endpoint serving h with the given options.
func NewServer(h Handler, opts Options, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	opts = opts.withDefaults()
	s := &Server{subprotocols: opts.Subprotocols, handler: h, log: log}
	s.SetOptions(opts)
	s.upgrader = websocket.Upgrader{
		// Gorilla's connection only performs the handshake (see newServerConn): without
		// buffer sizes it reuses net/http's buffers instead of allocating its own.
		WriteBufferPool: writeBufferPool,
		Subprotocols:    s.subprotocols,
		CheckOrigin:     func(*http.Request) bool { return true }, // ServeHTTP has screened it
	}
	return s
}

// SetOptions changes the options for the connections accepted from now on (a configuration
// reload); connections being served keep theirs. Subprotocols stay as the server was built
// with, and so does the count of connections MaxConnections bounds.
func (s *Server) SetOptions(opts Options) {
	opts = opts.withDefaults()
	opts.Subprotocols = s.subprotocols
	next := &serverOptions{Options: opts}
	if prev := s.cur.Load(); prev != nil && prev.WriteDelay == opts.WriteDelay {
		next.delay = prev.delay
	} else if opts.WriteDelay > 0 {
		next.delay = newDelayer(opts.WriteDelay, 2*runtime.GOMAXPROCS(0))
	}
	s.cur.Store(next)
}

// ServeHTTP upgrades the request and serves the connection until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this endpoint speaks WebSocket only", http.StatusUpgradeRequired)
		return
	}
	o := s.cur.Load()
	if len(s.subprotocols) > 0 && !s.offersSupported(r) {
		s.log.Info("refused connection: no supported subprotocol",
			"remote", r.RemoteAddr, "offered", websocket.Subprotocols(r))
		http.Error(w, "no supported subprotocol; offer one of: "+strings.Join(s.subprotocols, ", "),
			http.StatusBadRequest)
		return
	}
	if n := s.active.Add(1); o.MaxConnections > 0 && n > int64(o.MaxConnections) {
		s.active.Add(-1)
		LimitStats.ConnectionsRefused.Add(1)
		s.log.Warn("refused connection: too many sessions on this endpoint", "remote", r.RemoteAddr,
			"max_sessions", o.MaxConnections)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many sessions on this endpoint", http.StatusServiceUnavailable)
		return
	}
	v := view(&o.Options, r)
	if ref := screen(&o.Options, r, v); ref != nil {
		s.active.Add(-1)
		s.log.Warn("refused connection: "+ref.code, "remote", v.remote(r), "origin", r.Header.Get("Origin"),
			"host", v.host, "allow_with", ref.allow)
		refuse(w, ref.status, ref.code, ref.message)
		return
	}
	ws, agreed, deflate, err := upgradeDeflating(&s.upgrader, w, r, &o.Deflate)
	if err != nil {
		s.active.Add(-1)
		// The upgrader has already answered with an HTTP error.
		s.log.Info("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	// The connection gets a goroutine of its own and the HTTP handler returns: net/http then
	// drops its per-request state (buffers, parsed request, contexts), which an idle
	// connection would otherwise hold for its whole life. The request stays available for
	// headers and cookies, detached from the finished request's context.
	req := r.WithContext(context.Background())
	c := newServerConn(ws, &o.Options, req, o.delay)
	if deflate {
		c.useDeflate(agreed)
	}
	if v.client != nil { // a trusted proxy forwarded the client's address
		req.RemoteAddr = v.client.String()
		c.clientAddr = v.client
	}
	c.canPark(&s.active)
	go func() {
		s.handler.ServeConn(c)
		if c.settle() {
			return // parked: the goroutine that resumes the handler releases the connection
		}
		c.served()
	}()
}

func (s *Server) offersSupported(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if slices.Contains(s.subprotocols, p) {
			return true
		}
	}
	return false
}

// checkOrigin reports whether a request may upgrade under o, for upgraders that screen
// nothing themselves (App routes): see admission.go.
func checkOrigin(o *Options, r *http.Request) bool {
	return screen(o, r, view(o, r)) == nil
}

// OriginAllowed matches an origin against patterns: "*", a full origin
// ("https://app.example.com"), or a host pattern with wildcards ("*.example.com",
// "localhost:*").
func OriginAllowed(patterns []string, origin *url.URL) bool {
	full := strings.ToLower(origin.Scheme + "://" + origin.Host)
	host := strings.ToLower(origin.Host)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if p == "*" || p == full || p == host {
			return true
		}
		target := host
		if strings.Contains(p, "://") {
			target = full
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
		// "*.example.com" also covers "example.com:8080"-less hosts with a port.
		if h := origin.Hostname(); h != host {
			if ok, _ := path.Match(p, strings.ToLower(h)); ok {
				return true
			}
		}
	}
	return false
}
