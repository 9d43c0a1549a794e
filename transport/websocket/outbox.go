package websocket

import (
	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// ReadingOutbox is the outbox of the connection's reader (sockio.Outbox), for sends made while
// handling a message read from this connection, on its reading goroutine; nil on a client
// connection. It is how a send on any socket transport finds the batch to join.
func (c *Conn) ReadingOutbox() *sockio.Outbox {
	if c.fr == nil {
		return nil
	}
	return &c.out
}

// SendFanout queues one frame of a fan-out (peer.Peer) like Send. When via is a server
// connection of a socket transport, whose reader must be the goroutine sending, a writer that
// would start now is started when via's outbox is flushed instead. It allocates nothing.
func (c *Conn) SendFanout(frame []byte, via peer.Peer) error {
	return c.enqueue(frame, sendOptions{binary: c.binary, out: sockio.OutboxOf(via), shared: true})
}

// SendReply sends a one-to-one message (peer.ReplySender) like SendNow, from via's reading
// goroutine: when via is a server connection of a socket transport, the write waits until
// via's reader has handled what its read brought, so that the replies of one read (the
// RESULTs of a callee's YIELDs) or of several reads (the INVOCATIONs of many callers for one
// callee) reach each peer in one write. It is never held for a write delay.
func (c *Conn) SendReply(frame []byte, via peer.Peer) error {
	out := sockio.OutboxOf(via)
	if out == nil {
		return c.SendNow(frame)
	}
	return c.enqueue(frame, sendOptions{binary: c.binary, urgent: true, out: out})
}
