// Package rpc is the dealer: it indexes registrations and routes each call to its callee and
// the callee's answer back to the caller. It never blocks on a peer.
package rpc

import (
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Dealer routes calls to callees. Its realm is its only owner; a cluster-aware implementation
// can stand behind the same interface.
type Dealer interface {
	Register(s *session.Session, m *wamp.Register)
	Unregister(s *session.Session, m *wamp.Unregister)
	Call(s *session.Session, m *wamp.Call)
	Cancel(s *session.Session, m *wamp.Cancel)
	Yield(s *session.Session, m *wamp.Yield)
	// Error handles an ERROR a callee sent for an INVOCATION.
	Error(s *session.Session, m *wamp.Error)
	// Leave drops a session's registrations and fails or forgets its pending calls.
	Leave(s *session.Session)
	// Features is announced in WELCOME under roles.dealer.features.
	Features() wamp.Dict
}
