package realm

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// What an operator's view of the router (metrics, the status page: realm/admin) reads. The
// counting here happens when sessions join and leave, never per message.

// observed is a realm's record of authentications and slow-consumer cut-offs.
type observed struct {
	auth        [len(authMethodLabels)]authCounter
	slowCutoffs atomic.Uint64
	cutoffs     cutoffRing
}

// cutoffRing keeps the latest RecentCutoffs cut-offs.
type cutoffRing struct {
	mu    sync.Mutex
	items [RecentCutoffs]Cutoff
	next  int // where the next one goes
	count int // how many it holds
}

func (r *cutoffRing) push(c Cutoff) {
	r.mu.Lock()
	r.items[r.next] = c
	r.next = (r.next + 1) % RecentCutoffs
	r.count = min(r.count+1, RecentCutoffs)
	r.mu.Unlock()
}

// latest returns what the ring holds, newest first.
func (r *cutoffRing) latest() []Cutoff {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Cutoff, 0, r.count)
	for i := 1; i <= r.count; i++ {
		out = append(out, r.items[(r.next-i+RecentCutoffs)%RecentCutoffs])
	}
	return out
}

type authCounter struct{ ok, failed atomic.Uint64 }

// authMethodLabels are the methods authentications are counted under: the spec's names, the
// router's own "trusted" (in-process clients) and "none" (refused before any method was
// tried: no method in common, too many failures).
var authMethodLabels = [...]string{"anonymous", "ticket", "wampcra", "wamp-scram", "cryptosign", "trusted", "none"}

func authSlot(method string) int {
	method = authn.CanonicalMethod(method)
	for i, m := range authMethodLabels {
		if m == method {
			return i
		}
	}
	return len(authMethodLabels) - 1 // "none"
}

// countAuth counts the outcome of a session's authentication (err from authenticate).
// A peer that left or broke the protocol during the handshake is not counted.
func (r *Realm) countAuth(s *session.Session, err error) {
	if errors.Is(err, session.ErrHandshakeEnded) {
		return
	}
	c := &r.auth[authSlot(s.AuthMethod)]
	if err == nil {
		c.ok.Add(1)
	} else {
		c.failed.Add(1)
	}
}

// AuthCount is the number of authentications that succeeded and failed with one method.
type AuthCount struct {
	Method            string
	Successes, Failed uint64
}

// AuthCounts reports the realm's authentications so far, by method.
func (r *Realm) AuthCounts() []AuthCount {
	out := make([]AuthCount, len(authMethodLabels))
	for i, m := range authMethodLabels {
		out[i] = AuthCount{Method: m, Successes: r.auth[i].ok.Load(), Failed: r.auth[i].failed.Load()}
	}
	return out
}

// RecentCutoffs is how many slow-consumer cut-offs a realm remembers for the status page.
const RecentCutoffs = 32

// Cutoff is a session the router cut off for being too slow a consumer.
type Cutoff struct {
	Time       time.Time
	Session    wamp.ID
	AuthID     string
	AuthRole   string
	Remote     string
	Serializer string
}

// observeLeave records a session leaving: a slow consumer's cut-off is counted and kept.
func (r *Realm) observeLeave(s *session.Session) {
	if s.LeaveReason() != wamp.CloseSlowConsumer {
		return
	}
	r.slowCutoffs.Add(1)
	c := Cutoff{Time: time.Now(), Session: s.ID, AuthID: s.AuthID, AuthRole: s.AuthRole}
	if addr := s.RemoteAddr(); addr != nil {
		c.Remote = addr.String()
	}
	if s.Codec != nil {
		c.Serializer = s.Codec.Name()
	}
	r.cutoffs.push(c)
}

// SlowConsumerCutoffs is how many sessions of the realm were cut off as slow consumers.
func (r *Realm) SlowConsumerCutoffs() uint64 { return r.slowCutoffs.Load() }

// RecentSlowConsumers returns the latest slow-consumer cut-offs, newest first.
func (r *Realm) RecentSlowConsumers() []Cutoff { return r.cutoffs.latest() }

// Traffic is the realm's message counters.
func (r *Realm) Traffic() *session.Traffic { return &r.traffic }

// Sessions lists the realm's sessions, by ID.
func (r *Realm) Sessions() []*session.Session {
	return r.sessions.Where(func(*session.Session) bool { return true })
}

// Realms lists the router's realms, by name.
func (rt *Router) Realms() []*Realm {
	rt.mu.RLock()
	out := make([]*Realm, 0, len(rt.realms))
	for _, r := range rt.realms {
		out = append(out, r)
	}
	rt.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Realm) int { return cmp.Compare(a.Name(), b.Name()) })
	return out
}
