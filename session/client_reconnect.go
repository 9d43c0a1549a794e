package session

import (
	"strings"

	"github.com/pawl-wamp/pawl/transport"
	"github.com/pawl-wamp/pawl/wamp"
)

// closeReason is why the router closed the connection, when its close frame says so with a
// WAMP close URI (a router that stops closes with 1001 and wamp.close.system_shutdown rather
// than saying GOODBYE): the session's error then names that reason.
func closeReason(conn *transport.Conn) error {
	code, text := conn.PeerClose()
	if code == 0 || !strings.HasPrefix(text, "wamp.") {
		return nil
	}
	return &wamp.ApplicationError{URI: wamp.URI(text), Details: wamp.Dict{"close_code": code}}
}
