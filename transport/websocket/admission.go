package websocket

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// A request is judged by where it really comes from. Three things decide whether a WebSocket
// upgrade may go ahead before any WAMP is spoken:
//
//   - Who the client is. A connection from a trusted reverse proxy (Options.TrustedProxies)
//     speaks for the client named in its Forwarded or X-Forwarded-For header, and the host
//     and scheme the client asked for are the ones it forwards (Forwarded host=/proto=,
//     X-Forwarded-Host, X-Forwarded-Proto). Anyone else speaks for itself: its headers are
//     ignored, so a client cannot pose as another address.
//   - DNS rebinding. A connection that arrived on a loopback address (or, through a trusted
//     proxy, from a loopback client, judged by the host it forwards) must name a loopback host (localhost, *.localhost, 127.0.0.1, [::1], the address
//     it connected to, this machine's own name, or Options.AllowedHosts). Otherwise a web
//     page on evil.example whose name was re-pointed at 127.0.0.1 would pass as "same host".
//   - The browser origin. Listed origins, "*", the same host and scheme as the request (as
//     forwarded), and, on a loopback connection, local development pages
//     (http(s)://localhost, 127.0.0.1 or [::1], any port or none).

// requestView is what the server believes about a request once proxies are accounted for.
type requestView struct {
	client   net.Addr // the client's address as a trusted proxy forwarded it; nil: the socket's peer
	host     string   // the Host the client asked for
	scheme   string   // "http" or "https", as the client sees it
	proxied  bool     // came through a trusted proxy
	loopback bool     // arrived directly on a loopback address
	local    string   // the address it arrived on (host part), for the Host check
}

// remote is the client's address for logs.
func (v requestView) remote(r *http.Request) string {
	if v.client != nil {
		return v.client.String()
	}
	return r.RemoteAddr
}

// refusal is an HTTP refusal of an upgrade request: its status, a machine-readable code, a
// message for the client, and, for the log, the setting that would have allowed it.
type refusal struct {
	status  int
	code    string
	message string
	allow   string
}

// view works out who is asking and for which host.
func view(o *Options, r *http.Request) requestView {
	v := requestView{host: r.Host, scheme: "http"}
	if r.TLS != nil {
		v.scheme = "https"
	}
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil {
			v.local = ap.Addr().Unmap().String()
			v.loopback = ap.Addr().Unmap().IsLoopback()
		}
	}
	if !trusted(o, peer.Addr()) {
		return v
	}
	fwd := parseForwarded(r.Header)
	if !fwd.any() {
		return v // a trusted proxy that forwarded nothing speaks for itself
	}
	v.proxied, v.loopback, v.local = true, false, ""
	if client, ok := clientFrom(o, fwd.chain); ok {
		v.client = net.TCPAddrFromAddrPort(client)
		// A browser on the proxy's own machine is judged as a loopback one, by the host it
		// asked the proxy for: DNS rebinding through a local proxy is refused too.
		v.loopback = client.Addr().IsLoopback()
	}
	if fwd.host != "" {
		v.host = fwd.host
	}
	switch strings.ToLower(fwd.proto) {
	case "https", "wss":
		v.scheme = "https"
	case "http", "ws":
		v.scheme = "http"
	}
	return v
}

func trusted(o *Options, a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && slices.ContainsFunc(o.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(a) })
}

// clientFrom walks the forwarding chain from the nearest hop back: the first address that is
// not a trusted proxy is the client (a client cannot prepend its way past a proxy that
// appends); when every hop is trusted, the farthest one is.
func clientFrom(o *Options, chain []netip.AddrPort) (netip.AddrPort, bool) {
	for i := len(chain) - 1; i >= 0; i-- {
		if !trusted(o, chain[i].Addr()) || i == 0 {
			return chain[i], true
		}
	}
	return netip.AddrPort{}, false
}

// forwarded is what the proxy headers say: the chain of client addresses (farthest first),
// and the host and scheme the client asked for.
type forwarded struct {
	chain []netip.AddrPort
	host  string
	proto string
}

func (f forwarded) any() bool { return len(f.chain) > 0 || f.host != "" || f.proto != "" }

// parseForwarded reads RFC 7239 Forwarded, or else the X-Forwarded-* headers. Addresses it
// cannot parse (obfuscated identifiers, "unknown") are left out of the chain.
func parseForwarded(h http.Header) forwarded {
	var f forwarded
	if values := h.Values("Forwarded"); len(values) > 0 {
		for _, elem := range splitList(strings.Join(values, ",")) {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				v = strings.Trim(v, `"`)
				switch strings.ToLower(k) {
				case "for":
					if ap, ok := parseNode(v); ok {
						f.chain = append(f.chain, ap)
					}
				case "host":
					f.host = v
				case "proto":
					f.proto = v
				}
			}
		}
		return f
	}
	for _, v := range splitList(strings.Join(h.Values("X-Forwarded-For"), ",")) {
		if ap, ok := parseNode(v); ok {
			f.chain = append(f.chain, ap)
		}
	}
	if hosts := splitList(strings.Join(h.Values("X-Forwarded-Host"), ",")); len(hosts) > 0 {
		f.host = hosts[len(hosts)-1] // the nearest proxy's
	}
	if protos := splitList(strings.Join(h.Values("X-Forwarded-Proto"), ",")); len(protos) > 0 {
		f.proto = protos[len(protos)-1]
	}
	return f
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseNode reads "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or "[2001:db8::1]:5678".
func parseNode(s string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	return netip.AddrPort{}, false
}

// screen decides whether the request may upgrade. It returns nil when it may.
func screen(o *Options, r *http.Request, v requestView) *refusal {
	if v.loopback && !loopbackHost(o, v) {
		return &refusal{status: http.StatusForbidden, code: "host_not_allowed",
			message: fmt.Sprintf("Host %q is not a name of this loopback listener; a page on another "+
				"name that resolves to loopback is refused (DNS rebinding). Connect to localhost or "+
				"127.0.0.1, or list the name in the listener's allowed_hosts; a reverse proxy in "+
				"front belongs in trusted_proxies", v.host),
			allow: fmt.Sprintf("allowed_hosts: [%q]", hostname(v.host))}
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil // not a browser
	}
	if originAllowed(o, origin, v) {
		return nil
	}
	return &refusal{status: http.StatusForbidden, code: "origin_not_allowed",
		message: fmt.Sprintf("origin %q may not connect to %s://%s; list it in the listener's "+
			"allowed_origins (pawl serve -allow-origin %s)", origin, v.scheme, v.host, origin),
		allow: fmt.Sprintf("allowed_origins: [%q]", origin)}
}

// loopbackHost reports whether a loopback connection named a loopback host.
func loopbackHost(o *Options, v requestView) bool {
	h := strings.ToLower(strings.TrimSuffix(hostname(v.host), "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || h == v.local {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Unmap().IsLoopback() {
		return true
	}
	if h != "" && h == machineName {
		return true // Debian maps the machine's own name to 127.0.1.1; no attacker picks it
	}
	return slices.ContainsFunc(o.AllowedHosts, func(p string) bool { return strings.EqualFold(p, h) })
}

// machineName is this machine's host name, lower case.
var machineName = func() string {
	h, _ := os.Hostname()
	return strings.ToLower(h)
}()

func originAllowed(o *Options, origin string, v requestView) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(o.AllowedOrigins) > 0 && OriginAllowed(o.AllowedOrigins, u) {
		return true
	}
	if v.loopback && localDevOrigin(u) {
		return true
	}
	return sameOrigin(u, v)
}

// localDevOrigin: http(s)://localhost, 127.0.0.1 or [::1], with any port or none (Thruway's
// ratchet/pawl client sends "http://127.0.0.1").
func localDevOrigin(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// sameOrigin: the page was served by the host the request names, over the same scheme.
func sameOrigin(u *url.URL, v requestView) bool {
	if !strings.EqualFold(u.Scheme, v.scheme) {
		return false
	}
	return strings.EqualFold(withPort(u.Host, u.Scheme), withPort(v.host, v.scheme))
}

// withPort adds the scheme's default port to a host without one.
func withPort(host, scheme string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := 80
	if scheme == "https" {
		port = 443
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// hostname is a Host header without its port.
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// refuse answers an upgrade request with an HTTP error and a JSON body.
func refuse(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "message": message})
}
