// Package rpc is the dealer: it indexes registrations and routes each call to a callee and the
// callee's answer back to the caller. It never blocks on a peer and keeps no goroutine or
// timer per call.
package rpc

import (
	"log/slog"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Dealer routes calls to callees. Its realm is its only owner; a cluster-aware implementation
// can stand behind the same interface.
type Dealer interface {
	Register(s *session.Session, m *wamp.Register)
	Unregister(s *session.Session, m *wamp.Unregister)
	Call(s *session.Session, m *wamp.Call)
	Cancel(s *session.Session, m *wamp.Cancel)
	Yield(s *session.Session, m *wamp.Yield)
	// Error handles an ERROR a callee sent for an INVOCATION.
	Error(s *session.Session, m *wamp.Error)
	// Leave drops a session's registrations and fails or interrupts its pending calls.
	Leave(s *session.Session)
	// Features is announced in WELCOME under roles.dealer.features.
	Features() wamp.Dict
	// MetaProcedures are the registration meta API procedures, served by the realm.
	MetaProcedures() map[wamp.URI]session.LocalProcedure
	// Close releases the dealer's resources when its realm shuts down.
	Close()
}

// Options configure the in-process dealer.
type Options struct {
	// StrictURIs makes procedures follow the strict URI rules.
	StrictURIs bool
	// CallQueueLimit bounds the calls waiting for a callee that is at its concurrency limit,
	// per registration (default 1024). Past it, calls fail with wamp.error.unavailable.
	CallQueueLimit int
	// MaxRegistrationsPerSession bounds the registrations one session holds (0: no limit);
	// past it REGISTER fails with wamp.error.not_authorized.
	MaxRegistrationsPerSession int
	// MaxInvocationsPerCallee is the most invocations one callee session runs at once, on all
	// its registrations together (0: no limit). Further calls wait in their registration's call
	// queue, so a caller's flood never fills the callee's outbound queue.
	MaxInvocationsPerCallee int
	// MaxQueuedCallBytes bounds the payload bytes of one caller's calls waiting in call queues
	// (0: no limit; one call always fits); past it calls fail with wamp.error.unavailable.
	MaxQueuedCallBytes int
	// PublishMeta publishes a meta event (wamp.registration.on_create, ...). Optional.
	PublishMeta func(topic wamp.URI, args wamp.List, kwargs wamp.Dict)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Directory, when set, makes registrations cluster-wide (rpc/clustered): the dealer asks
	// it before adding a callee and tells it when one goes. Nil (the default) keeps
	// registrations to this process, at no cost.
	Directory Directory
}

// Directory is a cluster-wide record of registrations. Join and Leave run on the session's
// own goroutine, outside the dealer's locks, and may wait for the network.
type Directory interface {
	// Join records s as a callee of procedure (match, invoke) or refuses with a
	// *wamp.ApplicationError
	// (wamp.error.procedure_already_exists when the procedure is registered anywhere with
	// another policy, or with single). It returns the registration's cluster-wide ID and
	// whether this join created the registration.
	Join(s *session.Session, procedure wamp.URI, match, invoke string) (id wamp.ID, created bool, err error)
	// Leave removes s from the registration; it reports whether that deleted it.
	Leave(s *session.Session, id wamp.ID, procedure wamp.URI, match string) (deleted bool)
}

// LimitStats counts the dealer's refusals; read with Load.
var LimitStats struct {
	CallQueueFull     atomic.Int64 // calls refused with wamp.error.unavailable: every callee busy, queue full
	CallsQueued       atomic.Int64 // calls that waited for a callee at its concurrency limit
	QueuedCallBytes   atomic.Int64 // calls refused with wamp.error.unavailable: the caller's max_queued_call_bytes
	StreamTooFast     atomic.Int64 // progressive calls ended: input streamed faster than the callee reads
	RegistrationLimit atomic.Int64 // REGISTERs refused: max_registrations_per_session
	ReservedNamespace atomic.Int64 // REGISTERs refused under wamp. or pawl.
}

// Features this dealer announces.
var features = wamp.Dict{
	"progressive_call_results":     true,
	"progressive_call_invocations": true,
	"call_timeout":                 true,
	"call_canceling":               true,
	"caller_identification":        true,
	"pattern_based_registration":   true,
	"shared_registration":          true,
	"registration_meta_api":        true,
}
