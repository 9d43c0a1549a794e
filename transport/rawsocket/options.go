package rawsocket

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// Options configure a RawSocket server or dialer. The zero value is usable: every field has a
// default, the WebSocket transport's where both have one.
type Options struct {
	// Serializers the server accepts, by name ("json", "msgpack", "cbor"); empty accepts every
	// registered serializer id. A client asking for another is refused with "serializer
	// unsupported".
	Serializers []string
	// MaxMessageSize is the largest message accepted from a peer, in bytes (default and at
	// most 16 MiB - 1, what a 24-bit frame length carries). The handshake announces the
	// largest power of two not above it; a larger frame closes the connection.
	MaxMessageSize int
	// MinPeerMessageSize, when set, refuses a client whose own maximum message length is
	// smaller ("maximum message length unacceptable").
	MinPeerMessageSize int
	// HandshakeTimeout bounds how long a new connection may take to send its 4 octets
	// (default 10s), as net/http's header timeout bounds a WebSocket upgrade.
	HandshakeTimeout time.Duration
	// PingInterval is how long a connection may be quiet before a PING asks for a PONG
	// (default 30s; negative disables keepalive). A peer that sends nothing, not even the
	// PONG, within PongTimeout after it is closed.
	PingInterval time.Duration
	// PongTimeout is how long a PING may stay unanswered (default 10s).
	PongTimeout time.Duration
	// WriteTimeout bounds a write to a full socket (default 10s); a peer that does not read
	// is closed.
	WriteTimeout time.Duration
	// QueueMessages bounds the outbound queue in messages (default 4096).
	QueueMessages int
	// QueueBytes bounds the outbound queue in bytes (default 16 MiB).
	QueueBytes int
	// ReadBufferSize is the size of the buffer a connection reads into, borrowed from a pool
	// only while bytes are pending (default 1 KiB).
	ReadBufferSize int
	// KeepIdleReaders keeps a goroutine reading every server connection. By default (false)
	// the reader of a connection whose socket has nothing to read parks right after the WAMP
	// handshake, after a PING or PONG, and once the peer was quiet for PingInterval: one
	// poller goroutine watches every idle socket and starts a reader again once its peer
	// sends something, so an idle connection holds no goroutine stack. Linux, plain TCP and
	// Unix sockets; TLS connections keep their reader.
	KeepIdleReaders bool
	// MaxConnections bounds the connections a server serves at once (0: no bound); further
	// handshakes are refused with "maximum connection count reached".
	MaxConnections int
	// TLSConfig is the dialer's TLS configuration for rss:// and tcps:// URLs. Servers get TLS
	// from their listener.
	TLSConfig *tls.Config
	// NetDialContext, when set, makes the dialer's connections.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives what the transport itself decides (a message too big for the peer, a
	// keepalive timeout, a refused handshake); default slog.Default().
	Logger *slog.Logger
}

// Defaults for zero-valued Options fields.
const (
	DefaultMaxMessageSize   = MaxLength
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPingInterval     = sockio.DefaultPingInterval
	DefaultPongTimeout      = sockio.DefaultPongTimeout
	DefaultWriteTimeout     = sockio.DefaultWriteTimeout
	DefaultQueueMessages    = sockio.DefaultQueueMessages
	DefaultQueueBytes       = sockio.DefaultQueueBytes
	DefaultReadBufferSize   = sockio.DefaultReadBufferSize
)

func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 || o.MaxMessageSize > MaxLength {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	l := sockio.Limits{PingInterval: o.PingInterval, PongTimeout: o.PongTimeout, WriteTimeout: o.WriteTimeout,
		QueueMessages: o.QueueMessages, QueueBytes: o.QueueBytes, ReadBufferSize: o.ReadBufferSize}.WithDefaults()
	o.PingInterval, o.PongTimeout, o.WriteTimeout = l.PingInterval, l.PongTimeout, l.WriteTimeout
	o.QueueMessages, o.QueueBytes, o.ReadBufferSize = l.QueueMessages, l.QueueBytes, l.ReadBufferSize
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
