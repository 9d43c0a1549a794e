package rpc

import "github.com/pawl-wamp/pawl/session"

// settlesCancelLocally reports whether a caller settles a call it cancels with mode skip or
// killnowait by itself, and then takes the dealer's ERROR for that call — which the spec
// requires — as a protocol violation and drops its connection. autobahn.js (22.x) does this.
// Such a caller is served as it expects: no ERROR after its CANCEL (as with Crossbar.io, the
// client works unchanged). autobahn.js is recognised by what it announces: no agent, a caller
// role that cancels, a callee role that cannot be interrupted.
func settlesCancelLocally(s *session.Session) bool {
	if _, hasAgent := s.Details["agent"]; hasAgent {
		return false
	}
	return s.HasFeature("caller", "call_canceling") && !s.HasFeature("callee", "call_canceling")
}
