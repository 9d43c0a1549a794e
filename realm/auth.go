package realm

import (
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// An authenticator runs one authentication method for a joining session: it may send
// CHALLENGEs (q.challenge) and returns who the peer is. It answers errNoPrincipal when it does
// not know the authid (the router then tries the peer's next method), an *session.AbortError to
// refuse, or an error wrapping session.ErrHandshakeEnded when the peer went away.
type authenticator interface {
	authenticate(q *authRequest) (*identity, error)
}

// authenticators by authmethod name. "scram" is what Autobahn|Python and Crossbar.io call
// wamp-scram.
var authenticators = map[string]authenticator{
	"anonymous":  anonymousAuth{},
	"ticket":     ticketAuth{},
	"wampcra":    craAuth{},
	"wamp-scram": scramAuth{},
	"scram":      scramAuth{},
	"cryptosign": cryptosignAuth{},
}

// canonicalMethod maps an authmethod alias to its name in the spec.
func canonicalMethod(m string) string {
	if m == "scram" {
		return "wamp-scram"
	}
	return m
}

// errNoPrincipal: the authenticator does not know the peer's authid (or key).
var errNoPrincipal = errors.New("no such principal")

// skip is an authenticator's "not this method": HELLO lacks what the method needs. The router
// tries the peer's next method, and refuses with this reason if none is left.
type skip struct {
	reason  wamp.URI
	message string
}

func (e *skip) Error() string { return e.message }

func skipMethod(format string, args ...any) error {
	return &skip{reason: wamp.ErrAuthenticationFailed, message: fmt.Sprintf(format, args...)}
}

// authFailed refuses with wamp.error.authentication_failed.
func authFailed(format string, args ...any) error {
	return &session.AbortError{Reason: wamp.ErrAuthenticationFailed, Message: fmt.Sprintf(format, args...)}
}

// authRequest is one authentication attempt: what HELLO said and where it came from.
type authRequest struct {
	r         *Realm
	sec       *security // the realm's configuration when the attempt began
	s         *session.Session
	method    string // as the peer named it (the CHALLENGE and WELCOME use the same name)
	authID    string
	extra     wamp.Dict // HELLO.Details.authextra
	transport wamp.Dict // transport details (transportDetails)
}

// challenge sends a CHALLENGE for the request's method and waits for AUTHENTICATE.
func (q *authRequest) challenge(extra wamp.Dict) (*wamp.Authenticate, error) {
	return q.s.Challenge(q.method, extra)
}

// identity is who a peer was authenticated as.
type identity struct {
	authID   string
	role     string
	provider string
	extra    wamp.Dict // WELCOME.Details.authextra
}

// principal is a static principal, decoded from the configuration.
type principal struct {
	authID, role string
	ticket       string // hash
	cra          *CRACredential
	craKey       []byte
	scram        *scramSecret
	pubkeys      []ed25519.PublicKey
}

// security is a realm's authentication and authorization state, built from its Config. It
// is never changed once built: Reconfigure builds a new one and swaps it in, so a handshake
// or an authorization sees one consistent configuration.
type security struct {
	cfg        Config // what it was built from
	principals map[string]*principal
	byPubkey   map[string]*principal // cryptosign public key (hex, lower case) → principal
	dynamic    *DynamicAuth
	limiter    *limiter
	authz      *authorizer
	accepts    []string // the methods the realm can authenticate
}

// sec is the realm's current authentication and authorization state.
func (r *Realm) sec() *security { return r.secState.Load() }

// initSecurity builds the realm's security state and wraps its dispatch table with the
// authorization checks.
func (r *Realm) initSecurity() {
	r.secState.Store(r.newSecurity(r.config, nil))
	r.initAuthz()
}

// newSecurity decodes a realm's auth configuration. A principal that does not decode is
// logged and left out (the configuration was validated when loaded). The rate limiter of old,
// when its settings are unchanged, carries over: a reload forgives no failures.
func (r *Realm) newSecurity(cfg Config, old *security) *security {
	sec := &security{cfg: cfg, principals: map[string]*principal{}, byPubkey: map[string]*principal{},
		dynamic: cfg.Auth.Dynamic}
	if old != nil && reflect.DeepEqual(old.cfg.Auth.RateLimit, cfg.Auth.RateLimit) {
		sec.limiter = old.limiter
	} else {
		sec.limiter = newLimiter(cfg.Auth.RateLimit)
	}
	for _, pc := range cfg.Auth.Principals {
		p, err := decodePrincipal(pc)
		if err != nil {
			r.log.Error("principal left out", "authid", pc.AuthID, "err", err)
			continue
		}
		sec.principals[p.authID] = p
		for _, k := range p.pubkeys {
			sec.byPubkey[hex.EncodeToString(k)] = p
		}
	}
	sec.accepts = sec.acceptedMethods()
	sec.authz = newAuthorizer(cfg)
	return sec
}

func decodePrincipal(pc Principal) (*principal, error) {
	if err := pc.validate(); err != nil {
		return nil, err
	}
	p := &principal{authID: pc.AuthID, role: pc.Role, ticket: pc.Ticket, cra: pc.WAMPCRA}
	if pc.WAMPCRA != nil {
		p.craKey, _ = pc.WAMPCRA.key()
	}
	if pc.SCRAM != nil {
		cred, _ := pc.SCRAM.credential()
		p.scram = &scramSecret{cred: cred, salt: pc.SCRAM.Salt}
	}
	for _, k := range pc.Cryptosign {
		pub, _ := parsePubkey(k)
		p.pubkeys = append(p.pubkeys, pub)
	}
	return p, nil
}

// dynamicFor reports whether the dynamic authenticator handles a method.
func (sec *security) dynamicFor(method string) bool {
	return sec.dynamic != nil && slices.Contains(sec.dynamic.Methods, canonicalMethod(method))
}

// acceptedMethods lists the methods this realm can authenticate.
func (sec *security) acceptedMethods() []string {
	var out []string
	has := map[string]bool{}
	if sec.cfg.anonymousAllowed() {
		has["anonymous"] = true
	}
	for _, p := range sec.principals {
		has["ticket"] = has["ticket"] || p.ticket != ""
		has["wampcra"] = has["wampcra"] || p.cra != nil
		has["wamp-scram"] = has["wamp-scram"] || p.scram != nil
		has["cryptosign"] = has["cryptosign"] || len(p.pubkeys) > 0
	}
	if d := sec.dynamic; d != nil {
		for _, m := range d.Methods {
			has[m] = true
		}
	}
	for _, m := range authMethodNames {
		if has[m] {
			out = append(out, m)
		}
	}
	return out
}

// authenticate decides who the peer is: it tries the methods HELLO offers, in the peer's
// order, and fills in the session's auth fields. It returns the WELCOME's authextra.
func (r *Realm) authenticate(s *session.Session) (wamp.Dict, error) {
	if lp := r.router.localPeer(s); lp != nil {
		if lp.role != "" { // a service client: authorized as its role, never trusted by method
			s.AuthID, s.AuthRole, s.AuthMethod, s.AuthProvider = lp.authID, lp.role, "local", "local"
			return nil, nil
		}
		s.AuthID, s.AuthRole, s.AuthMethod, s.AuthProvider = lp.authID, TrustedRole, "trusted", "local"
		return nil, nil
	}
	offered := authMethods(s.Details)
	if len(offered) == 0 {
		offered = []string{"anonymous"} // no authmethods: the spec's default
	}
	authID, _ := s.Details.String("authid")
	extra, _ := s.Details.Dict("authextra")
	sec := r.sec()
	q := &authRequest{r: r, sec: sec, s: s, authID: authID, extra: extra, transport: transportDetails(s)}
	who := attempt{addr: remoteIP(s), authID: authID}
	wait, refused, retry := sec.limiter.admit(who)
	if refused {
		r.log.Info("authentication refused: too many failures", "authid", authID, "remote", remoteString(s.Peer().Details()), "retry_in", retry)
		return nil, authFailed("too many failed attempts; retry in %v", retry.Round(time.Second)+time.Second)
	}
	if wait > 0 && !r.pause(wait) {
		return nil, authFailed("router shutting down")
	}
	accepts := sec.accepts
	unknown := false
	var skipped *skip
	for _, m := range offered {
		a, ok := authenticators[m]
		if !ok || !slices.Contains(accepts, canonicalMethod(m)) {
			continue
		}
		q.method = m
		s.AuthMethod = m // the method being tried: a failure is counted under it (observe.go)
		id, err := a.authenticate(q)
		if errors.Is(err, errNoPrincipal) {
			unknown = true
			continue
		}
		if sk := (*skip)(nil); errors.As(err, &sk) {
			if skipped == nil {
				skipped = sk
			}
			continue
		}
		if errors.Is(err, session.ErrHandshakeEnded) {
			return nil, err
		}
		if err != nil {
			r.failed(s, who, m, authID, err)
			return nil, err
		}
		if id.provider == "" {
			id.provider = "static"
		}
		s.AuthID, s.AuthRole, s.AuthMethod, s.AuthProvider = id.authID, id.role, m, id.provider
		sec.limiter.succeed(who)
		return id.extra, nil
	}
	if skipped != nil && !unknown {
		return nil, &session.AbortError{Reason: skipped.reason, Message: skipped.message}
	}
	if unknown {
		err := &session.AbortError{Reason: wamp.ErrNoSuchPrincipal,
			Message: fmt.Sprintf("no principal %q for the methods offered (%s)", authID, strings.Join(offered, ", "))}
		r.failed(s, who, "", authID, err)
		return nil, err
	}
	return nil, &session.AbortError{Reason: wamp.ErrNoMatchingAuthMethod,
		Message: fmt.Sprintf("this realm accepts: %s; offered: %s", strings.Join(accepts, ", "), strings.Join(offered, ", "))}
}

// failed records a failure with the rate limiter, logs it, and waits the limiter's delay
// before the ABORT goes out (on the joining connection's goroutine, which has nothing else
// to do; other sessions are not affected). Shutdown cuts the wait short.
func (r *Realm) failed(s *session.Session, who attempt, method, authID string, err error) {
	delay := r.sec().limiter.fail(who)
	r.log.Info("authentication failed", "authmethod", method, "authid", authID, "remote", remoteString(s.Peer().Details()),
		"err", err, "delay", delay)
	r.pause(delay)
}

// pause waits d on the joining connection's goroutine; it reports false when the router's
// shutdown cut the wait short.
func (r *Realm) pause(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.closing():
		return false
	}
}

// authMethods reads HELLO.Details.authmethods.
func authMethods(details wamp.Dict) []string {
	list, _ := details["authmethods"].(wamp.List)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if m, ok := v.(string); ok {
			out = append(out, m)
		}
	}
	return out
}

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

// anonymousAuth admits anyone, with the realm's anonymous role, or asks the dynamic
// authenticator (which sees the cookies and headers) when it handles "anonymous".
type anonymousAuth struct{}

func (anonymousAuth) authenticate(q *authRequest) (*identity, error) {
	if q.sec.dynamicFor("anonymous") {
		ans, err := q.r.callAuthenticator(q, nil)
		if err != nil {
			return nil, err
		}
		if ans.authID == "" {
			ans.authID = anonymousAuthID()
		}
		return &ans.identity, nil
	}
	return &identity{authID: anonymousAuthID(), role: q.sec.cfg.anonymousRole()}, nil
}

// verifySlots bounds the password hashes computed at once (each takes memory and CPU), so a
// flood of logins cannot exhaust the router.
var verifySlots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// withVerifySlot runs f while holding one of the verification slots.
func withVerifySlot[T any](f func() T) T {
	verifySlots <- struct{}{}
	defer func() { <-verifySlots }()
	return f()
}
