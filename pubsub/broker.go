// Package pubsub is the broker: it indexes subscriptions and routes each publication to its
// subscribers. It never touches a socket and never blocks on a peer: recipients' outbound
// queues are bounded and a full one cuts that peer off, not the publisher.
package pubsub

import (
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Broker routes publications to subscribers. Its realm is its only owner; a cluster-aware
// implementation can stand behind the same interface.
type Broker interface {
	Subscribe(s *session.Session, m *wamp.Subscribe)
	Unsubscribe(s *session.Session, m *wamp.Unsubscribe)
	Publish(s *session.Session, m *wamp.Publish)
	// Leave drops every subscription of a session that ended.
	Leave(s *session.Session)
	// Features is announced in WELCOME under roles.broker.features.
	Features() wamp.Dict
}
