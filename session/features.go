package session

import (
	"slices"
	"strings"
	"sync"

	"github.com/pawl-wamp/pawl/wamp"
)

// features are the roles and features a peer announced in HELLO. Peers of one client library
// announce the same set, so sets are interned: each session points at a shared copy instead
// of keeping its own HELLO roles tree (a large part of an idle session's memory).
type features struct {
	roles map[string]map[string]bool // role → features announced true
}

var internedFeatures sync.Map // canonical string → *features

// featuresOf interns the roles dict of a HELLO.
func featuresOf(roles wamp.Dict) *features {
	var parts []string
	for role, v := range roles {
		parts = append(parts, role)
		d, _ := v.(wamp.Dict)
		fs, _ := d.Dict("features")
		for name, on := range fs {
			if b, _ := on.(bool); b {
				parts = append(parts, role+"."+name)
			}
		}
	}
	slices.Sort(parts)
	key := strings.Join(parts, ",")
	if f, ok := internedFeatures.Load(key); ok {
		return f.(*features)
	}
	f := &features{roles: make(map[string]map[string]bool, len(roles))}
	for role, v := range roles {
		f.roles[role] = map[string]bool{}
		d, _ := v.(wamp.Dict)
		fs, _ := d.Dict("features")
		for name, on := range fs {
			if b, _ := on.(bool); b {
				f.roles[role][name] = true
			}
		}
	}
	actual, _ := internedFeatures.LoadOrStore(key, f)
	return actual.(*features)
}

// setHelloDetails keeps HELLO's details for the session, with the roles tree replaced by the
// interned feature set.
func (s *Session) setHelloDetails(details wamp.Dict) {
	roles, _ := details.Dict("roles")
	s.features = featuresOf(roles)
	delete(details, "roles")
	if len(details) == 0 {
		details = nil // most HELLOs carry nothing else: an empty map would stay with the session
	}
	s.Details = details
}
