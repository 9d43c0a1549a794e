package rawsocket

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// DefaultFirstByteTimeout is how long Split waits for a new connection's first octet before it
// hands the connection to HTTP, which then applies its own timeouts.
const DefaultFirstByteTimeout = 3 * time.Second

// Split shares a listener between RawSocket and HTTP (Crossbar.io's "universal" transport): a
// connection whose first octet is 0x7F goes to rs.ServeConn, any other is returned by the
// listener Split returns, for an http.Server to serve. The first octet is awaited on a
// goroutine per new connection, never in Accept, for at most firstByteTimeout (0: the
// default); a connection that sends nothing within it is HTTP's. On plain sockets the octet
// is only peeked at, so both sides get the socket itself; behind TLS it is read and put back
// (a wrapped connection: serve HTTP with ConnContext and RestoreTLS to keep r.TLS).
func Split(ln net.Listener, rs *Server, firstByteTimeout time.Duration) net.Listener {
	if firstByteTimeout <= 0 {
		firstByteTimeout = DefaultFirstByteTimeout
	}
	sl := &splitListener{ln: ln, rs: rs, timeout: firstByteTimeout,
		conns: make(chan net.Conn), done: make(chan struct{}), pending: map[net.Conn]struct{}{}}
	go sl.acceptLoop()
	return sl
}

type splitListener struct {
	ln      net.Listener
	rs      *Server
	timeout time.Duration
	conns   chan net.Conn // HTTP's connections
	done    chan struct{} // closed by Close
	once    sync.Once

	mu       sync.Mutex
	err      error                 // why the accept loop ended
	pending  map[net.Conn]struct{} // connections being classified
	isClosed bool
}

func (sl *splitListener) acceptLoop() {
	var backoff time.Duration
	for {
		nc, err := sl.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-sl.done:
				}
			}
			sl.mu.Lock()
			sl.err = err
			sl.mu.Unlock()
			sl.Close()
			return
		}
		backoff = 0
		sl.mu.Lock()
		if sl.isClosed {
			sl.mu.Unlock()
			nc.Close()
			return
		}
		sl.pending[nc] = struct{}{}
		sl.mu.Unlock()
		go sl.classify(nc)
	}
}

// classify waits for the connection's first octet and hands it to RawSocket or HTTP.
func (sl *splitListener) classify(nc net.Conn) {
	first, conn, err := peekFirst(nc, sl.timeout)
	sl.mu.Lock()
	delete(sl.pending, nc)
	closed := sl.isClosed
	sl.mu.Unlock()
	switch {
	case closed || err != nil && !isTimeout(err):
		nc.Close()
	case err == nil && first == magic:
		sl.rs.ServeConn(conn)
	default:
		select {
		case sl.conns <- conn:
		case <-sl.done:
			conn.Close()
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// peekFirst waits up to timeout for the first octet. On a plain socket it is peeked at and nc
// itself comes back; otherwise it is read, and a connection that gives it back first.
func peekFirst(nc net.Conn, timeout time.Duration) (byte, net.Conn, error) {
	nc.SetReadDeadline(time.Now().Add(timeout))
	defer nc.SetReadDeadline(time.Time{})
	if rc := sockio.RawConnOf(nc); rc != nil {
		var b [1]byte
		var n int
		var perr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, perr = sockio.RawPeek(fd, b[:])
				if perr == syscall.EINTR {
					continue
				}
				return perr != syscall.EAGAIN
			}
		})
		if err == nil {
			err = perr
		}
		if err == nil && n == 0 {
			err = net.ErrClosed
		}
		return b[0], nc, err
	}
	var b [1]byte
	n, err := nc.Read(b[:])
	if n == 1 {
		return b[0], &prefixConn{Conn: nc, first: b[0], has: true}, nil
	}
	if err == nil {
		err = net.ErrClosed
	}
	return 0, nc, err
}

// prefixConn gives back the octet Split read before its reads go on.
type prefixConn struct {
	net.Conn
	mu    sync.Mutex
	first byte
	has   bool
}

func (p *prefixConn) Read(b []byte) (int, error) {
	p.mu.Lock()
	if p.has && len(b) > 0 {
		b[0], p.has = p.first, false
		p.mu.Unlock()
		return 1, nil
	}
	p.mu.Unlock()
	return p.Conn.Read(b)
}

// NetConn is the wrapped connection.
func (p *prefixConn) NetConn() net.Conn { return p.Conn }

// tlsStateOf is the TLS state of a connection, looking through Split's wrapping.
func tlsStateOf(nc net.Conn) *tls.ConnectionState {
	if p, ok := nc.(*prefixConn); ok {
		nc = p.Conn
	}
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}

// Accept returns the next connection that is not RawSocket.
func (sl *splitListener) Accept() (net.Conn, error) {
	select {
	case nc := <-sl.conns:
		return nc, nil
	case <-sl.done:
		sl.mu.Lock()
		defer sl.mu.Unlock()
		if sl.err != nil {
			return nil, sl.err
		}
		return nil, net.ErrClosed
	}
}

// Close closes the listener and the connections still being classified; RawSocket connections being served are left to their handlers.
func (sl *splitListener) Close() error {
	var err error
	sl.once.Do(func() {
		close(sl.done)
		err = sl.ln.Close()
		sl.mu.Lock()
		sl.isClosed = true
		for nc := range sl.pending {
			nc.Close()
		}
		sl.mu.Unlock()
	})
	return err
}

func (sl *splitListener) Addr() net.Addr { return sl.ln.Addr() }

type connKey struct{}

// ConnContext is an http.Server.ConnContext for a listener Split made of a TLS listener: it
// keeps the connection, which RestoreTLS looks through.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if _, ok := c.(*prefixConn); !ok {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, c)
}

// RestoreTLS wraps h so that requests on a TLS connection Split wrapped carry its TLS state in
// r.TLS, as net/http sets it for a *tls.Conn (channel bindings read it).
func RestoreTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if nc, ok := r.Context().Value(connKey{}).(net.Conn); ok {
				if st := tlsStateOf(nc); st != nil {
					r.TLS = st
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}
