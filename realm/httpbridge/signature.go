package httpbridge

import (
	"container/heap"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Signed requests, in Crossbar.io's scheme: the query carries key, timestamp (UTC, ISO 8601,
// e.g. 2026-12-03T10:05:00.123Z), seq and nonce (integers) and signature, the URL-safe base64
// of HMAC-SHA256(secret, key + timestamp + seq + nonce + body), the five strings concatenated
// as sent. Crossbar.io checks the timestamp window only; Pawl also remembers each (key, nonce)
// until its timestamp leaves the window, so a captured request cannot be sent again.

// Sign computes the signature of a request body, for Go clients and tests.
func Sign(key, secret, timestamp, seq, nonce string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(key))
	m.Write([]byte(timestamp))
	m.Write([]byte(seq))
	m.Write([]byte(nonce))
	m.Write(body)
	return base64.URLEncoding.EncodeToString(m.Sum(nil))
}

// SignedQuery returns the query parameters of a signed request made now.
func SignedQuery(key, secret string, seq, nonce int64, body []byte) url.Values {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	s, n := fmt.Sprint(seq), fmt.Sprint(nonce)
	return url.Values{"key": {key}, "timestamp": {ts}, "seq": {s}, "nonce": {n},
		"signature": {Sign(key, secret, ts, s, n, body)}}
}

// verifier checks signed requests for one service.
type verifier struct {
	keys   map[string][]byte
	window time.Duration
	nonces *nonceStore
	now    func() time.Time
}

// nonceStore remembers the (key, nonce) pairs of accepted requests for all the services of a
// bridge: the signature does not cover the path, so a request captured on one service must
// not be accepted by another that has the same key either.
type nonceStore struct {
	mu      sync.Mutex
	max     int                  // the sum of the services' max_nonces
	seen    map[string]time.Time // key "\x00" nonce → when its timestamp leaves the window
	expires expiryHeap
}

func newVerifier(keys map[string]string, window time.Duration, nonces *nonceStore) *verifier {
	v := &verifier{keys: map[string][]byte{}, window: window, nonces: nonces, now: time.Now}
	for k, s := range keys {
		v.keys[k] = []byte(s)
	}
	return v
}

// verify checks the signature, the timestamp window and the nonce of a request, and
// remembers the nonce of a request it accepts.
func (v *verifier) verify(q url.Values, body []byte) error {
	var f [5]string
	for i, name := range []string{"key", "timestamp", "seq", "nonce", "signature"} {
		vals := q[name]
		if len(vals) != 1 || vals[0] == "" {
			return refuse(http.StatusBadRequest, ErrSignature,
				"this service takes signed requests only: query parameter '"+name+"' missing (or given twice)")
		}
		f[i] = vals[0]
	}
	key, timestamp, seq, nonce, signature := f[0], f[1], f[2], f[3], f[4]
	secret, ok := v.keys[key]
	if !ok {
		return refuse(http.StatusUnauthorized, ErrSignature, fmt.Sprintf("unknown key %q", key))
	}
	ts, err := time.Parse(time.RFC3339Nano, timestamp)
	if err != nil {
		return refuse(http.StatusBadRequest, ErrSignature,
			fmt.Sprintf("invalid timestamp %q: want UTC in ISO 8601, e.g. 2026-12-03T10:05:00.123Z", timestamp))
	}
	if !isInteger(seq) {
		return refuse(http.StatusBadRequest, ErrSignature, fmt.Sprintf("invalid seq %q: want an integer", seq))
	}
	if !isInteger(nonce) {
		return refuse(http.StatusBadRequest, ErrSignature, fmt.Sprintf("invalid nonce %q: want an integer", nonce))
	}
	got, err := base64.URLEncoding.DecodeString(signature)
	if err != nil {
		got, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(signature, "="))
	}
	m := hmac.New(sha256.New, secret)
	for _, s := range []string{key, timestamp, seq, nonce} {
		m.Write([]byte(s))
	}
	m.Write(body)
	if err != nil || !hmac.Equal(got, m.Sum(nil)) {
		return refuse(http.StatusUnauthorized, ErrSignature,
			"wrong signature: want base64url(HMAC-SHA256(secret, key+timestamp+seq+nonce+body))")
	}
	now := v.now()
	if d := now.Sub(ts); d > v.window || d < -v.window {
		return refuse(http.StatusBadRequest, ErrStale, fmt.Sprintf(
			"the request's timestamp %s is %v away from the router's clock %s; at most %v is accepted",
			timestamp, d.Round(time.Millisecond).Abs(), now.UTC().Format(time.RFC3339), v.window))
	}
	return v.nonces.remember(key+"\x00"+nonce, ts.Add(v.window), now)
}

// grow adds a service's share to the store's capacity.
func (v *nonceStore) grow(n int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	v.max += n
}

// remember records a nonce until expiry, or refuses a nonce seen before.
func (v *nonceStore) remember(id string, expiry, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.expires) > 0 && !v.expires[0].at.After(now) {
		e := heap.Pop(&v.expires).(nonceExpiry)
		if at, ok := v.seen[e.id]; ok && !at.After(now) {
			delete(v.seen, e.id)
		}
	}
	if _, dup := v.seen[id]; dup {
		return refuse(http.StatusUnauthorized, ErrReplay,
			"this nonce was already used with this key: a replayed request is refused (sign each request with a fresh nonce)")
	}
	if len(v.seen) >= v.max {
		rf := refuse(http.StatusServiceUnavailable, ErrBusy,
			fmt.Sprintf("too many signed requests within the timestamp window (%d nonces remembered); retry later", v.max))
		rf.header = map[string]string{"Retry-After": fmt.Sprint(int(v.expires[0].at.Sub(now).Seconds()) + 1)}
		return rf
	}
	v.seen[id] = expiry
	heap.Push(&v.expires, nonceExpiry{id: id, at: expiry})
	return nil
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

type nonceExpiry struct {
	id string
	at time.Time
}

// expiryHeap orders remembered nonces by when they may be forgotten.
type expiryHeap []nonceExpiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(nonceExpiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// githubSignature is the X-Hub-Signature-256 value of a body.
func githubSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// checkGitHubSignature checks a webhook's X-Hub-Signature-256: sha256=hex(HMAC-SHA256(secret,
// body)), as GitHub (and many others) sign their deliveries.
func checkGitHubSignature(h http.Header, secret string, body []byte) error {
	sig := h.Get("X-Hub-Signature-256")
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return refuse(http.StatusUnauthorized, ErrGitHubSignature, "X-Hub-Signature-256: sha256=... missing")
	}
	got, err := hex.DecodeString(hexSig)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if err != nil || !hmac.Equal(got, m.Sum(nil)) {
		return refuse(http.StatusUnauthorized, ErrGitHubSignature, "X-Hub-Signature-256 does not match the body")
	}
	return nil
}
