package websocket

import (
	"net/http"
	"time"
)

// Timeouts of the HTTP servers Pawl starts (NewHTTPServer), so that no client can hold a
// connection that does nothing: a WebSocket connection is upgraded within them and then
// governed by its own keepalive (Options.PingInterval), since the upgrade clears them.
const (
	DefaultReadHeaderTimeout = 10 * time.Second // the request line and headers
	DefaultReadTimeout       = 30 * time.Second // the whole request, body included
	DefaultIdleTimeout       = 60 * time.Second // a keep-alive connection between requests
)

// HTTPTimeouts configure NewHTTPServer; a zero field takes its default, a negative one
// turns that timeout off.
type HTTPTimeouts struct {
	ReadHeader time.Duration
	Read       time.Duration
	Idle       time.Duration
}

// NewHTTPServer returns an http.Server for h with read-header, read and idle timeouts: an
// idle keep-alive connection (say, after a 426 to a plain GET of a WebSocket path) is
// closed after the idle timeout instead of being held forever.
func NewHTTPServer(h http.Handler, t HTTPTimeouts) *http.Server {
	pick := func(v, def time.Duration) time.Duration {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: pick(t.ReadHeader, DefaultReadHeaderTimeout),
		ReadTimeout:       pick(t.Read, DefaultReadTimeout),
		IdleTimeout:       pick(t.Idle, DefaultIdleTimeout),
	}
}
