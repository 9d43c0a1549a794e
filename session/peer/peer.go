package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
)

var (
	// ErrQueueFull: the peer does not read fast enough; its outbound queue is at its bound.
	// The session layer cuts such a peer off (slow consumer).
	ErrQueueFull = errors.New("outbound queue full")
	// ErrClosed: the connection is closing or closed.
	ErrClosed = errors.New("connection closed")
	// ErrParked: a Parker's reader let go of its goroutine (see Parker.ReadOrPark).
	ErrParked = errors.New("reader parked while the peer is quiet")
)

// Close codes, with WebSocket's meaning (RFC 6455, section 7.4): every transport maps them
// onto its own way of ending a connection, or only reports them.
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	CloseProtocolError = 1002
	ClosePolicy        = 1008
	CloseInternalError = 1011
	// CloseTryAgainLater is sent to a peer cut off because its outbound queue overflowed.
	CloseTryAgainLater = 1013
)

// Peer is a router session's connection. Sends never block: a full queue returns
// ErrQueueFull and the caller decides (the session layer cuts the peer off). Frames are
// encoded once and may be shared by many peers, so a peer never changes one it was given.
type Peer interface {
	// Serializer is the negotiated serializer's name ("json", "msgpack"), which picks the
	// codec (wamp.CodecNamed).
	Serializer() string
	// Read returns the next whole message; only the session's own goroutine calls it. The
	// slice is the caller's to keep.
	Read() ([]byte, error)
	// SendNow sends a reply (result, invocation, acknowledgement): written at once when
	// nothing else is queued for the peer, queued behind what is.
	SendNow(frame []byte) error
	// SendFanout sends one frame of a fan-out (an event), which the transport may batch with
	// others for this peer. via, when not nil, is the peer on whose reading goroutine this
	// send happens (the publisher's, from its PUBLISH handler): the transport may hold the
	// write until via's reader has handled what it read, so that a burst reaches this peer
	// in one write. Passing via never allocates.
	SendFanout(frame []byte, via Peer) error
	// Queued reports what waits to be written, for the slow-consumer log.
	Queued() (messages, bytes int)
	// Close writes what is queued, then ends the connection with code and reason.
	Close(code int, reason string)
	// Abort drops what is queued and ends the connection with code and reason at once: for
	// a peer that is cut off, whose queue would never drain.
	Abort(code int, reason string)
	// Details describe where the peer comes from, for authentication and the meta API.
	Details() Details
}

// ReplySender is implemented by a Peer that can hold a one-to-one message back for a reader,
// like a fan-out frame: SendReply sends frame like SendNow, but when via (the peer on whose
// reading goroutine this send happens, as for SendFanout) batches its writes, the write waits
// until via's reader has handled what its read brought. The INVOCATIONs that many callers'
// CALLs produce for one callee, and the RESULTs of the YIELDs one read of a callee brings,
// then go out in one write per peer. A Peer without it gets SendNow.
type ReplySender interface {
	SendReply(frame []byte, via Peer) error
}

// RequestDropper is implemented by a Peer that keeps the HTTP request which opened it (for
// Details.Request): the session layer lets go of it once authentication is over, so that an
// idle session holds no parsed headers.
type RequestDropper interface {
	DropRequest()
}

// Parker is implemented by a Peer whose reader need not keep a goroutine while its peer is
// quiet: a goroutine parked in a read costs at least a 2 KiB stack, most of what an idle
// session would otherwise hold.
type Parker interface {
	// ReadOrPark is Read, except that when the peer has nothing to read and has been quiet
	// for a while it may return ErrParked instead of waiting. The caller must then return
	// from the transport's handler (ServePeer) without using the peer again: resume runs
	// later, on a goroutine of its own, once the peer sends something, its connection closes
	// or its keepalive runs out, and goes on reading where the caller left off.
	ReadOrPark(resume func()) ([]byte, error)
}

// Client is the Go client's side of a connection to a router.
type Client interface {
	// Serializer is the negotiated serializer's name.
	Serializer() string
	// Read returns the next whole message; only the client's reader calls it.
	Read() ([]byte, error)
	// SendWait queues one frame, waiting for room while the queue is full (a client would
	// rather slow down than fail) until ctx ends or the connection closes.
	SendWait(ctx context.Context, frame []byte) error
	// Close writes what is queued, then ends the connection with code and reason.
	Close(code int, reason string)
	// Abort drops what is queued and ends the connection at once.
	Abort(code int, reason string)
	// Done releases the connection once its owner has stopped reading; it returns when no
	// goroutine of the connection is left.
	Done()
	// Details describe the connection (the TLS state for channel bindings).
	Details() Details
}

// Details describe a connection as authentication and the meta API see it.
type Details struct {
	// Transport is the kind of connection: "websocket", "rawsocket", "memory".
	Transport string
	// Protocol is what the transport negotiated, when it negotiates (the WebSocket
	// subprotocol, e.g. "wamp.2.json").
	Protocol string
	// RemoteAddr is the peer's address (for an in-memory peer, a "memory" address).
	RemoteAddr net.Addr
	// Extensions are the WebSocket extensions negotiated ("permessage-deflate"); nil when
	// none, or the transport has none. Shared: not to be modified.
	Extensions []string
	// TLS is the connection's TLS state, nil without TLS.
	TLS *tls.ConnectionState
	// Request is the HTTP request that opened the connection (a WebSocket upgrade), for its
	// headers, cookies and query parameters; nil when there is none, or no longer (see
	// RequestDropper).
	Request *http.Request
}
