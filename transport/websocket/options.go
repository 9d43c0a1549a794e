package websocket

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// Options configure a WebSocket endpoint. The zero value is usable: every field has a default.
type Options struct {
	// Subprotocols the server accepts, in order of preference. A client that offers none of
	// them is refused with HTTP 400. Empty accepts connections without a subprotocol.
	Subprotocols []string
	// AllowedOrigins lists the browser origins that may connect ("https://app.example.com",
	// "*.example.com", or "*" for any). Empty allows only same-host pages. Clients that send no
	// Origin header (non-browser peers) are always allowed.
	AllowedOrigins []string
	// TrustedProxies are the reverse proxies (addresses and CIDR prefixes, see ParseIPList)
	// whose Forwarded / X-Forwarded-For, -Host and -Proto headers are believed: the client
	// address they forward is the connection's RemoteAddr, and the origin and host checks
	// judge the host and scheme they forward. Everyone else's forwarding headers are ignored.
	TrustedProxies []netip.Prefix
	// AllowedHosts are further Host names a loopback connection may use (aliases of
	// 127.0.0.1 in /etc/hosts). Without them only localhost, *.localhost and loopback
	// addresses are accepted there, which stops DNS rebinding.
	AllowedHosts []string
	// MaxMessageSize is the largest message accepted from a peer, in bytes (default 16 MiB).
	// A larger one closes the connection with code 1009 (message too big).
	MaxMessageSize int64
	// MaxFragments is the most frames one message may arrive in (default 65536, enough for
	// 4 MiB in 64-byte fragments; negative: no bound). More close the connection with code
	// 1009 (too big to process) and reason pawl.close.too_many_fragments. Fragments cost
	// reading work even when empty, which MaxMessageSize alone would not bound.
	MaxFragments int
	// PingInterval is how often the server pings (default 30s; negative disables keepalive).
	// A peer that sends nothing, not even a pong, for PingInterval+PongTimeout is closed.
	PingInterval time.Duration
	// PongTimeout is how long a ping may stay unanswered (default 10s).
	PongTimeout time.Duration
	// WriteTimeout bounds one socket write (default 10s); a peer that does not read is closed.
	WriteTimeout time.Duration
	// QueueMessages bounds the outbound queue in messages (default 4096).
	QueueMessages int
	// QueueBytes bounds the outbound queue in bytes (default 16 MiB).
	QueueBytes int
	// WriteDelay is the least time between two writes of queued frames (fan-out: events) to
	// one connection (default 0: every frame written at once). A frame for a connection that
	// was written events less than WriteDelay ago waits, at most WriteDelay, and goes out in
	// one write with all that arrived meanwhile: fewer system calls per delivery under load,
	// no added latency for sparse traffic. Replies (Conn.SendNow: results, invocations,
	// acknowledgements) never wait, and writes that carry them do not count.
	WriteDelay time.Duration
	// IdleAfter is how long a server connection's peer may stay quiet (nothing read) before
	// the connection's reading goroutine is let go (default 1s; negative: never). Right after
	// the WAMP handshake it is let go as soon as the socket has nothing to read. One poller
	// goroutine watches every idle socket and starts a reader again once its peer sends
	// something: an idle connection holds no goroutine stack. Linux, plain TCP and Unix
	// sockets; TLS connections keep their reader.
	IdleAfter time.Duration
	// ReadBufferSize is the size of a connection's read buffer (default 1 KiB). Messages of any
	// size are read; a small buffer keeps idle connections cheap, a larger one saves syscalls
	// when many small messages arrive at once.
	ReadBufferSize int

	// Deflate configures permessage-deflate (RFC 7692) for a server's connections (default
	// off). See DeflateOptions.
	Deflate DeflateOptions

	// MaxConnections bounds the connections a server serves at once (0: no bound). Upgrade
	// requests beyond it are refused with HTTP 503 Service Unavailable.
	MaxConnections int
	// TLSConfig is the dialer's TLS configuration for wss:// URLs (trusted roots, client
	// certificates). Servers get TLS from their listener.
	TLSConfig *tls.Config
	// NetDialContext, when set, makes the dialer's connections (e.g. an in-memory pipe).
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Defaults for zero-valued Options fields.
const (
	DefaultMaxMessageSize = 16 << 20
	DefaultMaxFragments   = 1 << 16
	DefaultPingInterval   = sockio.DefaultPingInterval
	DefaultPongTimeout    = sockio.DefaultPongTimeout
	DefaultWriteTimeout   = sockio.DefaultWriteTimeout
	DefaultQueueMessages  = sockio.DefaultQueueMessages
	DefaultQueueBytes     = sockio.DefaultQueueBytes
	DefaultReadBufferSize = sockio.DefaultReadBufferSize
	DefaultIdleAfter      = time.Second
)

func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxFragments == 0 {
		o.MaxFragments = DefaultMaxFragments
	}
	l := sockio.Limits{PingInterval: o.PingInterval, PongTimeout: o.PongTimeout, WriteTimeout: o.WriteTimeout,
		QueueMessages: o.QueueMessages, QueueBytes: o.QueueBytes, ReadBufferSize: o.ReadBufferSize}.WithDefaults()
	o.PingInterval, o.PongTimeout, o.WriteTimeout = l.PingInterval, l.PongTimeout, l.WriteTimeout
	o.QueueMessages, o.QueueBytes, o.ReadBufferSize = l.QueueMessages, l.QueueBytes, l.ReadBufferSize
	if o.IdleAfter == 0 {
		o.IdleAfter = DefaultIdleAfter
	}
	o.Deflate = o.Deflate.withDefaults()
	return o
}
