package realm

import (
	"net/http"
	"time"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// EndpointOptions configure one WAMP-over-WebSocket endpoint.
type EndpointOptions struct {
	Transport websocket.Options
	Session   session.HostOptions
}

// WebSocketHandler returns an http.Handler serving WAMP over WebSocket (wamp.2.json,
// wamp.2.msgpack and wamp.2.cbor) for this router; mount it on any path of any mux.
// Router.Shutdown ends the sessions it serves.
func (rt *Router) WebSocketHandler(opts EndpointOptions) http.Handler {
	return rt.NewEndpoint(opts)
}

// Endpoint is a WAMP-over-WebSocket endpoint of a router (an http.Handler) whose options can
// change while it serves.
type Endpoint struct {
	transport *websocket.Server
	session   *session.Host
}

// NewEndpoint is WebSocketHandler for callers that change the endpoint's options later.
func (rt *Router) NewEndpoint(opts EndpointOptions) *Endpoint {
	if len(opts.Transport.Subprotocols) == 0 {
		opts.Transport.Subprotocols = websocket.SubprotocolsFor(wamp.CodecNames(session.Codecs...)...)
	}
	srv := rt.sessionServer(opts.Session)
	return &Endpoint{session: srv,
		transport: websocket.NewServer(websocket.HandlerFunc(func(c *websocket.Conn) { srv.ServePeer(c) }), opts.Transport, rt.log)}
}

// ServeHTTP upgrades the request and serves its WAMP session.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.transport.ServeHTTP(w, r) }

// SetOptions changes the options for the connections accepted from now on (origins, limits,
// timeouts); sessions being served keep theirs. The subprotocols and the logger stay.
func (e *Endpoint) SetOptions(opts EndpointOptions) {
	e.transport.SetOptions(opts.Transport)
	e.session.SetOptions(opts.Session)
}

// sessionServer starts a session server admitting sessions to this router, which Shutdown
// ends.
func (rt *Router) sessionServer(opts session.HostOptions) *session.Host {
	if opts.Logger == nil {
		opts.Logger = rt.log
	}
	srv := session.NewHost(rt, opts)
	rt.mu.Lock()
	rt.servers = append(rt.servers, srv)
	rt.mu.Unlock()
	return srv
}

// Shutdown closes the connection of every session of every endpoint (WebSocket 1001 with
// reason wamp.close.system_shutdown, so that clients reconnect)
// and waits up to grace for them to leave before cutting off the rest.
func (rt *Router) Shutdown(grace time.Duration) {
	rt.local.beginShutdown()
	rt.mu.RLock()
	servers := append([]*session.Host(nil), rt.servers...)
	rt.mu.RUnlock()
	done := make(chan struct{})
	for _, srv := range servers {
		go func() {
			srv.Shutdown(grace)
			done <- struct{}{}
		}()
	}
	for range servers {
		<-done
	}
	rt.local.finishShutdown()
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	for _, r := range rt.realms {
		r.dealer.Close()
		r.broker.Close()
	}
}

// Sessions is the number of connections served by all endpoints.
func (rt *Router) Sessions() int {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	n := 0
	for _, srv := range rt.servers {
		n += srv.Count()
	}
	return n
}
