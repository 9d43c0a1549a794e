// Package session is the WAMP session layer: the handshake and state machine of a router-side
// session, typed dispatch of each message to a handler registered for its type, and the Go
// client, which is the same machine seen from the other side.
package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/transport"
	"github.com/pawl-wamp/pawl/wamp"
)

// Session is one joined WAMP session on the router side: what the broker and dealer address.
// Its identity fields are set during the handshake and read-only afterwards.
type Session struct {
	ID           wamp.ID
	Realm        wamp.URI
	AuthID       string
	AuthRole     string
	AuthMethod   string
	AuthProvider string
	// Details is the HELLO's Details (agent, auth fields); the roles and features it
	// announced are asked with HasRole and HasFeature.
	Details  wamp.Dict
	features *features
	Codec    wamp.Codec

	conn    *transport.Conn
	log     *slog.Logger
	traffic *Traffic // the realm's counters, once the Gate has found the realm (SetTraffic)

	state     atomic.Int32
	hs        *handshake // during Gate.Join: the CHALLENGE/AUTHENTICATE step (auth.go)
	closeOnce sync.Once
	// leaveReason is why the router ended the session, when it did (slow consumer, kill...).
	leaveMu     sync.Mutex
	leaveReason wamp.URI
}

// State of a session's state machine.
const (
	stateEstablishing   int32 = iota
	stateAuthenticating       // CHALLENGE sent, waiting for AUTHENTICATE
	stateEstablished
	stateClosing // GOODBYE sent by the router, waiting for the peer's
	stateClosed
)

// Stats counts what the session layer did to peers; read with Load.
var Stats struct {
	SlowConsumers      atomic.Int64 // peers cut off because their outbound queue overflowed
	ProtocolViolations atomic.Int64 // sessions aborted for breaking the protocol
}

// RemoteAddr is the peer's network address.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Conn is the transport connection (for the upgrade request's headers and cookies).
func (s *Session) Conn() *transport.Conn { return s.conn }

// Send encodes m in the session's codec and sends it: written right away when nothing else
// is waiting for the peer (one-to-one messages: results, invocations, acknowledgements). It
// reports false when the session is gone or was just cut off for being too slow.
func (s *Session) Send(m wamp.Message) bool {
	frame, err := s.Codec.Encode(nil, m)
	if err != nil {
		s.log.Error("encode failed", "session", s.ID, "type", m.Type(), "err", err)
		return false
	}
	if !s.sent(s.conn.SendNow(frame)) {
		return false
	}
	if t := s.traffic; t != nil {
		t.Sent(m.Type(), 1, len(frame))
		if e, ok := m.(*wamp.Error); ok {
			t.Error(e.Error)
		}
	}
	return true
}

// SetTraffic makes the session count its messages in t (its realm's): called by Gate.Join
// once it knows the realm, before the session is visible to anyone else. Events fanned out
// with SendFrame are counted by whoever fans them out, once per publication.
func (s *Session) SetTraffic(t *Traffic) { s.traffic = t }

// countReceived counts a message read from the peer, once the session has a realm.
func (s *Session) countReceived(mt wamp.MessageType, bytes int) {
	if t := s.traffic; t != nil {
		t.Received(mt, bytes)
	}
}

// SendFrame queues an already encoded frame (shared, never modified afterwards) for the
// connection's writer, which batches what queues up: for fan-out. With an outbox (the
// sending handler's, see Outbox) the write waits until that handler's reader is done with
// what it read, so that a burst reaches this session in one write.
func (s *Session) SendFrame(frame []byte, out *transport.Outbox) bool {
	return s.sent(s.conn.SendVia(frame, out))
}

// Outbox is the outbox of the session's reader, for handlers: they run on that reader's
// goroutine, the only one that may use it. Nil for a session without one.
func (s *Session) Outbox() *transport.Outbox { return s.conn.Outbox() }

// sent handles the outcome of a send: a full queue cuts the peer off.
func (s *Session) sent(err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, transport.ErrQueueFull) {
		msgs, bytes := s.conn.Queued()
		Stats.SlowConsumers.Add(1)
		s.log.Warn("cutting off slow consumer: outbound queue full", "session", s.ID, "authid", s.AuthID, "queued_messages", msgs, "queued_bytes", bytes)
		s.setLeaveReason(wamp.CloseSlowConsumer)
		s.conn.Abort(transport.CloseTryAgainLater,
			fmt.Sprintf("%s: outbound queue full (%d messages, %d bytes)", wamp.CloseSlowConsumer, msgs, bytes))
	}
	return false
}

// HasFeature reports whether the peer announced a feature for a role in HELLO,
// e.g. HasFeature("callee", "call_canceling").
func (s *Session) HasFeature(role, feature string) bool {
	return s.features != nil && s.features.roles[role][feature]
}

// HasRole reports whether the peer announced a role in HELLO.
func (s *Session) HasRole(role string) bool {
	if s.features == nil {
		return false
	}
	_, ok := s.features.roles[role]
	return ok
}

// Goodbye starts a router-initiated close: GOODBYE with reason, then the connection closes
// when the peer answers (or the grace period ends).
func (s *Session) Goodbye(reason wamp.URI, message string) {
	if !s.state.CompareAndSwap(stateEstablished, stateClosing) {
		return
	}
	s.setLeaveReason(reason)
	details := wamp.Dict{}
	if message != "" {
		details["message"] = message
	}
	s.Send(&wamp.Goodbye{Details: details, Reason: reason})
	// The peer should answer GOODBYE, which closes the connection; one that does not is
	// closed anyway after a grace period.
	time.AfterFunc(goodbyeGrace, func() { s.conn.Close(transport.CloseNormal, string(reason)) })
}

// goodbyeGrace is how long the router waits for the peer to answer its GOODBYE.
const goodbyeGrace = 3 * time.Second

// Abort ends the session with ABORT (reason and message) and closes the connection.
func (s *Session) Abort(reason wamp.URI, message string) {
	s.setLeaveReason(reason)
	s.state.Store(stateClosed)
	s.Send(&wamp.Abort{Details: wamp.Dict{"message": message}, Reason: reason})
	s.conn.Close(transport.CloseNormal, string(reason))
}

// LeaveReason is why the router ended the session, or "" when the peer left by itself.
func (s *Session) LeaveReason() wamp.URI {
	s.leaveMu.Lock()
	defer s.leaveMu.Unlock()
	return s.leaveReason
}

func (s *Session) setLeaveReason(r wamp.URI) {
	s.leaveMu.Lock()
	if s.leaveReason == "" {
		s.leaveReason = r
	}
	s.leaveMu.Unlock()
}

// SendError answers a request with ERROR.
func (s *Session) SendError(reqType wamp.MessageType, req wamp.ID, uri wamp.URI, args ...any) {
	s.Send(&wamp.Error{RequestType: reqType, Request: req, Details: wamp.Dict{}, Error: uri,
		Payload: wamp.Payload{Args: wamp.List(args)}})
}

// LocalProcedure is a procedure the router implements itself (the meta API): it runs on the
// caller's goroutine and never appears among the realm's registrations.
type LocalProcedure func(caller *Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error)
