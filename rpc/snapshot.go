package rpc

import (
	"cmp"
	"slices"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// RegistrationInfo describes one registration and its callees at one moment: for the
// router's status page.
type RegistrationInfo struct {
	ID        wamp.ID
	Procedure wamp.URI
	Match     string
	Invoke    string
	Created   time.Time
	Callees   []wamp.ID
	Queued    int // calls waiting for a callee with room
}

// Registrations lists the dealer's registrations, by ID.
func (d *Local) Registrations() []RegistrationInfo {
	d.mu.RLock()
	out := make([]RegistrationInfo, 0, len(d.byID))
	for _, reg := range d.byID {
		info := RegistrationInfo{ID: reg.id, Procedure: reg.procedure, Match: reg.match, Invoke: reg.invoke, Created: reg.created}
		reg.mu.Lock()
		for _, c := range reg.callees {
			info.Callees = append(info.Callees, c.session.ID)
		}
		info.Queued = len(reg.queue)
		reg.mu.Unlock()
		out = append(out, info)
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b RegistrationInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
