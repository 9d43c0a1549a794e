package rawsocket

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Handler serves one RawSocket connection whose handshake is done. ServeConn runs on the
// connection's reading goroutine; when it returns, the connection is released.
type Handler interface {
	ServeConn(c *Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(c *Conn)

// ServeConn calls f(c).
func (f HandlerFunc) ServeConn(c *Conn) { f(c) }

// ErrServerClosed is returned by Serve once Close was called.
var ErrServerClosed = errors.New("rawsocket: server closed")

// Server answers RawSocket handshakes and hands the connections to its Handler. Its options
// can change while it serves (SetOptions); connections being served keep theirs.
type Server struct {
	cur     atomic.Pointer[Options]
	handler Handler
	active  atomic.Int64 // connections past the handshake (for MaxConnections)

	mu          sync.Mutex
	listeners   map[net.Listener]struct{}
	handshaking map[net.Conn]struct{}
	closed      bool
	wg          sync.WaitGroup // accept loops and handshakes
}

// NewServer returns a server handing connections to h.
func NewServer(h Handler, opts Options) *Server {
	s := &Server{handler: h, listeners: map[net.Listener]struct{}{}, handshaking: map[net.Conn]struct{}{}}
	s.SetOptions(opts)
	return s
}

// SetOptions changes the options for connections accepted from now on.
func (s *Server) SetOptions(opts Options) {
	opts = opts.withDefaults()
	s.cur.Store(&opts)
}

// Active is the number of connections served (past the handshake).
func (s *Server) Active() int { return int(s.active.Load()) }

// Serve accepts connections on ln, each served on a goroutine of its own, until ln fails or
// the server is closed (ErrServerClosed).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTemporaryAccept) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go s.ServeConn(nc)
	}
}

var errTemporaryAccept = errors.New("temporary accept error")

// Close stops the listeners Serve accepts on and closes connections still in their handshake;
// connections being served are left to their handlers (the router's shutdown ends their
// sessions). It waits for the accept loops to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for nc := range s.handshaking {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// ServeConn runs the handshake on nc, on the caller's goroutine, and then serves the
// connection on a goroutine of its own until its handler returns: the handshake's stack is
// not kept for the connection's whole life (an idle connection parks on a fresh, small
// stack). A handshake the server refuses is answered with the protocol's error reply and
// closed.
func (s *Server) ServeConn(nc net.Conn) {
	c, err := s.handshake(nc)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.cur.Load().Logger.Info("rawsocket handshake failed", "remote", nc.RemoteAddr(), "err", err)
		}
		nc.Close()
		return
	}
	go s.serve(c)
}

func (s *Server) serve(c *Conn) {
	c.enablePark(&s.active)
	s.handler.ServeConn(c)
	if c.settle() {
		return // parked: the goroutine that resumes the handler releases the connection
	}
	c.served()
}

// handshake reads the client's 4 octets and answers them.
func (s *Server) handshake(nc net.Conn) (*Conn, error) {
	o := s.cur.Load()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrServerClosed
	}
	s.handshaking[nc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.handshaking, nc)
		s.mu.Unlock()
		s.wg.Done()
	}()

	var b [4]byte
	nc.SetDeadline(time.Now().Add(o.HandshakeTimeout))
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		return nil, err
	}
	h, err := parseHello(b)
	if err == nil {
		err = s.admit(o, h)
	}
	var refusal *HandshakeError
	if errors.As(err, &refusal) {
		r := refuseOctets(refusal.Code)
		nc.Write(r[:])
		if refusal.Code == ErrCodeMaxConnections {
			s.active.Add(-1)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	reply := acceptOctets(h.serializer, o.MaxMessageSize)
	if _, err := nc.Write(reply[:]); err != nil {
		s.active.Add(-1)
		return nil, fmt.Errorf("write handshake reply: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return newConn(nc, SerializerName(h.serializer), h.maxLength, o, true), nil
}

// admit decides on a well-formed handshake; past it the connection counts as active.
func (s *Server) admit(o *Options, h hello) error {
	name := SerializerName(h.serializer)
	if name == "" || len(o.Serializers) > 0 && !slices.Contains(o.Serializers, name) {
		return &HandshakeError{Code: ErrCodeSerializerUnsupported}
	}
	if o.MinPeerMessageSize > 0 && h.maxLength < o.MinPeerMessageSize {
		return &HandshakeError{Code: ErrCodeMaxLengthUnacceptable}
	}
	if n := s.active.Add(1); o.MaxConnections > 0 && n > int64(o.MaxConnections) {
		return &HandshakeError{Code: ErrCodeMaxConnections}
	}
	return nil
}
