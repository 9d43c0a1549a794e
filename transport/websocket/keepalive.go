package websocket

import "github.com/pawl-wamp/pawl/transport/internal/keepalive"

// Keepalive pings are not a timer per connection: every connection whose keepalive has the
// same tick (keepalive.TickFor its PingInterval and PongTimeout: a second with the defaults)
// is in one wheel, and one goroutine, alive while any is, calls pingDue when a ping or the
// keepalive's end of a parked reader is due — at most a tick late.
var keepalives keepalive.Schedulers[*keepaliveSide]

// keepaliveSide is a Conn as the keepalive wheel sees it (keepalive.Conn), apart from Conn's
// own API.
type keepaliveSide Conn

func (k *keepaliveSide) KeepaliveDue(int64)               { (*Conn)(k).pingDue() }
func (k *keepaliveSide) KeepaliveEntry() *keepalive.Entry { return &k.ka }

// keepalive is the wheel of c's keepalive (with keepalive on).
func (c *Conn) keepalive() *keepalive.Scheduler[*keepaliveSide] {
	return keepalives.For(keepalive.TickFor(c.opts.PingInterval, c.opts.PongTimeout))
}
