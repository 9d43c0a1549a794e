package session

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// Handlers is the router side's dispatch table.
type Handlers = dispatch.Table[*Session]

// Domain is what a session is attached to once it has joined: a routing domain (a realm.Realm)
// as the session layer sees it.
type Domain interface {
	// Handlers is the dispatch table for the session's messages after WELCOME.
	Handlers() *Handlers
	// Leave detaches a session that ended (GOODBYE, ABORT, lost connection); it must release
	// everything the session held.
	Leave(s *Session)
}

// Gate admits sessions: it picks the realm a HELLO asks for and authenticates the peer.
type Gate interface {
	// Join is called, on the connection's own goroutine, with a session whose Realm and
	// Details come from HELLO. It may run CHALLENGE/AUTHENTICATE rounds with s.Challenge. It
	// fills in the session's ID and auth fields and returns the realm and the WELCOME
	// details, or an *AbortError to refuse (any other error refuses with
	// wamp.error.authentication_failed; one wrapping ErrHandshakeEnded refuses silently).
	Join(s *Session) (Domain, wamp.Dict, error)
}

// AbortError refuses or ends a session with a reason URI.
type AbortError struct {
	Reason  wamp.URI
	Message string
}

func (e *AbortError) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }

// HostOptions configure a Host: the router side of the session layer.
type HostOptions struct {
	// HelloTimeout is how long a new connection may take to send HELLO (default 10s).
	HelloTimeout time.Duration
	// AuthTimeout is how long a peer may take to answer each CHALLENGE (default 30s).
	AuthTimeout time.Duration
	// Logger receives the session layer's logs (default slog.Default()).
	Logger *slog.Logger
}

// Host runs router-side sessions over connections of any transport (ServePeer).
type Host struct {
	gate Gate
	opts atomic.Pointer[HostOptions] // for new sessions; SetOptions swaps it
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[*Session]struct{}
	closed   bool
	drained  chan struct{} // closed when shut down and no session remains
}

// NewHost returns a session host admitting sessions through gate.
func NewHost(gate Gate, opts HostOptions) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	srv := &Host{gate: gate, log: opts.Logger,
		sessions: make(map[*Session]struct{}), drained: make(chan struct{})}
	srv.SetOptions(opts)
	return srv
}

// SetOptions changes the timeouts for the handshakes that start from now on (a configuration
// reload). The logger stays the one the host was built with.
func (srv *Host) SetOptions(opts HostOptions) {
	if opts.HelloTimeout <= 0 {
		opts.HelloTimeout = 10 * time.Second
	}
	if opts.AuthTimeout <= 0 {
		opts.AuthTimeout = 30 * time.Second
	}
	opts.Logger = srv.log
	srv.opts.Store(&opts)
}

// Codecs are the codecs the router speaks, in order of preference.
var Codecs = []wamp.Codec{wamp.JSON, wamp.MsgPack, wamp.CBOR}

// ServePeer runs one connection's session until it ends. It is called on the goroutine that
// reads the connection (p.Read); the transport releases the connection once it returns —
// unless p is a peer.Parker whose ReadOrPark returned ErrParked: then ServePeer returns with
// the session alive, and the transport runs the rest when the peer resumes it.
func (srv *Host) ServePeer(p peer.Peer) {
	codec, ok := wamp.CodecNamed(p.Serializer())
	if !ok {
		p.Close(peer.ClosePolicy, "unsupported serializer")
		return
	}
	s := &Session{Codec: codec, peer: p, log: srv.log}
	if !srv.track(s) {
		p.Close(peer.CloseGoingAway, string(wamp.CloseSystemShutdown))
		return
	}
	realm := srv.handshakeApart(s)
	if realm == nil {
		srv.finish(s, nil, nil)
		return
	}
	if d, ok := p.(peer.RequestDropper); ok {
		d.DropRequest() // authentication is over; nothing reads the headers any more
	}
	srv.established(s, realm)
}

// established serves an established session until it ends, or until its reader parks (a
// peer.Parker whose peer is quiet): then it returns at once, and the peer runs it again, on a
// new goroutine, once the peer has something to say.
func (srv *Host) established(s *Session, realm Domain) {
	goodbye, parked := srv.serveEstablished(s, realm)
	if parked {
		return
	}
	srv.finish(s, realm, goodbye)
}

// finish ends a session: it leaves its realm (when it joined one), answers the peer's
// GOODBYE, reads until the peer closes, and is no longer tracked.
func (srv *Host) finish(s *Session, realm Domain, goodbye *wamp.Goodbye) {
	if realm != nil {
		s.end()
		// Leave before answering GOODBYE: once the peer has the answer, nothing of the
		// session (registrations, subscriptions) may still be routed to.
		realm.Leave(s)
		if goodbye != nil {
			s.Send(goodbye)
			s.peer.Close(peer.CloseNormal, "")
		}
	}
	s.end()
	srv.drain(s)
	srv.untrack(s)
}

// handshakeApart runs the handshake on a short-lived goroutine of its own. Admission goes
// deep (decoding, authentication, realm bookkeeping, meta events) and grows a goroutine's
// stack; the connection's goroutine, which then waits in Read whenever its reader cannot
// park (a TLS connection, a peer that is not a peer.Parker), keeps the small stack that
// waiting needs.
func (srv *Host) handshakeApart(s *Session) Domain {
	result := make(chan Domain, 1)
	go func() { result <- srv.handshake(s) }()
	return <-result
}

// handshake waits for HELLO, lets the gate admit the session (running CHALLENGE/AUTHENTICATE
// rounds through Session.Challenge), and answers WELCOME or ABORT.
func (srv *Host) handshake(s *Session) Domain {
	hs := &handshake{srv: srv, s: s}
	s.hs = hs
	defer func() { s.hs = nil }()
	helloTimeout := srv.opts.Load().HelloTimeout
	hs.arm(helloTimeout, wamp.ErrProtocolViolation, "no HELLO within "+helloTimeout.String())
	data, err := s.peer.Read()
	if !hs.disarm() || err != nil {
		return nil
	}
	m, err := s.Codec.Decode(data)
	if err != nil {
		srv.violation(s, fmt.Sprintf("malformed message: %v", err))
		return nil
	}
	hello, ok := m.(*wamp.Hello)
	if !ok {
		srv.violation(s, fmt.Sprintf("expected HELLO, got %s", m.Type()))
		return nil
	}
	if !wamp.ValidURI(hello.Realm, false, false) {
		srv.violation(s, fmt.Sprintf("invalid realm URI %q", hello.Realm))
		return nil
	}
	if _, ok := hello.Details.Dict("roles"); !ok {
		srv.violation(s, "HELLO.Details.roles missing")
		return nil
	}
	s.Realm = hello.Realm
	s.setHelloDetails(hello.Details)
	realm, welcome, err := srv.gate.Join(s)
	s.countReceived(wamp.TypeHello, len(data)) // counted once Join has found the realm
	if err != nil {
		if errors.Is(err, ErrHandshakeEnded) {
			// The peer left, timed out or broke the protocol: already dealt with.
			return nil
		}
		var ab *AbortError
		if !errors.As(err, &ab) {
			ab = &AbortError{Reason: wamp.ErrAuthenticationFailed, Message: err.Error()}
		}
		authid, _ := hello.Details.String("authid")
		srv.log.Info("session refused", "realm", hello.Realm, "authid", authid, "reason", ab.Reason,
			"message", ab.Message, "remote", s.RemoteAddr())
		s.Abort(ab.Reason, ab.Message)
		return nil
	}
	s.state.Store(stateEstablished)
	s.Send(&wamp.Welcome{Session: s.ID, Details: welcome})
	return realm
}

// serveEstablished dispatches an established session's messages until it ends. It returns the
// GOODBYE to answer a peer that said GOODBYE first, to be sent once the session has left, or
// parked when the peer's reader let go of this goroutine (peer.Parker): the resume it was
// given serves the session on from there.
func (srv *Host) serveEstablished(s *Session, realm Domain) (goodbye *wamp.Goodbye, parked bool) {
	handlers := realm.Handlers()
	parker, _ := s.peer.(peer.Parker)
	var resume func()
	if parker != nil {
		resume = func() { srv.established(s, realm) }
	}
	for {
		var data []byte
		var err error
		if parker != nil {
			data, err = parker.ReadOrPark(resume)
		} else {
			data, err = s.peer.Read()
		}
		if err != nil {
			return nil, err == peer.ErrParked
		}
		m, err := s.Codec.Decode(data)
		if err == nil {
			err = wamp.Validate(m)
		}
		if err != nil {
			srv.violation(s, fmt.Sprintf("malformed message: %v", err))
			return nil, false
		}
		s.countReceived(m.Type(), len(data))
		switch m := m.(type) {
		case *wamp.Goodbye:
			if s.state.Swap(stateClosed) == stateClosing {
				// The peer answered our GOODBYE.
				s.peer.Close(peer.CloseNormal, "")
				return nil, false
			}
			return &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut}, false
		case *wamp.Abort:
			srv.log.Debug("peer aborted", "session", s.ID, "reason", m.Reason)
			s.state.Store(stateClosed)
			s.peer.Close(peer.CloseNormal, "")
			return nil, false
		}
		if s.state.Load() != stateEstablished {
			// Closing: everything but GOODBYE is ignored, as the spec says.
			continue
		}
		h, ok := handlers.Lookup(m.Type())
		if !ok {
			srv.violation(s, fmt.Sprintf("unexpected %s message for an established session", m.Type()))
			return nil, false
		}
		h(s, m)
	}
}

// violation aborts a session that broke the protocol.
func (srv *Host) violation(s *Session, message string) {
	Stats.ProtocolViolations.Add(1)
	srv.log.Info("protocol violation", "session", s.ID, "remote", s.RemoteAddr(), "message", message)
	s.Abort(wamp.ErrProtocolViolation, message)
}

// drain reads until the peer closes (or the close grace ends), so the close handshake completes.
func (srv *Host) drain(s *Session) {
	for {
		if _, err := s.peer.Read(); err != nil {
			return
		}
	}
}

func (srv *Host) track(s *Session) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed {
		return false
	}
	srv.sessions[s] = struct{}{}
	return true
}

func (srv *Host) untrack(s *Session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.sessions, s)
	if srv.closed && len(srv.sessions) == 0 {
		select {
		case <-srv.drained:
		default:
			close(srv.drained)
		}
	}
}

// Shutdown closes every session's connection (1001, wamp.close.system_shutdown: see
// closeForShutdown), refuses new ones, and waits until all have left or the deadline passes,
// then cuts off the rest.
func (srv *Host) Shutdown(deadline time.Duration) {
	srv.mu.Lock()
	srv.closed = true
	all := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		all = append(all, s)
	}
	if len(srv.sessions) == 0 {
		select {
		case <-srv.drained:
		default:
			close(srv.drained)
		}
	}
	srv.mu.Unlock()
	for _, s := range all {
		if s.state.Load() == stateEstablished {
			s.closeForShutdown() // not GOODBYE: clients reconnect (server_shutdown.go)
		} else {
			s.peer.Close(peer.CloseGoingAway, string(wamp.CloseSystemShutdown))
		}
	}
	select {
	case <-srv.drained:
	case <-time.After(deadline):
		for _, s := range all {
			s.peer.Abort(peer.CloseGoingAway, string(wamp.CloseSystemShutdown))
			s.end()
		}
		<-srv.drained
	}
}

// Count is the number of connections being served.
func (srv *Host) Count() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}
