package realm

import (
	"strconv"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// Limits bound what one session may make a realm hold (YAML key "limits" of a realm). A zero
// field takes its default; a negative one lifts the limit. The README's "Limits" section
// lists them all with what a client gets when it hits one.
type Limits struct {
	// MaxURILength bounds topic and procedure URIs in bytes (default 1024); a longer one is
	// answered with ERROR wamp.error.invalid_uri.
	MaxURILength int `yaml:"max_uri_length"`
	// MaxSubscriptionsPerSession bounds the subscriptions one session holds (default 10000);
	// past it SUBSCRIBE is answered with ERROR wamp.error.not_authorized.
	MaxSubscriptionsPerSession int `yaml:"max_subscriptions_per_session"`
	// MaxRegistrationsPerSession bounds the registrations one session holds (default 10000);
	// past it REGISTER is answered with ERROR wamp.error.not_authorized.
	MaxRegistrationsPerSession int `yaml:"max_registrations_per_session"`
	// CalleeConcurrency is the most invocations one callee session runs at once, on all its
	// registrations together (default 256), so that a caller's flood waits in the call queues
	// (and past call_queue_limit is refused) instead of filling the callee's outbound queue. A
	// REGISTER's own concurrency option bounds that registration further.
	CalleeConcurrency int `yaml:"callee_concurrency"`
	// RetainedTopics bounds the topics with a retained event (default 10000); RetainedBytes
	// bounds their payload bytes (default 64 MiB). A retained publication past either is
	// delivered but not retained, and an acknowledged one is answered with ERROR
	// wamp.error.not_authorized.
	RetainedTopics int   `yaml:"retained_topics"`
	RetainedBytes  int64 `yaml:"retained_bytes"`
	// TestamentBytes bounds the payload bytes of one session's testaments (default 1 MiB);
	// past it wamp.session.add_testament fails with wamp.error.invalid_argument.
	TestamentBytes int64 `yaml:"testament_bytes"`
	// MaxQueuedCallBytes bounds the payload bytes of one caller's calls waiting in call queues
	// for a busy callee (default 64 MiB; one call always fits); past it a call fails with
	// wamp.error.unavailable.
	MaxQueuedCallBytes int `yaml:"max_queued_call_bytes"`
}

// Default limits.
const (
	DefaultMaxURILength               = 1024
	DefaultMaxSubscriptionsPerSession = 10000
	DefaultMaxRegistrationsPerSession = 10000
	DefaultCalleeConcurrency          = 256
	DefaultRetainedTopics             = 10000
	DefaultRetainedBytes              = 64 << 20
	DefaultTestamentBytes             = 1 << 20
	DefaultMaxQueuedCallBytes         = 64 << 20
)

// orDefault returns v, def when v is 0, and 0 (no limit) when v is negative.
func orDefault[T int | int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func (l Limits) maxURILength() int { return orDefault(l.MaxURILength, DefaultMaxURILength) }
func (l Limits) maxSubscriptions() int {
	return orDefault(l.MaxSubscriptionsPerSession, DefaultMaxSubscriptionsPerSession)
}
func (l Limits) maxRegistrations() int {
	return orDefault(l.MaxRegistrationsPerSession, DefaultMaxRegistrationsPerSession)
}
func (l Limits) calleeConcurrency() int {
	return orDefault(l.CalleeConcurrency, DefaultCalleeConcurrency)
}
func (l Limits) retainedTopics() int   { return orDefault(l.RetainedTopics, DefaultRetainedTopics) }
func (l Limits) retainedBytes() int64  { return orDefault(l.RetainedBytes, DefaultRetainedBytes) }
func (l Limits) testamentBytes() int64 { return orDefault(l.TestamentBytes, DefaultTestamentBytes) }
func (l Limits) maxQueuedCallBytes() int {
	return orDefault(l.MaxQueuedCallBytes, DefaultMaxQueuedCallBytes)
}

// LimitStats counts the realm's refusals of what a limit or rule forbids; read with Load.
// The broker (pubsub.LimitStats) and dealer (rpc.LimitStats) count their own.
var LimitStats struct {
	URITooLong     atomic.Int64 // requests refused for a URI longer than max_uri_length
	InvalidURI     atomic.Int64 // CALLs refused for a URI that is not valid (e.g. not UTF-8)
	AnonymousKills atomic.Int64 // wamp.session.kill* refused to the anonymous role
	TestamentBytes atomic.Int64 // testaments refused: testament_bytes
	// ClusterUnavailable counts sessions and requests refused because this node was cut off
	// from its cluster (cluster.go).
	ClusterUnavailable atomic.Int64
}

// initLimits wraps the realm's SUBSCRIBE, PUBLISH, REGISTER and CALL handlers (outside the
// authorization checks, which may ask a dynamic authorizer) with the URI checks every codec
// gets: a URI longer than max_uri_length, or a CALL to a URI that is not valid, is refused
// with ERROR wamp.error.invalid_uri (a PUBLISH only when acknowledged, as for every refusal).
func (r *Realm) initLimits() {
	max := r.config.Limits.maxURILength()
	h := &r.handlers
	tooLong := func(s *session.Session, kind string, uri wamp.URI) bool {
		if max == 0 || len(uri) <= max {
			return false
		}
		if n := LimitStats.URITooLong.Add(1); n&(n-1) == 0 { // logged at 1, 2, 4, ...: no log flood
			r.log.Warn("limit: URI too long", "session", s.ID, "authid", s.AuthID, "kind", kind,
				"length", len(uri), "max_uri_length", max, "refused_so_far", n)
		}
		return true
	}
	msg := func(kind string, uri wamp.URI) string {
		return kind + " URI of " + strconv.Itoa(len(uri)) + " bytes is longer than this realm allows (max_uri_length " +
			strconv.Itoa(max) + ")"
	}
	if next, ok := h.Lookup(wamp.TypeSubscribe); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Subscribe) {
			if tooLong(s, "topic", m.Topic) {
				s.SendError(wamp.TypeSubscribe, m.Request, wamp.ErrInvalidURI, msg("topic", m.Topic))
				return
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypePublish); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Publish) {
			if tooLong(s, "topic", m.Topic) {
				if ack, _ := m.Options.Bool("acknowledge"); ack {
					s.SendError(wamp.TypePublish, m.Request, wamp.ErrInvalidURI, msg("topic", m.Topic))
				}
				return
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypeRegister); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Register) {
			if tooLong(s, "procedure", m.Procedure) {
				s.SendError(wamp.TypeRegister, m.Request, wamp.ErrInvalidURI, msg("procedure", m.Procedure))
				return
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypeCall); ok {
		strict := r.config.StrictURIs
		dispatch.On(h, func(s *session.Session, m *wamp.Call) {
			if tooLong(s, "procedure", m.Procedure) {
				s.SendError(wamp.TypeCall, m.Request, wamp.ErrInvalidURI, msg("procedure", m.Procedure))
				return
			}
			if !wamp.ValidURI(m.Procedure, strict, false) {
				LimitStats.InvalidURI.Add(1)
				s.SendError(wamp.TypeCall, m.Request, wamp.ErrInvalidURI, "invalid procedure URI")
				return
			}
			next(s, m)
		})
	}
}
