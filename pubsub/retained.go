package pubsub

import (
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// retainedEvent is the last publication to a topic that asked to be retained (PUBLISH
// option retain), kept in memory for subscribers that ask for it (SUBSCRIBE option
// get_retained). It is immutable once stored: its payload is decoded, so that encoding it for
// any codec reads it only.
type retainedEvent struct {
	topic       wamp.URI
	publication wamp.ID
	details     wamp.Dict
	payload     wamp.Payload
	listing     listing
	publisher   wamp.ID // 0: the router
	excludeMe   bool
}

// eligible reports whether s would have received the event had it been subscribed when it
// was published: the spec forbids handing it out otherwise.
func (r *retainedEvent) eligible(s *session.Session) bool {
	if r.excludeMe && r.publisher != 0 && r.publisher == s.ID {
		return false
	}
	return r.listing.allows(s)
}

// sendRetained sends s the retained events of the topics sub matches, with
// details.retained = true (and details.topic for a pattern subscription).
func (b *Local) sendRetained(s *session.Session, sub *subscription) {
	send := func(r *retainedEvent) {
		if !r.eligible(s) {
			return
		}
		details := make(wamp.Dict, len(r.details)+2)
		for k, v := range r.details {
			details[k] = v
		}
		details["retained"] = true
		if sub.match != wamp.MatchExact {
			details["topic"] = string(r.topic)
		}
		s.Send(&wamp.Event{Subscription: sub.id, Publication: r.publication, Details: details, Payload: r.payload})
	}
	if sub.match == wamp.MatchExact {
		if v, ok := b.retained.Load(sub.topic); ok {
			send(v.(*retainedEvent))
		}
		return
	}
	// A pattern subscription asks for every topic it matches: a walk over the retained
	// topics, once per such subscribe.
	b.retained.Range(func(_, v any) bool {
		r := v.(*retainedEvent)
		if Matches(sub.topic, sub.match, r.topic) {
			send(r)
		}
		return true
	})
}

// Retained returns the retained event of a topic (for tests and tools): its publication ID,
// details and payload.
func (b *Local) Retained(topic wamp.URI) (wamp.ID, wamp.Dict, wamp.Payload, bool) {
	v, ok := b.retained.Load(topic)
	if !ok {
		return 0, nil, wamp.Payload{}, false
	}
	r := v.(*retainedEvent)
	return r.publication, r.details, r.payload, true
}
