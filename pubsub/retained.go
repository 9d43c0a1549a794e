package pubsub

import (
	"bytes"
	"fmt"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// retainedEvent is the last publication to a topic that asked to be retained (PUBLISH
// option retain), kept in memory for subscribers that ask for it (SUBSCRIBE option
// get_retained). It is immutable once stored. Its payload is kept as the publisher's codec
// encoded it (a copy of those bytes, the size counted against the realm's retained_bytes):
// a decoded payload would cost several times the bytes sent. A subscriber of another codec
// has its own copy of the Payload value decoded when its EVENT is encoded.
type retainedEvent struct {
	topic       wamp.URI
	publication wamp.ID
	details     wamp.Dict
	payload     wamp.Payload // raw
	size        int64        // bytes counted against the bound
	listing     listing
	publisher   wamp.ID // 0: the router
	excludeMe   bool
}

// retainedOverhead is what one retained event costs beyond its payload and topic bytes,
// roughly: the map entry, the struct and its details.
const retainedOverhead = 256

// newRetained builds the retained event of a publication, copying its raw payload.
func newRetained(m *wamp.Publish, p *publication, pubID wamp.ID, s *session.Session) (*retainedEvent, error) {
	payload, err := rawCopy(m.Payload)
	if err != nil {
		return nil, err
	}
	return &retainedEvent{publication: pubID, topic: m.Topic, details: p.details, payload: payload,
		size:    int64(payload.Size()+len(m.Topic)) + retainedOverhead,
		listing: p.listing, publisher: publisherID(s), excludeMe: p.excludeMe}, nil
}

// rawCopy returns the payload in raw form, in bytes of its own: a payload read off the wire
// keeps its codec's bytes, one built in process (a testament) is encoded with MessagePack.
func rawCopy(p wamp.Payload) (wamp.Payload, error) {
	if p.Raw.Codec != nil {
		return wamp.Payload{Raw: wamp.RawPayload{Codec: p.Raw.Codec,
			Args: bytes.Clone(p.Raw.Args), Kwargs: bytes.Clone(p.Raw.Kwargs)}}, nil
	}
	enc := wamp.MsgPack.(wamp.ValueEncoder)
	raw := wamp.RawPayload{Codec: wamp.MsgPack}
	var err error
	switch {
	case p.Opaque != nil:
		raw.Args, err = enc.EncodeValue(nil, p.Opaque)
	case p.Args != nil || p.Kwargs != nil:
		args := p.Args
		if args == nil {
			args = wamp.List{}
		}
		raw.Args, err = enc.EncodeValue(nil, args)
	}
	if err == nil && p.Kwargs != nil {
		raw.Kwargs, err = enc.EncodeValue(nil, p.Kwargs)
	}
	if err != nil {
		return wamp.Payload{}, fmt.Errorf("retained payload: %w", err)
	}
	return wamp.Payload{Raw: raw}, nil
}

// storeRetained makes r its topic's retained event, unless the realm's bounds on retained
// topics and bytes would be exceeded: then it is refused (counted, logged) with
// wamp.error.not_authorized.
func (b *Local) storeRetained(r *retainedEvent, s *session.Session) error {
	b.retainMu.Lock()
	defer b.retainMu.Unlock()
	var oldSize int64
	old, had := b.retained.Load(r.topic)
	if had {
		oldSize = old.(*retainedEvent).size
	}
	maxTopics, maxBytes := int64(b.opts.RetainedTopics), b.opts.RetainedBytes
	full := ""
	switch {
	case !had && maxTopics > 0 && b.retainedCount >= maxTopics:
		full = fmt.Sprintf("the realm retains events for at most %d topics (retained_topics)", maxTopics)
	case maxBytes > 0 && b.retainedSize-oldSize+r.size > maxBytes:
		full = fmt.Sprintf("the realm retains at most %d bytes of events (retained_bytes)", maxBytes)
	}
	if full != "" {
		n := LimitStats.RetainedRefused.Add(1)
		if n&(n-1) == 0 { // 1, 2, 4, ...: a flood does not flood the log
			b.log.Warn("limit: retained publication refused", "topic", r.topic, "publisher", r.publisher,
				"retained_topics", b.retainedCount, "retained_bytes", b.retainedSize, "refused_so_far", n)
		}
		return wamp.NewError(wamp.ErrNotAuthorized, "event not retained: "+full)
	}
	b.retained.Store(r.topic, r)
	if !had {
		b.retainedCount++
	}
	b.retainedSize += r.size - oldSize
	return nil
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
		// The Payload value is copied: decoding it for another codec changes only the copy.
		s.Send(&wamp.Event{Subscription: sub.id, Publication: r.publication, Details: details, Payload: r.payload})
	}
	if sub.match == wamp.MatchExact {
		if v, ok := b.retained.Load(sub.topic); ok {
			send(v.(*retainedEvent))
		}
		return
	}
	// A pattern subscription asks for every topic it matches: a walk over the retained
	// topics (at most retained_topics), once per such subscribe.
	b.retained.Range(func(_, v any) bool {
		r := v.(*retainedEvent)
		if Matches(sub.topic, sub.match, r.topic) {
			send(r)
		}
		return true
	})
}

// Retained returns the retained event of a topic (for tests and tools): its publication ID,
// details and payload (raw: Values decodes it).
func (b *Local) Retained(topic wamp.URI) (wamp.ID, wamp.Dict, wamp.Payload, bool) {
	v, ok := b.retained.Load(topic)
	if !ok {
		return 0, nil, wamp.Payload{}, false
	}
	r := v.(*retainedEvent)
	return r.publication, r.details, r.payload, true
}

// RetainedUsage reports the retained topics and the bytes counted for them.
func (b *Local) RetainedUsage() (topics int, size int64) {
	b.retainMu.Lock()
	defer b.retainMu.Unlock()
	return int(b.retainedCount), b.retainedSize
}
