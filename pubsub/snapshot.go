package pubsub

import (
	"cmp"
	"slices"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// SubscriptionInfo describes one subscription and its subscribers at one moment: for the
// router's status page.
type SubscriptionInfo struct {
	ID          wamp.ID
	Topic       wamp.URI
	Match       string
	Created     time.Time
	Subscribers []wamp.ID
}

// Subscriptions lists the broker's subscriptions, by ID.
func (b *Local) Subscriptions() []SubscriptionInfo {
	b.mu.RLock()
	out := make([]SubscriptionInfo, 0, len(b.byID))
	for _, sub := range b.byID {
		info := SubscriptionInfo{ID: sub.id, Topic: sub.topic, Match: sub.match, Created: sub.created}
		for _, e := range sub.list() {
			info.Subscribers = append(info.Subscribers, e.s.ID)
		}
		out = append(out, info)
	}
	b.mu.RUnlock()
	slices.SortFunc(out, func(a, b SubscriptionInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
