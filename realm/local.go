package realm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport/memory"
	"github.com/pawl-wamp/pawl/wamp"
)

// TrustedRole is the authrole of in-process sessions (Router.LocalClient). Trusted sessions
// bypass authorization and may register the dynamic authenticator and authorizers.
const TrustedRole = "trusted"

// localState is the router's in-process endpoint: the session server that local clients
// join through in-memory connections, and the router's own client per realm, through which
// it calls dynamic authenticators and authorizers.
type localState struct {
	mu       sync.Mutex
	server   *session.Host // serves local clients' sessions, made on first use
	system   map[wamp.URI]*client.Client
	starting map[wamp.URI]chan struct{}
	closed   bool
	closing  chan struct{}
}

// localPeer is a local client's identity, carried to the gate by its in-memory connection
// (memory.Options.Value). Only code in the router's process can open such a connection, so a
// remote peer is never taken for a local one.
type localPeer struct {
	router *Router
	authID string
	role   string // set for service clients (Router.ServiceClient), which are not trusted
}

// localPeer returns the identity of a session that this router's LocalClient opened, or nil.
func (rt *Router) localPeer(s *session.Session) *localPeer {
	mc, ok := s.Peer().(*memory.Conn)
	if !ok || rt == nil {
		return nil
	}
	if lp, ok := mc.Value().(*localPeer); ok && lp.router == rt {
		return lp
	}
	return nil
}

// closingChan is closed when the router starts shutting down.
func (rt *Router) closingChan() chan struct{} {
	rt.local.mu.Lock()
	defer rt.local.mu.Unlock()
	if rt.local.closing == nil {
		rt.local.closing = make(chan struct{})
	}
	return rt.local.closing
}

// closing is closed when the realm's router shuts down (never, for a realm without one).
func (r *Realm) closing() <-chan struct{} {
	if r.router == nil {
		return nil
	}
	return r.router.closingChan()
}

// LocalClient joins a realm as a trusted in-process peer: a Go client like any other, over an
// in-memory connection (transport/memory: no socket, no HTTP, no framing) instead of a
// WebSocket, with authrole "trusted" and authmethod "trusted" (authid opts.AuthID, default
// "local"). Trusted sessions bypass authorization; use them for backends embedded in the
// router process, such as dynamic authenticators. The caller closes the client;
// Router.Shutdown ends it too. Of opts.Transport, the queue bounds apply.
func (rt *Router) LocalClient(ctx context.Context, realm wamp.URI, opts client.Options) (*client.Client, error) {
	return rt.localClient(ctx, realm, "", opts)
}

// ServiceClient joins a realm as an in-process peer with the given authrole and authmethod
// "local" (authid opts.AuthID, default "local"), over the same in-memory connection as a
// LocalClient. Unlike a LocalClient it is not trusted: the realm authorizes everything it does
// exactly as for a WAMP session of that authrole (a role the realm's roles mark trusted: true
// is trusted, as for anyone). The HTTP bridge serves each of its services through one.
func (rt *Router) ServiceClient(ctx context.Context, realm wamp.URI, authrole string, opts client.Options) (*client.Client, error) {
	if authrole == "" {
		return nil, errors.New("service client: an authrole is required")
	}
	return rt.localClient(ctx, realm, authrole, opts)
}

func (rt *Router) localClient(ctx context.Context, realm wamp.URI, role string, opts client.Options) (*client.Client, error) {
	srv, err := rt.localServer()
	if err != nil {
		return nil, err
	}
	serializer := opts.Serializer
	if serializer == "" {
		serializer = wamp.JSON.Name()
	}
	if _, ok := wamp.CodecNamed(serializer); !ok {
		return nil, fmt.Errorf("unknown serializer %q", opts.Serializer)
	}
	authID := opts.AuthID
	if authID == "" {
		authID = "local"
	}
	opts.AuthID = ""
	opts.AuthMethods = nil
	routerEnd, clientEnd := memory.Pipe(memory.Options{Serializer: serializer,
		QueueMessages: opts.Transport.QueueMessages, QueueBytes: opts.Transport.QueueBytes,
		Value: &localPeer{router: rt, authID: authID, role: role}})
	go func() {
		defer routerEnd.Done()
		srv.ServePeer(routerEnd)
	}()
	return client.Join(ctx, clientEnd, realm, opts)
}

// localServer is the session server of local clients; Shutdown ends its sessions.
func (rt *Router) localServer() (*session.Host, error) {
	rt.local.mu.Lock()
	defer rt.local.mu.Unlock()
	if rt.local.closed {
		return nil, errors.New("router shut down")
	}
	if rt.local.server == nil {
		rt.local.server = rt.sessionServer(session.HostOptions{})
	}
	return rt.local.server, nil
}

// systemClient is the router's own trusted session in a realm, started on first use.
func (rt *Router) systemClient(ctx context.Context, realm wamp.URI) (*client.Client, error) {
	for {
		rt.local.mu.Lock()
		if rt.local.closed {
			rt.local.mu.Unlock()
			return nil, errors.New("router shut down")
		}
		if c := rt.local.system[realm]; c != nil {
			select {
			case <-c.Done():
				delete(rt.local.system, realm) // ended (killed?): start another
			default:
				rt.local.mu.Unlock()
				return c, nil
			}
		}
		if wait := rt.local.starting[realm]; wait != nil {
			rt.local.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if rt.local.starting == nil {
			rt.local.starting = map[wamp.URI]chan struct{}{}
			rt.local.system = map[wamp.URI]*client.Client{}
		}
		done := make(chan struct{})
		rt.local.starting[realm] = done
		rt.local.mu.Unlock()

		c, err := rt.LocalClient(ctx, realm, client.Options{AuthID: "pawl.router", Logger: rt.log})
		rt.local.mu.Lock()
		delete(rt.local.starting, realm)
		close(done)
		if err == nil {
			if rt.local.closed {
				rt.local.mu.Unlock()
				c.Close()
				return nil, errors.New("router shut down")
			}
			rt.local.system[realm] = c
		}
		rt.local.mu.Unlock()
		return c, err
	}
}

// beginShutdown refuses new local clients and ends the waits that shutdown should cut short.
func (l *localState) beginShutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.closing == nil {
		l.closing = make(chan struct{})
	}
	select {
	case <-l.closing:
	default:
		close(l.closing)
	}
}

// finishShutdown waits for the router's own clients to end (the endpoints have said GOODBYE
// to them by now).
func (l *localState) finishShutdown() {
	l.mu.Lock()
	clients := l.system
	l.system = nil
	l.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
}
