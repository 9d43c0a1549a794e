package admin

import (
	_ "embed"
	"net/http"
	"time"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/wamp"
)

// Status is /status.json: a snapshot of what the router serves.
type Status struct {
	Time   time.Time     `json:"time"`
	Realms []RealmStatus `json:"realms"`
	// Cluster: the cluster's nodes, when this router is a node of one.
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// MaxListed bounds the sessions, subscriptions and registrations Status lists per realm (the
// first by ID), so that the page of a router with a hundred thousand sessions stays small; the
// counts are always complete.
const MaxListed = 1000

// RealmStatus is one realm's part of Status.
type RealmStatus struct {
	Name wamp.URI `json:"name"`
	// The realm's sessions, subscriptions and registrations: how many, and the first
	// MaxListed of each.
	SessionCount      int                  `json:"session_count"`
	SubscriptionCount int                  `json:"subscription_count"`
	RegistrationCount int                  `json:"registration_count"`
	Sessions          []SessionStatus      `json:"sessions"`
	Subscriptions     []SubscriptionStatus `json:"subscriptions"`
	Registrations     []RegistrationStatus `json:"registrations"`
	// SlowConsumers are the latest sessions cut off for being too slow, newest first
	// (at most realm.RecentCutoffs).
	SlowConsumers []CutoffStatus `json:"slow_consumers"`
}

// SessionStatus is one session.
type SessionStatus struct {
	ID             wamp.ID `json:"id"`
	AuthID         string  `json:"authid"`
	AuthRole       string  `json:"authrole"`
	AuthMethod     string  `json:"authmethod"`
	Transport      string  `json:"transport"`
	Serializer     string  `json:"serializer"`
	Remote         string  `json:"remote"`
	QueuedMessages int     `json:"queued_messages"`
	QueuedBytes    int     `json:"queued_bytes"`
}

// SubscriptionStatus is one subscription with its subscribers' session IDs.
type SubscriptionStatus struct {
	ID          wamp.ID   `json:"id"`
	Topic       wamp.URI  `json:"topic"`
	Match       string    `json:"match"`
	Created     time.Time `json:"created"`
	Subscribers []wamp.ID `json:"subscribers"`
}

// RegistrationStatus is one registration with its callees' session IDs.
type RegistrationStatus struct {
	ID          wamp.ID   `json:"id"`
	Procedure   wamp.URI  `json:"procedure"`
	Match       string    `json:"match"`
	Invoke      string    `json:"invoke"`
	Created     time.Time `json:"created"`
	Callees     []wamp.ID `json:"callees"`
	QueuedCalls int       `json:"queued_calls"`
}

// CutoffStatus is one slow-consumer cut-off.
type CutoffStatus struct {
	Time       time.Time `json:"time"`
	Session    wamp.ID   `json:"session"`
	AuthID     string    `json:"authid"`
	AuthRole   string    `json:"authrole"`
	Remote     string    `json:"remote"`
	Serializer string    `json:"serializer"`
}

// Snapshot describes what the router serves now.
func Snapshot(rt *realm.Router) Status {
	st := Status{Time: time.Now().UTC(), Realms: []RealmStatus{}}
	for _, r := range rt.Realms() {
		rs := RealmStatus{Name: r.Name(), Sessions: []SessionStatus{}, Subscriptions: []SubscriptionStatus{},
			Registrations: []RegistrationStatus{}, SlowConsumers: []CutoffStatus{}}
		sessions := r.Sessions()
		rs.SessionCount = len(sessions)
		for _, s := range sessions[:min(len(sessions), MaxListed)] {
			ss := SessionStatus{ID: s.ID, AuthID: s.AuthID, AuthRole: s.AuthRole, AuthMethod: s.AuthMethod,
				Transport: Transport(s), Serializer: serializer(s)}
			if addr := s.RemoteAddr(); addr != nil {
				ss.Remote = addr.String()
			}
			ss.QueuedMessages, ss.QueuedBytes = QueueDepth(s)
			rs.Sessions = append(rs.Sessions, ss)
		}
		if b, ok := r.Broker().(interface {
			Subscriptions() []pubsub.SubscriptionInfo
		}); ok {
			subs := b.Subscriptions()
			rs.SubscriptionCount = len(subs)
			for _, sub := range subs[:min(len(subs), MaxListed)] {
				rs.Subscriptions = append(rs.Subscriptions, SubscriptionStatus{ID: sub.ID, Topic: sub.Topic,
					Match: sub.Match, Created: sub.Created.UTC(), Subscribers: nonNil(sub.Subscribers)})
			}
		}
		if d, ok := r.Dealer().(interface {
			Registrations() []rpc.RegistrationInfo
		}); ok {
			regs := d.Registrations()
			rs.RegistrationCount = len(regs)
			for _, reg := range regs[:min(len(regs), MaxListed)] {
				rs.Registrations = append(rs.Registrations, RegistrationStatus{ID: reg.ID, Procedure: reg.Procedure,
					Match: reg.Match, Invoke: reg.Invoke, Created: reg.Created.UTC(), Callees: nonNil(reg.Callees),
					QueuedCalls: reg.Queued})
			}
		}
		for _, c := range r.RecentSlowConsumers() {
			rs.SlowConsumers = append(rs.SlowConsumers, CutoffStatus{Time: c.Time.UTC(), Session: c.Session,
				AuthID: c.AuthID, AuthRole: c.AuthRole, Remote: c.Remote, Serializer: c.Serializer})
		}
		st.Realms = append(st.Realms, rs)
	}
	return st
}

func nonNil(ids []wamp.ID) []wamp.ID {
	if ids == nil {
		return []wamp.ID{}
	}
	return ids
}

func statusJSON(rt *realm.Router, c Cluster) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		st := Snapshot(rt)
		if c != nil {
			cs := c.ClusterStatus()
			st.Cluster = &cs
		}
		writeJSON(w, http.StatusOK, st)
	}
}

//go:embed status.html
var statusHTML []byte

// statusPage is the HTML page; it renders /status.json itself and refreshes it.
func statusPage(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The page shows peer-chosen strings (authids, URIs): it inserts them as text only, and
	// this policy forbids anything but its own inline script and style and same-origin fetches.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	w.Write(statusHTML)
}
