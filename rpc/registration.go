package rpc

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Invocation policies of shared registrations.
const (
	InvokeSingle     = "single"
	InvokeRoundRobin = "roundrobin"
	InvokeRandom     = "random"
	InvokeFirst      = "first"
	InvokeLast       = "last"
)

func validInvokePolicy(p string) bool {
	switch p {
	case InvokeSingle, InvokeRoundRobin, InvokeRandom, InvokeFirst, InvokeLast:
		return true
	}
	return false
}

// callee is one session's place on a registration, with its REGISTER options.
type callee struct {
	session        *session.Session
	peer           *peer // the session's dealer state: its invocations in flight on every registration
	maxInFlight    int   // the dealer's bound on those (Options.MaxInvocationsPerCallee); 0 = none
	discloseCaller bool
	forwardTimeout bool
	concurrency    int // most invocations at once; 0 = no limit
	running        int // invocations in flight, guarded by the registration's mutex
}

func (c *callee) hasRoom() bool {
	return (c.concurrency == 0 || c.running < c.concurrency) &&
		(c.maxInFlight == 0 || c.peer.inFlight.Load() < int64(c.maxInFlight))
}

// registration is one procedure pattern with its callees (several with shared registration).
// Its mutex guards its callees, their running counts, its queue and the state of every
// invocation routed through it.
type registration struct {
	id        wamp.ID
	procedure wamp.URI
	match     string
	invoke    string
	created   time.Time

	mu      sync.Mutex
	callees []*callee
	next    int           // round-robin cursor
	queue   []*invocation // calls waiting for a callee with room, oldest first
	deleted bool
}

// pick chooses a callee with room according to the invocation policy, or nil when all are busy.
// Caller holds reg.mu.
func (reg *registration) pick() *callee {
	n := len(reg.callees)
	if n == 0 {
		return nil
	}
	switch reg.invoke {
	case InvokeRoundRobin:
		for i := 0; i < n; i++ {
			c := reg.callees[(reg.next+i)%n]
			if c.hasRoom() {
				reg.next = (reg.next + i + 1) % n
				return c
			}
		}
	case InvokeRandom:
		start := rand.IntN(n)
		for i := 0; i < n; i++ {
			if c := reg.callees[(start+i)%n]; c.hasRoom() {
				return c
			}
		}
	case InvokeLast:
		for i := n - 1; i >= 0; i-- {
			if c := reg.callees[i]; c.hasRoom() {
				return c
			}
		}
	default: // single, first
		for _, c := range reg.callees {
			if c.hasRoom() {
				return c
			}
		}
	}
	return nil
}

func (reg *registration) calleeOf(s *session.Session) *callee {
	for _, c := range reg.callees {
		if c.session == s {
			return c
		}
	}
	return nil
}

// details describes the registration as the meta API does.
func (reg *registration) details() wamp.Dict {
	return wamp.Dict{
		"id":      reg.id,
		"created": reg.created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"uri":     string(reg.procedure),
		"match":   reg.match,
		"invoke":  reg.invoke,
	}
}
