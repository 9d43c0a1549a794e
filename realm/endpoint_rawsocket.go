package realm

import (
	"net"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// RawSocketEndpointOptions configure one WAMP-over-RawSocket endpoint.
type RawSocketEndpointOptions struct {
	Transport rawsocket.Options
	Session   session.HostOptions
}

// RawSocketEndpoint serves WAMP over RawSocket (TCP, TLS or Unix sockets, or a WebSocket port
// shared through rawsocket.Split) for a router; its options can change while it serves.
// Router.Shutdown ends the sessions it serves.
type RawSocketEndpoint struct {
	rt      *Router
	server  *rawsocket.Server
	session *session.Host
}

// NewRawSocketEndpoint returns a RawSocket endpoint of this router. Without
// opts.Transport.Serializers it accepts the serializers the router speaks (session.Codecs).
func (rt *Router) NewRawSocketEndpoint(opts RawSocketEndpointOptions) *RawSocketEndpoint {
	srv := rt.sessionServer(opts.Session)
	e := &RawSocketEndpoint{rt: rt, session: srv}
	e.server = rawsocket.NewServer(rawsocket.HandlerFunc(func(c *rawsocket.Conn) { srv.ServePeer(c) }),
		withRouterDefaults(opts.Transport, rt))
	return e
}

func withRouterDefaults(o rawsocket.Options, rt *Router) rawsocket.Options {
	if len(o.Serializers) == 0 {
		o.Serializers = wamp.CodecNames(session.Codecs...)
	}
	if o.Logger == nil {
		o.Logger = rt.log
	}
	return o
}

// Serve accepts RawSocket connections on ln until it fails or the endpoint is closed.
func (e *RawSocketEndpoint) Serve(ln net.Listener) error { return e.server.Serve(ln) }

// Server is the endpoint's RawSocket server (for rawsocket.Split).
func (e *RawSocketEndpoint) Server() *rawsocket.Server { return e.server }

// SetOptions changes the options for the connections accepted from now on.
func (e *RawSocketEndpoint) SetOptions(opts RawSocketEndpointOptions) {
	e.server.SetOptions(withRouterDefaults(opts.Transport, e.rt))
	e.session.SetOptions(opts.Session)
}

// Close stops accepting; sessions being served are ended by Router.Shutdown.
func (e *RawSocketEndpoint) Close() error { return e.server.Close() }
