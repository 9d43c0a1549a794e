package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/session/peer"
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

	peer    peer.Peer
	log     *slog.Logger
	traffic *Traffic // the realm's counters, once the Gate has found the realm (SetTraffic)

	state atomic.Int32
	hs    *handshake // during Gate.Join: the CHALLENGE/AUTHENTICATE step (auth.go)

	mu sync.Mutex
	// leaveReason is why the router ended the session, when it did (slow consumer, kill...).
	leaveReason wamp.URI
	// ctx is the session's context, made on first use (most sessions never ask for it, and
	// an idle session should not pay for it); canceled, and ended set, when the session ends.
	ctx    context.Context
	cancel context.CancelFunc
	ended  bool
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
func (s *Session) RemoteAddr() net.Addr { return s.peer.Details().RemoteAddr }

// Peer is the session's connection: its Details give the transport, the peer's address, the
// TLS state and (until authentication is over) the HTTP request that opened it.
func (s *Session) Peer() peer.Peer { return s.peer }

// Context is canceled when the session ends (it left, was cut off, or the router shut down):
// work done on the session's behalf — a handler's, or the router's own calls to a dynamic
// authenticator or authorizer for it — uses it, so that it stops with the session.
func (s *Session) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		if s.ended {
			s.cancel()
		}
	}
	return s.ctx
}

// end marks the session ended and cancels its context.
func (s *Session) end() {
	s.mu.Lock()
	s.ended = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
}

// Send encodes m in the session's codec and sends it: written right away when nothing else
// is waiting for the peer (one-to-one messages: results, invocations, acknowledgements). It
// reports false when the session is gone or was just cut off for being too slow.
func (s *Session) Send(m wamp.Message) bool { return s.SendReply(m, nil) }

// SendReply sends m like Send, from via's reading goroutine (via is the session whose handler
// is sending; nil: any goroutine, the same as Send): the transport may hold the write until
// via's reader has handled what its read brought, so that what one read causes reaches each
// peer in one write (peer.ReplySender). The order of messages to this session is kept.
func (s *Session) SendReply(m wamp.Message, via *Session) bool {
	frame, err := s.Codec.Encode(nil, m)
	if err != nil {
		s.log.Error("encode failed", "session", s.ID, "type", m.Type(), "err", err)
		return false
	}
	if rs, ok := s.peer.(peer.ReplySender); ok && via != nil {
		err = rs.SendReply(frame, via.peer)
	} else {
		err = s.peer.SendNow(frame)
	}
	if !s.sent(err) {
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

// SendFrame sends an already encoded frame (shared, never modified afterwards) as part of a
// fan-out, which the session's transport may batch. via, when not nil, is the session whose
// handler is sending, on that session's reading goroutine (a PUBLISH handler's publisher):
// the transport may then hold the write until via's reader has handled what it read, so that
// a burst reaches this session in one write. From any other goroutine via must be nil.
func (s *Session) SendFrame(frame []byte, via *Session) bool {
	var vp peer.Peer
	if via != nil {
		vp = via.peer
	}
	return s.sent(s.peer.SendFanout(frame, vp))
}

// sent handles the outcome of a send: a full queue cuts the peer off.
func (s *Session) sent(err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, peer.ErrQueueFull) {
		msgs, bytes := s.peer.Queued()
		Stats.SlowConsumers.Add(1)
		s.log.Warn("cutting off slow consumer: outbound queue full", "session", s.ID, "authid", s.AuthID, "queued_messages", msgs, "queued_bytes", bytes)
		s.setLeaveReason(wamp.CloseSlowConsumer)
		s.peer.Abort(peer.CloseTryAgainLater,
			fmt.Sprintf("%s: outbound queue full (%d messages, %d bytes)", wamp.CloseSlowConsumer, msgs, bytes))
		s.end()
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
	s.end() // nothing done for the session matters any more
	details := wamp.Dict{}
	if message != "" {
		details["message"] = message
	}
	s.Send(&wamp.Goodbye{Details: details, Reason: reason})
	// The peer should answer GOODBYE, which closes the connection; one that does not is
	// closed anyway after a grace period.
	time.AfterFunc(goodbyeGrace, func() { s.peer.Close(peer.CloseNormal, string(reason)) })
}

// goodbyeGrace is how long the router waits for the peer to answer its GOODBYE.
const goodbyeGrace = 3 * time.Second

// Abort ends the session with ABORT (reason and message) and closes the connection.
func (s *Session) Abort(reason wamp.URI, message string) {
	s.setLeaveReason(reason)
	s.state.Store(stateClosed)
	s.Send(&wamp.Abort{Details: wamp.Dict{"message": message}, Reason: reason})
	s.peer.Close(peer.CloseNormal, string(reason))
	s.end()
}

// LeaveReason is why the router ended the session, or "" when the peer left by itself.
func (s *Session) LeaveReason() wamp.URI {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leaveReason
}

func (s *Session) setLeaveReason(r wamp.URI) {
	s.mu.Lock()
	if s.leaveReason == "" {
		s.leaveReason = r
	}
	s.mu.Unlock()
}

// SendError answers a request with ERROR.
func (s *Session) SendError(reqType wamp.MessageType, req wamp.ID, uri wamp.URI, args ...any) {
	s.Send(&wamp.Error{RequestType: reqType, Request: req, Details: wamp.Dict{}, Error: uri,
		Payload: wamp.Payload{Args: wamp.List(args)}})
}

// LocalProcedure is a procedure the router implements itself (the meta API): it runs on the
// caller's goroutine and never appears among the realm's registrations.
type LocalProcedure func(caller *Session, args wamp.List, kwargs wamp.Dict) (wamp.List, wamp.Dict, error)
