package session

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/session/peer"
	"github.com/pawl-wamp/pawl/wamp"
)

// ErrHandshakeEnded is returned by Session.Challenge when the handshake cannot go on: the peer
// aborted, left, broke the protocol or did not answer in time. The session layer has already
// dealt with the peer; the gate only has to give up.
var ErrHandshakeEnded = errors.New("handshake ended")

// handshake is the state of a session between HELLO and WELCOME: its deadline timer.
type handshake struct {
	srv   *Host
	s     *Session
	timer *time.Timer
	fired atomic.Bool
}

// arm starts the deadline for the peer's next message: when it passes, the session is aborted.
func (hs *handshake) arm(d time.Duration, reason wamp.URI, message string) {
	hs.timer = time.AfterFunc(d, func() {
		hs.fired.Store(true)
		hs.srv.log.Info("handshake timed out", "remote", hs.s.RemoteAddr(), "message", message)
		hs.s.Abort(reason, message)
	})
}

// disarm stops the deadline; false means it has already passed (the session is being aborted).
func (hs *handshake) disarm() bool {
	return hs.timer.Stop() && !hs.fired.Load()
}

// Challenge sends CHALLENGE with the authmethod and extra and waits (at most the server's
// AuthTimeout) for the peer's AUTHENTICATE. It may only be called by Gate.Join, on the
// connection's goroutine, and may be called more than once (multi-step authentication).
// Anything but AUTHENTICATE ends the handshake: ABORT from the peer closes the connection,
// any other message is a protocol violation; the error then wraps ErrHandshakeEnded.
func (s *Session) Challenge(method string, extra wamp.Dict) (*wamp.Authenticate, error) {
	hs := s.hs
	if hs == nil {
		return nil, errors.New("session: Challenge called outside Gate.Join")
	}
	if extra == nil {
		extra = wamp.Dict{}
	}
	s.state.Store(stateAuthenticating)
	timeout := hs.srv.opts.Load().AuthTimeout
	hs.arm(timeout, wamp.ErrAuthenticationFailed, "no AUTHENTICATE within "+timeout.String())
	if !s.Send(&wamp.Challenge{AuthMethod: method, Extra: extra}) {
		hs.disarm()
		return nil, fmt.Errorf("sending CHALLENGE: %w", ErrHandshakeEnded)
	}
	data, err := s.peer.Read()
	if !hs.disarm() {
		return nil, fmt.Errorf("no AUTHENTICATE within %v: %w", timeout, ErrHandshakeEnded)
	}
	if err != nil {
		return nil, fmt.Errorf("waiting for AUTHENTICATE: %w: %w", ErrHandshakeEnded, err)
	}
	m, err := s.Codec.Decode(data)
	if err == nil {
		err = wamp.Validate(m)
	}
	if err != nil {
		hs.srv.violation(s, fmt.Sprintf("malformed message: %v", err))
		return nil, fmt.Errorf("malformed answer to CHALLENGE: %w", ErrHandshakeEnded)
	}
	s.countReceived(m.Type(), len(data))
	switch m := m.(type) {
	case *wamp.Authenticate:
		return m, nil
	case *wamp.Abort:
		hs.srv.log.Debug("peer aborted the handshake", "remote", s.RemoteAddr(), "reason", m.Reason)
		s.state.Store(stateClosed)
		s.peer.Close(peer.CloseNormal, "")
		return nil, fmt.Errorf("peer aborted: %s: %w", m.Reason, ErrHandshakeEnded)
	}
	hs.srv.violation(s, fmt.Sprintf("expected AUTHENTICATE, got %s", m.Type()))
	return nil, fmt.Errorf("peer sent %s instead of AUTHENTICATE: %w", m.Type(), ErrHandshakeEnded)
}
