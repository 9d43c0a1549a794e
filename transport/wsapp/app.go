package wsapp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/pawl-wamp/pawl/transport/websocket"
)

// RouteOptions configure one plain WebSocket route of an App. The zero value accepts any
// subprotocol-less client from the same host, with the transport's default limits.
type RouteOptions struct {
	// AllowedOrigins lists the browser origins that may connect: "*" for any, a full origin
	// ("https://app.example.com") or a host pattern ("*.example.com", "localhost:*"). Empty
	// allows only pages served from the same host. Clients that send no Origin header
	// (non-browser peers) are always allowed. A refused origin gets HTTP 403.
	AllowedOrigins []string
	// Subprotocols the route speaks, in order of preference. A client that offers none of
	// them is refused with HTTP 400 (strict checking, as Ratchet does by default) unless
	// LaxSubprotocols is set, which accepts it without a subprotocol.
	Subprotocols    []string
	LaxSubprotocols bool
	// KeepAlive is how often the server pings (default 30s; negative disables keepalive). A
	// peer that answers nothing, not even a pong, for KeepAlive+PongTimeout is closed, and
	// OnClose reports 1006 with reason pawl.close.keepalive_timeout.
	KeepAlive   time.Duration
	PongTimeout time.Duration // default 10s
	// MaxMessageSize is the largest message accepted, in bytes (default 16 MiB). A larger one
	// closes the connection with 1009 (OnClose: 1009, pawl.close.message_too_big).
	MaxMessageSize int64
	// MaxFragments is the most frames one message may arrive in (default 65536; negative: no
	// bound). More close the connection with 1009 (OnClose: 1009,
	// pawl.close.too_many_fragments).
	MaxFragments int
	// BlockedIPs refuses clients by address (HTTP 403): CIDR prefixes ("10.0.0.0/8",
	// "2001:db8::/32") or single addresses ("192.0.2.7"). The address is the TCP peer's; put
	// a trusted proxy's own check in front when there is one.
	BlockedIPs []string
	// QueueMessages and QueueBytes bound each connection's outbound queue (defaults 4096
	// messages, 16 MiB); a peer whose queue overflows is cut off (1013).
	QueueMessages int
	QueueBytes    int
	// WriteTimeout bounds one socket write (default 10s); a peer that stops reading is closed.
	WriteTimeout time.Duration
	// MaxConnections bounds the route's connections at once (0: no bound); more get HTTP 503.
	MaxConnections int
	// Deflate configures permessage-deflate (RFC 7692) on the route, as on a WAMP listener
	// (default off; see websocket.DeflateOptions). Browsers offer it on every WebSocket.
	// Broadcast compresses a message once for every connection it reaches.
	Deflate websocket.DeflateOptions
}

func (o RouteOptions) transport() websocket.Options {
	return websocket.Options{
		Subprotocols:   o.Subprotocols,
		AllowedOrigins: o.AllowedOrigins,
		MaxMessageSize: o.MaxMessageSize,
		MaxFragments:   o.MaxFragments,
		PingInterval:   o.KeepAlive,
		PongTimeout:    o.PongTimeout,
		WriteTimeout:   o.WriteTimeout,
		QueueMessages:  o.QueueMessages,
		QueueBytes:     o.QueueBytes,
		MaxConnections: o.MaxConnections,
		Deflate:        o.Deflate,
	}.WithDefaults()
}

// App is an http.Handler that serves plain WebSocket components on routes, next to any
// other handler: the WAMP router, static files. It is Ratchet's App in Go:
//
//	app := wsapp.NewApp(logger)
//	app.Route("/chat", chat, wsapp.RouteOptions{AllowedOrigins: []string{"*"}})
//	app.Handle("/ws", router.WebSocketHandler(realm.EndpointOptions{}))  // WAMP, same port
//	app.Handle("/", http.FileServerFS(static))
//	http.ListenAndServe("127.0.0.1:8080", app)
//
// Route and Handle use http.ServeMux patterns. Shutdown ends every plain connection.
type App struct {
	mux    *http.ServeMux
	log    *slog.Logger
	nextID atomic.Uint64

	mu         sync.Mutex
	peers      map[*Peer]struct{}
	closed     bool
	wg         sync.WaitGroup // one per connection being served
	onShutdown []func()       // run by Run on the way out, newest first
}

// NewApp returns an App with no routes; log may be nil (slog.Default()).
func NewApp(log *slog.Logger) *App {
	if log == nil {
		log = slog.Default()
	}
	return &App{mux: http.NewServeMux(), log: log, peers: make(map[*Peer]struct{})}
}

// Route serves component on path (an http.ServeMux pattern, e.g. "/chat"). It fails on
// invalid options; like http.ServeMux it panics when the pattern conflicts with another.
func (a *App) Route(path string, component Component, opts RouteOptions) error {
	if component == nil {
		return fmt.Errorf("route %s: nil component", path)
	}
	blocked, err := ParseIPList(opts.BlockedIPs)
	if err != nil {
		return fmt.Errorf("route %s: %w", path, err)
	}
	e := &endpoint{app: a, path: path, component: component, opts: opts.transport(), lax: opts.LaxSubprotocols,
		log: a.log.With("route", path)}
	e.upgrader = websocket.Upgrader(e.opts) // only the handshake, as websocket.Server's
	e.upgrader.Error = func(w http.ResponseWriter, r *http.Request, status int, reason error) {
		e.log.Info("websocket upgrade refused", "remote", r.RemoteAddr, "status", status, "err", reason)
		http.Error(w, reason.Error(), status)
	}
	var h http.Handler = e
	if len(blocked) > 0 {
		h = blockIPs(blocked, h, e.log)
	}
	a.mux.Handle(path, h)
	return nil
}

// Handle serves any handler on pattern: the WAMP router's WebSocketHandler, static files.
func (a *App) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

// HandleFunc serves a handler function on pattern.
func (a *App) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	a.mux.HandleFunc(pattern, h)
}

// ServeHTTP dispatches to the route or handler matching the request.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Connections is the number of plain WebSocket connections being served.
func (a *App) Connections() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.peers)
}

// Shutdown closes every plain WebSocket connection with 1001 (going away, reason
// pawl.close.shutdown), refuses new ones, and waits until their OnClose callbacks have run or
// ctx ends. Handlers mounted with Handle (the WAMP router) are shut down by their owners.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	peers := make([]*Peer, 0, len(a.peers))
	for p := range a.peers {
		peers = append(peers, p)
	}
	a.mu.Unlock()
	for _, p := range peers {
		p.Close(websocket.CloseGoingAway, websocket.ReasonShutdown+": the server is shutting down")
	}
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing websocket app: %d connections still open: %w", a.Connections(), ctx.Err())
	}
}

// admit records a new connection; it fails once the App is closed.
func (a *App) admit(p *Peer) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.peers[p] = struct{}{}
	a.wg.Add(1)
	return true
}

func (a *App) release(p *Peer) {
	a.mu.Lock()
	delete(a.peers, p)
	a.mu.Unlock()
	a.wg.Done()
}

// endpoint serves one route.
type endpoint struct {
	app       *App
	path      string
	component Component
	opts      websocket.Options
	lax       bool
	upgrader  gorilla.Upgrader
	log       *slog.Logger
	active    atomic.Int64
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !gorilla.IsWebSocketUpgrade(r) {
		http.Error(w, "this endpoint speaks WebSocket only", http.StatusUpgradeRequired)
		return
	}
	if len(e.opts.Subprotocols) > 0 && !e.lax && !offers(r, e.opts.Subprotocols) {
		e.log.Info("refused connection: no supported subprotocol", "remote", r.RemoteAddr,
			"offered", gorilla.Subprotocols(r))
		http.Error(w, "no supported subprotocol; offer one of: "+strings.Join(e.opts.Subprotocols, ", "),
			http.StatusBadRequest)
		return
	}
	if n := e.active.Add(1); e.opts.MaxConnections > 0 && n > int64(e.opts.MaxConnections) {
		e.active.Add(-1)
		websocket.LimitStats.ConnectionsRefused.Add(1)
		e.log.Warn("refused connection: too many connections on this route", "remote", r.RemoteAddr,
			"max_connections", e.opts.MaxConnections)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	conn, err := websocket.Accept(&e.upgrader, w, r, e.opts)
	if err != nil {
		e.active.Add(-1) // the upgrader has already answered with an HTTP error
		return
	}
	p := &Peer{id: e.app.nextID.Add(1), route: e.path, conn: conn}
	if !e.app.admit(p) {
		e.active.Add(-1)
		p.conn.Close(websocket.CloseGoingAway, websocket.ReasonShutdown+": the server is shutting down")
		p.conn.Done()
		return
	}
	// The connection gets a goroutine of its own and the HTTP handler returns, so net/http
	// frees its per-request state (as websocket.Server does).
	go func() {
		defer e.app.release(p)
		defer e.active.Add(-1)
		e.serve(p)
	}()
}

func offers(r *http.Request, supported []string) bool {
	for _, p := range gorilla.Subprotocols(r) {
		if slices.Contains(supported, p) {
			return true
		}
	}
	return false
}

// serve runs one connection: OnOpen, OnMessage for each message, then OnClose.
func (e *endpoint) serve(p *Peer) {
	log := e.log.With("peer", p.id, "remote", p.RemoteAddr().String())
	log.Debug("websocket open", "subprotocol", p.Subprotocol())
	e.call(p, "OnOpen", log, func() { e.component.OnOpen(p) })
	var err error
	for {
		var m Message
		if m, err = readMessage(p.conn); err != nil {
			break
		}
		if p.closing.Load() {
			continue // closing: read on only to complete the close handshake
		}
		e.call(p, "OnMessage", log, func() { e.component.OnMessage(p, m) })
	}
	code, reason := p.closeStatus(err, e.opts)
	if code == websocket.CloseMessageTooBig || code == CloseAbnormal {
		// Tell a peer that can still hear it why (a close already under way keeps its reason).
		p.conn.Close(wireCode(code), reason)
	}
	p.conn.Done()
	log.Debug("websocket closed", "code", code, "reason", reason)
	e.call(p, "OnClose", log, func() { e.component.OnClose(p, code, reason) })
}

// wireCode is the code to send for one OnClose reports: 1006 must not go on the wire.
func wireCode(code int) int {
	if code == CloseAbnormal {
		return websocket.CloseGoingAway
	}
	return code
}

// call runs one callback, turning a panic into OnError and closing only this connection.
func (e *endpoint) call(p *Peer, name string, log *slog.Logger, f func()) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		perr := &PanicError{Callback: name, Value: v, Stack: debug.Stack()}
		log.Error("component panicked; closing its connection", "callback", name, "panic", fmt.Sprint(v),
			"stack", string(perr.Stack))
		if name != "OnClose" {
			p.Close(websocket.CloseInternalError, websocket.ReasonInternalError+": the application failed")
		}
		e.onError(p, perr, log)
	}()
	f()
}

// onError reports an error to the component; a panic there is only logged.
func (e *endpoint) onError(p *Peer, err error, log *slog.Logger) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("component panicked in OnError", "panic", fmt.Sprint(v), "err", err)
		}
	}()
	e.component.OnError(p, err)
}

// ParseIPList parses addresses and CIDR prefixes ("192.0.2.7", "10.0.0.0/8", "2001:db8::/32").
func ParseIPList(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("blocked IP %q: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("blocked IP %q: %w", s, err)
		}
		addr = addr.Unmap()
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}

// BlockIPs wraps next so that clients whose address is in blocked (addresses and CIDR
// prefixes, as ParseIPList reads them) get HTTP 403: for a WAMP route mounted with
// App.Handle, or any handler.
func BlockIPs(blocked []string, next http.Handler, log *slog.Logger) (http.Handler, error) {
	list, err := ParseIPList(blocked)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return blockIPs(list, next, log), nil
}

func blockIPs(blocked []netip.Prefix, next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		addr := ap.Addr().Unmap()
		if err != nil || slices.ContainsFunc(blocked, func(p netip.Prefix) bool { return p.Contains(addr) }) {
			log.Info("refused connection: blocked address", "remote", r.RemoteAddr)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
