package wamp

import (
	"math/rand/v2"
	"sync/atomic"
)

// MaxID is the largest valid WAMP ID, 2^53: the largest integer a JavaScript number holds exactly.
const MaxID = 1 << 53

// GlobalID draws a random ID in 1..2^53, for session and publication IDs (global scope).
func GlobalID() ID {
	return ID(rand.Uint64N(MaxID) + 1)
}

// IDGen hands out sequential IDs 1, 2, 3... wrapping after 2^53, for request IDs (session
// scope) and registration or subscription IDs (router scope). Safe for concurrent use.
type IDGen struct{ n atomic.Uint64 }

// Next returns the next ID.
func (g *IDGen) Next() ID {
	for {
		n := g.n.Add(1)
		if n <= MaxID {
			return ID(n)
		}
		// Wrapped: start over at 1. Racing callers may both reset; each still gets a fresh ID.
		g.n.CompareAndSwap(n, 0)
	}
}
