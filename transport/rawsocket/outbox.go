package rawsocket

import (
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// ReadingOutbox is the outbox of the connection's reader (sockio.Outbox), for sends made while
// handling a message read from this connection, on its reading goroutine; nil on a client's
// connection (only a router's reader batches). It is how a send on any socket transport finds
// the batch to join.
func (c *Conn) ReadingOutbox() *sockio.Outbox {
	if !c.server {
		return nil
	}
	return &c.out
}

// SendFanout queues one frame of a fan-out (peer.Peer). When via is a router-side connection
// of a socket transport (RawSocket or WebSocket), whose reader is the goroutine sending, a
// writer that would start now is started when via's outbox is flushed instead, so a burst
// goes out in one write. It allocates nothing.
func (c *Conn) SendFanout(frame []byte, via peer.Peer) error {
	return c.enqueue(frame, sockio.OutboxOf(via), false)
}

// SendReply sends a one-to-one message (peer.ReplySender) like SendNow, from via's reading
// goroutine: when via is a router-side connection of a socket transport, the write waits until
// via's reader has handled what its read brought, so that the replies of one read (the
// RESULTs of a callee's YIELDs) or of several reads (the INVOCATIONs of many callers for one
// callee) reach each peer in one write.
func (c *Conn) SendReply(frame []byte, via peer.Peer) error {
	out := sockio.OutboxOf(via)
	if out == nil {
		return c.SendNow(frame)
	}
	return c.enqueue(frame, out, true)
}
