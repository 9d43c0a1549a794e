package realm

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport"
	"github.com/pawl-wamp/pawl/wamp"
)

// TrustedRole is the authrole of in-process sessions (Router.LocalClient). Trusted sessions
// bypass authorization and may register the dynamic authenticator and authorizers.
const TrustedRole = "trusted"

// localState is the router's in-process endpoint: the WebSocket handler that local clients
// reach over in-memory pipes, and the router's own client per realm, through which it calls
// dynamic authenticators and authorizers.
type localState struct {
	mu       sync.Mutex
	handler  http.Handler
	token    string // marks local clients' upgrade requests
	system   map[wamp.URI]*session.Client
	starting map[wamp.URI]chan struct{}
	closed   bool
	closing  chan struct{}
}

// localPeer is a local client's identity, carried to the gate by its upgrade request. role is
// set for service clients (Router.ServiceClient), which are not trusted.
type localPeer struct{ authID, role string }

// Headers of a local client's upgrade request. The token is the router's secret: a remote peer
// sending these headers cannot know it, and is not taken for a local one.
const (
	localTokenHeader  = "Pawl-Local-Token"
	localAuthIDHeader = "Pawl-Local-Authid"
	localRoleHeader   = "Pawl-Local-Authrole"
)

// localPeer returns the identity of a session that a local client opened, or nil.
func (rt *Router) localPeer(s *session.Session) *localPeer {
	if rt == nil || s.Conn() == nil || s.Conn().Request() == nil {
		return nil
	}
	h := s.Conn().Request().Header
	got := h.Get(localTokenHeader)
	rt.local.mu.Lock()
	token := rt.local.token
	rt.local.mu.Unlock()
	if token == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return nil
	}
	return &localPeer{authID: h.Get(localAuthIDHeader), role: h.Get(localRoleHeader)}
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
// in-memory connection instead of a socket, with authrole "trusted" and authmethod "trusted"
// (authid opts.AuthID, default "local"). Trusted sessions bypass authorization; use them for
// backends embedded in the router process, such as dynamic authenticators. The caller closes
// the client; Router.Shutdown ends it too.
func (rt *Router) LocalClient(ctx context.Context, realm wamp.URI, opts session.ClientOptions) (*session.Client, error) {
	return rt.localClient(ctx, realm, "", opts)
}

// ServiceClient joins a realm as an in-process peer with the given authrole and authmethod
// "local" (authid opts.AuthID, default "local"). Unlike a LocalClient it is not trusted: the
// realm authorizes everything it does exactly as for a WAMP session of that authrole (a role
// the realm's roles mark trusted: true is trusted, as for anyone). The HTTP bridge serves each
// of its services through one.
func (rt *Router) ServiceClient(ctx context.Context, realm wamp.URI, authrole string, opts session.ClientOptions) (*session.Client, error) {
	if authrole == "" {
		return nil, errors.New("service client: an authrole is required")
	}
	return rt.localClient(ctx, realm, authrole, opts)
}

func (rt *Router) localClient(ctx context.Context, realm wamp.URI, role string, opts session.ClientOptions) (*session.Client, error) {
	h, err := rt.localHandler()
	if err != nil {
		return nil, err
	}
	authID := opts.AuthID
	if authID == "" {
		authID = "local"
	}
	rt.local.mu.Lock()
	token := rt.local.token
	rt.local.mu.Unlock()
	opts.AuthID = ""
	opts.AuthMethods = nil
	opts.Header = opts.Header.Clone()
	if opts.Header == nil {
		opts.Header = http.Header{}
	}
	opts.Header.Set(localTokenHeader, token)
	opts.Header.Set(localAuthIDHeader, authID)
	if role != "" {
		opts.Header.Set(localRoleHeader, role)
	}
	opts.Transport.NetDialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go serveLocal(h, server)
		return client, nil
	}
	return session.Dial(ctx, "ws://pawl.local/", realm, opts)
}

func (rt *Router) localHandler() (http.Handler, error) {
	rt.local.mu.Lock()
	defer rt.local.mu.Unlock()
	if rt.local.closed {
		return nil, errors.New("router shut down")
	}
	if rt.local.token == "" {
		b := make([]byte, 32)
		rand.Read(b)
		rt.local.token = hex.EncodeToString(b)
	}
	if rt.local.handler == nil {
		rt.local.handler = rt.WebSocketHandler(EndpointOptions{Transport: transport.Options{PingInterval: -1}})
	}
	return rt.local.handler, nil
}

// serveLocal serves one in-memory connection: it reads the WebSocket upgrade request and hands
// it to the local endpoint.
func serveLocal(h http.Handler, conn net.Conn) {
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		conn.Close()
		return
	}
	req.RemoteAddr = "local"
	w := &pipeResponse{conn: conn, rw: bufio.NewReadWriter(br, bufio.NewWriter(conn)), header: http.Header{}}
	h.ServeHTTP(w, req)
	if !w.hijacked {
		w.finish()
		conn.Close()
	}
}

// pipeResponse is the http.ResponseWriter (and Hijacker) of an in-memory connection.
type pipeResponse struct {
	conn     net.Conn
	rw       *bufio.ReadWriter
	header   http.Header
	status   int
	body     []byte
	hijacked bool
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *pipeResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

func (w *pipeResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.conn, w.rw, nil
}

// finish writes a response the handler did not hijack (an HTTP error).
func (w *pipeResponse) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	fmt.Fprintf(w.rw, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", w.status,
		http.StatusText(w.status), len(w.body))
	w.rw.Write(w.body)
	w.rw.Flush()
}

// systemClient is the router's own trusted session in a realm, started on first use.
func (rt *Router) systemClient(ctx context.Context, realm wamp.URI) (*session.Client, error) {
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
			rt.local.system = map[wamp.URI]*session.Client{}
		}
		done := make(chan struct{})
		rt.local.starting[realm] = done
		rt.local.mu.Unlock()

		c, err := rt.LocalClient(ctx, realm, session.ClientOptions{AuthID: "pawl.router", Logger: rt.log})
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

// systemCall calls a procedure in a realm as the router itself and returns the result's
// positional arguments.
func (r *Realm) systemCall(ctx context.Context, proc wamp.URI, args wamp.List) (wamp.List, error) {
	if r.router == nil {
		return nil, errors.New("realm is not served by a router")
	}
	c, err := r.router.systemClient(ctx, r.Name())
	if err != nil {
		return nil, err
	}
	res, err := c.Call(ctx, proc, nil, args, nil)
	if err != nil {
		return nil, err
	}
	return res.Args, nil
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
