// Package pubsub is the broker: it indexes subscriptions and routes each publication to its
// subscribers. It never touches a socket and never blocks on a peer: recipients' outbound
// queues are bounded and a full one cuts that peer off, not the publisher.
//
// Beyond plain publish and subscribe it implements the spec's advanced broker features:
// pattern-based subscriptions, subscriber black- and whitelisting, publisher exclusion and
// identification, event retention, event history (kept in a HistoryStore), payload passthru
// mode and the subscription meta API.
package pubsub

import (
	"log/slog"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Broker routes publications to subscribers. Its realm is its only owner; a cluster-aware
// implementation can stand behind the same interface.
type Broker interface {
	Subscribe(s *session.Session, m *wamp.Subscribe)
	Unsubscribe(s *session.Session, m *wamp.Unsubscribe)
	// Publish routes a publication, from any goroutine. A nil s is the router itself (meta
	// events, testaments of sessions that are gone).
	Publish(s *session.Session, m *wamp.Publish)
	// HandlePublish is Publish as the PUBLISH handler: it runs on s's reader goroutine, so
	// events may be sent via s (Session.SendFrame) and wait until that reader has handled
	// what it read, and a burst reaches each subscriber in one write.
	HandlePublish(s *session.Session, m *wamp.Publish)
	// Leave drops every subscription of a session that ended.
	Leave(s *session.Session)
	// Features is announced in WELCOME under roles.broker.features.
	Features() wamp.Dict
	// MetaProcedures are the subscription meta API (and event history) procedures, served
	// by the realm.
	MetaProcedures() map[wamp.URI]session.LocalProcedure
	// Close writes what the broker still holds for its history store and releases its
	// resources when its realm shuts down. It does not close the store, which its opener owns.
	Close()
}

// Options configure the in-process broker.
type Options struct {
	// Realm names the realm in logs and in the history store's keys.
	Realm wamp.URI
	// StrictURIs makes topics follow the strict URI rules ([0-9a-z_] components).
	StrictURIs bool
	// History says which topics keep an event history, and how much of it.
	History HistoryConfig
	// HistoryStore keeps the history. Without one, History is ignored (and logged).
	HistoryStore HistoryStore
	// PublishMeta publishes a meta event (wamp.subscription.on_create, ...). Optional.
	PublishMeta func(topic wamp.URI, args wamp.List, kwargs wamp.Dict)
	// Traffic, when set, counts the EVENTs the broker fans out (the realm's message counters).
	Traffic *session.Traffic
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// MaxSubscriptionsPerSession bounds the subscriptions one session holds (0: no limit);
	// past it SUBSCRIBE fails with wamp.error.not_authorized.
	MaxSubscriptionsPerSession int
	// RetainedTopics and RetainedBytes bound the retained events (0: no limit): the topics
	// holding one, and the bytes of their payloads. A retained publication past either is
	// refused (wamp.error.not_authorized to an acknowledged publisher).
	RetainedTopics int
	RetainedBytes  int64

	// Bus, in a cluster, carries publications to and from the other nodes (see Bus); nil on
	// a single node.
	Bus Bus
	// SubscriptionID, when set, names a new subscription: in a cluster it derives the ID
	// from the pattern, so that every node gives one pattern the same ID. Default: 1, 2, 3...
	SubscriptionID func(pattern wamp.URI, match string) wamp.ID
}

// LimitStats counts the broker's refusals; read with Load.
var LimitStats struct {
	SubscriptionLimit atomic.Int64 // SUBSCRIBEs refused: max_subscriptions_per_session
	RetainedRefused   atomic.Int64 // retained publications refused: retained_topics or retained_bytes
	ReservedTopic     atomic.Int64 // PUBLISHes refused under wamp. or pawl.
	HistoryNotKept    atomic.Int64 // acknowledged publications answered with an error: the history did not keep them
}
