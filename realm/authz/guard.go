package authz

import (
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// Guard wraps a realm's handlers for CALL, REGISTER, PUBLISH and SUBSCRIBE with the
// authorization check: a denied request never reaches the broker or dealer. current returns
// the realm's Authorizer of the moment (an atomic load: a reconfigured realm swaps it), and is
// called once per request.
func Guard(h *session.Handlers, current func() *Authorizer) {
	if next, ok := h.Lookup(wamp.TypeCall); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Call) {
			d := current().Authorize(s, ActionCall, m.Procedure, wamp.MatchExact, m.Options)
			if !d.Allow {
				s.SendError(wamp.TypeCall, m.Request, d.Reason, d.Message)
				return
			}
			if d.Disclose {
				m.Options = withOption(m.Options, "disclose_me", true)
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypeRegister); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Register) {
			a := current()
			match := MatchOf(m.Options)
			if !a.Trusted(s) && a.Reserved(m.Procedure, match) {
				a.log.Warn("refused to let an untrusted session register a dynamic auth procedure",
					"session", s.ID, "authid", s.AuthID, "authrole", s.AuthRole, "procedure", m.Procedure)
				s.SendError(wamp.TypeRegister, m.Request, wamp.ErrNotAuthorized,
					"only trusted sessions may register "+string(m.Procedure))
				return
			}
			d := a.Authorize(s, ActionRegister, m.Procedure, match, m.Options)
			if !d.Allow {
				s.SendError(wamp.TypeRegister, m.Request, d.Reason, d.Message)
				return
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypePublish); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Publish) {
			a := current()
			d := a.Authorize(s, ActionPublish, m.Topic, wamp.MatchExact, m.Options)
			if retain, _ := m.Options.Bool("retain"); retain && d.Allow && !a.MayRetain(s, m.Topic) {
				d = Decision{Reason: wamp.ErrNotAuthorized,
					Message: "authrole " + s.AuthRole + " may not retain events on " + string(m.Topic)}
			}
			if !d.Allow {
				if ack, _ := m.Options.Bool("acknowledge"); ack {
					s.SendError(wamp.TypePublish, m.Request, d.Reason, d.Message)
				}
				return
			}
			if d.Disclose {
				m.Options = withOption(m.Options, "disclose_me", true)
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypeSubscribe); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Subscribe) {
			d := current().Authorize(s, ActionSubscribe, m.Topic, MatchOf(m.Options), m.Options)
			if !d.Allow {
				s.SendError(wamp.TypeSubscribe, m.Request, d.Reason, d.Message)
				return
			}
			next(s, m)
		})
	}
}

// MatchOf reads a SUBSCRIBE's or REGISTER's match option (exact when absent).
func MatchOf(options wamp.Dict) string {
	if m, ok := options.String("match"); ok && m != "" {
		return m
	}
	return wamp.MatchExact
}

func withOption(options wamp.Dict, key string, v any) wamp.Dict {
	out := make(wamp.Dict, len(options)+1)
	for k, x := range options {
		out[k] = x
	}
	out[key] = v
	return out
}
