package authn

import (
	"crypto/tls"
	"net"
	"strings"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// transportDetails describes where a joining peer comes from, for authenticators and the
// dynamic authenticator: the transport, the peer address, and the HTTP request's headers,
// cookies and query parameters when an HTTP request opened the connection (WebSocket).
func transportDetails(s *session.Session) wamp.Dict {
	pd := s.Peer().Details()
	d := wamp.Dict{"type": pd.Transport, "peer": peerString(pd), "remote_addr": remoteString(pd)}
	if pd.Protocol != "" {
		d["protocol"] = pd.Protocol
	}
	if s.Codec != nil {
		d["serializer"] = s.Codec.Name()
	}
	req := pd.Request
	if req == nil {
		return d
	}
	headers := wamp.Dict{}
	for k, v := range req.Header {
		sep := ", "
		if strings.EqualFold(k, "Cookie") {
			sep = "; "
		}
		headers[strings.ToLower(k)] = strings.Join(v, sep)
	}
	cookies := wamp.Dict{}
	for _, c := range req.Cookies() {
		cookies[c.Name] = c.Value
	}
	query := wamp.Dict{}
	for k, v := range req.URL.Query() {
		if len(v) > 0 {
			query[k] = v[0]
		}
	}
	d["http_headers_received"] = headers
	d["cookies"] = cookies
	d["query"] = query
	d["path"] = req.URL.Path
	d["host"] = req.Host
	d["secure"] = req.TLS != nil
	if req.TLS != nil {
		d["tls"] = wamp.Dict{"version": tls.VersionName(req.TLS.Version),
			"cipher_suite": tls.CipherSuiteName(req.TLS.CipherSuite), "server_name": req.TLS.ServerName}
	}
	return d
}

// remoteString is the peer's address as its HTTP request gave it, else as its transport does.
func remoteString(pd peer.Details) string {
	if pd.Request != nil && pd.Request.RemoteAddr != "" {
		return pd.Request.RemoteAddr
	}
	if pd.RemoteAddr == nil {
		return ""
	}
	return pd.RemoteAddr.String()
}

func remoteIP(s *session.Session) string {
	addr := remoteString(s.Peer().Details())
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// peerString formats the peer's address as Crossbar.io does: tcp4:127.0.0.1:8080.
func peerString(pd peer.Details) string {
	addr := remoteString(pd)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "tcp6:" + addr
	}
	return "tcp4:" + host + ":" + port
}
