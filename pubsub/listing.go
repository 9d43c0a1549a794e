package pubsub

import (
	"slices"
	"strings"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// listing is a publication's subscriber black- and whitelisting (PUBLISH.Options exclude,
// exclude_authid, exclude_authrole, eligible, eligible_authid, eligible_authrole). A nil
// list is an absent option; an empty non-nil list is present and empty, so an empty eligible
// list lets nobody through, as the spec's rules say.
type listing struct {
	eligible, exclude                 []wamp.ID
	eligibleAuthID, excludeAuthID     []string
	eligibleAuthRole, excludeAuthRole []string

	// sets of the long lists, so that checking every recipient against a list of n entries
	// costs O(1) each, not O(n): a publication may carry lists as long as a message allows.
	eligibleSet, excludeSet                 map[wamp.ID]struct{}
	eligibleAuthIDSet, excludeAuthIDSet     map[string]struct{}
	eligibleAuthRoleSet, excludeAuthRoleSet map[string]struct{}
}

// longListing is the list length above which a listing checks recipients against a set.
const longListing = 16

func setOf[T comparable](list []T) map[T]struct{} {
	if len(list) <= longListing {
		return nil
	}
	m := make(map[T]struct{}, len(list))
	for _, v := range list {
		m[v] = struct{}{}
	}
	return m
}

// in reports whether v is in list, through its set when it has one.
func in[T comparable](list []T, set map[T]struct{}, v T) bool {
	if set != nil {
		_, ok := set[v]
		return ok
	}
	return slices.Contains(list, v)
}

// parseListing reads the six options. Their types were checked by wamp.Validate.
func parseListing(opts wamp.Dict) listing {
	l := listing{
		eligible:         idList(opts["eligible"]),
		exclude:          idList(opts["exclude"]),
		eligibleAuthID:   stringList(opts["eligible_authid"]),
		excludeAuthID:    stringList(opts["exclude_authid"]),
		eligibleAuthRole: stringList(opts["eligible_authrole"]),
		excludeAuthRole:  stringList(opts["exclude_authrole"]),
	}
	l.eligibleSet, l.excludeSet = setOf(l.eligible), setOf(l.exclude)
	l.eligibleAuthIDSet, l.excludeAuthIDSet = setOf(l.eligibleAuthID), setOf(l.excludeAuthID)
	l.eligibleAuthRoleSet, l.excludeAuthRoleSet = setOf(l.eligibleAuthRole), setOf(l.excludeAuthRole)
	return l
}

// bySession reports whether the listing names sessions, which only exist while the router
// runs: such publications are kept neither in the history nor for later subscribers' sakes.
func (l *listing) bySession() bool { return l.eligible != nil || l.exclude != nil }

// allows applies the spec's six rules: a subscriber receives the event if and only if it is
// in every eligible list present and in no exclude list present.
func (l *listing) allows(s *session.Session) bool {
	return l.allowsIdentity(s.ID, s.AuthID, s.AuthRole)
}

func (l *listing) allowsIdentity(id wamp.ID, authid, authrole string) bool {
	if l.eligible != nil && !in(l.eligible, l.eligibleSet, id) {
		return false
	}
	if l.eligibleAuthID != nil && !in(l.eligibleAuthID, l.eligibleAuthIDSet, authid) {
		return false
	}
	if l.eligibleAuthRole != nil && !in(l.eligibleAuthRole, l.eligibleAuthRoleSet, authrole) {
		return false
	}
	if l.exclude != nil && in(l.exclude, l.excludeSet, id) {
		return false
	}
	if l.excludeAuthID != nil && in(l.excludeAuthID, l.excludeAuthIDSet, authid) {
		return false
	}
	if l.excludeAuthRole != nil && in(l.excludeAuthRole, l.excludeAuthRoleSet, authrole) {
		return false
	}
	return true
}

func idList(v any) []wamp.ID {
	var items []any
	switch x := v.(type) {
	case wamp.List:
		items = x
	case []any:
		items = x
	case []wamp.ID:
		return slices.Clone(x)
	default:
		return nil
	}
	out := make([]wamp.ID, 0, len(items))
	for _, it := range items {
		if id, ok := wamp.AsID(it); ok {
			out = append(out, id)
		}
	}
	return out
}

func stringList(v any) []string {
	var items []any
	switch x := v.(type) {
	case wamp.List:
		items = x
	case []any:
		items = x
	case []string:
		return slices.Clone(x)
	default:
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Matches reports whether topic matches a subscription pattern under a match policy: exact,
// prefix (a plain string prefix, as the spec's example "emergency-low" shows) or wildcard
// (empty components match any one component; the component counts must be equal).
func Matches(pattern wamp.URI, match string, topic wamp.URI) bool {
	switch match {
	case wamp.MatchPrefix:
		return strings.HasPrefix(string(topic), string(pattern))
	case wamp.MatchWildcard:
		p, t := string(pattern), string(topic)
		for {
			pi, ti := strings.IndexByte(p, '.'), strings.IndexByte(t, '.')
			if (pi < 0) != (ti < 0) {
				return false
			}
			pc, tc := p, t
			if pi >= 0 {
				pc, tc = p[:pi], t[:ti]
			}
			if pc != "" && pc != tc {
				return false
			}
			if pi < 0 {
				return true
			}
			p, t = p[pi+1:], t[ti+1:]
		}
	default:
		return pattern == topic
	}
}
