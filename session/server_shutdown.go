package session

import (
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// closeForShutdown ends an established session because the router is stopping. It closes the
// WebSocket with 1001 (going away) and the reason wamp.close.system_shutdown, after what is
// queued, instead of saying GOODBYE: to a WAMP client a GOODBYE means "this session is over,
// do not come back" — autobahn.js never reconnects after one, whatever its reason — while a
// connection that goes away is what clients reconnect after (autobahn.js, Autobahn|Python,
// the Go client with a ReconnectPolicy). Crossbar.io's clients, too, see a restart of it as
// the transport lost (wamp.close.transport_lost), not as a GOODBYE. The session leaves its realm with reason wamp.close.system_shutdown (in
// wamp.session.on_leave), and the Go client reports that reason from the close frame.
func (s *Session) closeForShutdown() {
	if !s.state.CompareAndSwap(stateEstablished, stateClosing) {
		return
	}
	s.setLeaveReason(wamp.CloseSystemShutdown)
	s.end() // nothing done for the session matters any more
	s.peer.Close(peer.CloseGoingAway, string(wamp.CloseSystemShutdown))
}
