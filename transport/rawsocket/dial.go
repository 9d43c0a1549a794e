package rawsocket

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// IsURL reports whether a URL's scheme is one Dial serves: rs, rss, tcp, tcps or unix.
func IsURL(rawURL string) bool {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "rs", "rss", "tcp", "tcps", "unix":
		return true
	}
	return false
}

// Dial connects to a RawSocket router and runs the handshake for serializer ("json",
// "msgpack", "cbor"). URLs: rs://host:port and tcp://host:port (plain TCP), rss://host:port and
// tcps://host:port (TLS, with opts.TLSConfig), unix:///path/to/socket. The returned Conn's
// owner must call Read in a loop and Done when finished.
func Dial(ctx context.Context, rawURL, serializer string, opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	id := SerializerID(serializer)
	if id == 0 {
		return nil, fmt.Errorf("dial %s: rawsocket has no serializer id for %q", rawURL, serializer)
	}
	network, addr, useTLS, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	dial := opts.NetDialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	if useTLS {
		cfg := opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		nc = tls.Client(nc, cfg)
	}
	peerMax, err := clientHandshake(ctx, nc, id, opts)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	return newConn(nc, serializer, peerMax, &opts, false), nil
}

// parseURL turns a RawSocket URL into what net.Dial takes.
func parseURL(rawURL string) (network, addr string, useTLS bool, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", false, err
	}
	switch strings.ToLower(u.Scheme) {
	case "rs", "tcp":
		network = "tcp"
	case "rss", "tcps":
		network, useTLS = "tcp", true
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		if u.Host != "" { // unix://relative/path
			path = u.Host + path
		}
		if path == "" {
			return "", "", false, fmt.Errorf("unix URL without a socket path")
		}
		return "unix", path, false, nil
	default:
		return "", "", false, fmt.Errorf("scheme %q is not rawsocket (rs, rss, tcp, tcps, unix)", u.Scheme)
	}
	if u.Port() == "" {
		return "", "", false, fmt.Errorf("URL without a port")
	}
	return network, u.Host, useTLS, nil
}

// clientHandshake sends the client's 4 octets and reads the router's answer, within ctx's
// deadline or the handshake timeout.
func clientHandshake(ctx context.Context, nc net.Conn, serializer byte, opts Options) (int, error) {
	deadline := time.Now().Add(opts.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	nc.SetDeadline(deadline)
	defer nc.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	h := helloOctets(serializer, opts.MaxMessageSize)
	if _, err := nc.Write(h[:]); err != nil {
		return 0, fmt.Errorf("rawsocket handshake: %w", err)
	}
	var b [4]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("rawsocket handshake: %w", err)
	}
	return parseReply(b, serializer)
}
