package authz

import (
	"strings"

	"github.com/pawl-wamp/pawl/wamp"
)

func hasPrefix(uri, prefix wamp.URI) bool { return strings.HasPrefix(string(uri), string(prefix)) }

// overlaps reports whether some URI could match both the pattern and the rule's pattern.
func overlaps(pattern wamp.URI, match string, rule wamp.URI, ruleMatch string) bool {
	if ruleMatch == "" {
		ruleMatch = wamp.MatchExact
	}
	p, r := string(pattern), string(rule)
	switch {
	case match == wamp.MatchPrefix && ruleMatch == wamp.MatchPrefix:
		return strings.HasPrefix(r, p) || strings.HasPrefix(p, r)
	case match == wamp.MatchPrefix && ruleMatch == wamp.MatchExact:
		return strings.HasPrefix(r, p)
	case match == wamp.MatchPrefix: // a wildcard rule
		return prefixMeetsWildcard(p, r)
	case match == wamp.MatchExact && ruleMatch == wamp.MatchPrefix:
		return strings.HasPrefix(p, r)
	case ruleMatch == wamp.MatchPrefix: // a wildcard pattern
		return prefixMeetsWildcard(r, p)
	}
	// Exact or wildcard against exact or wildcard: component by component.
	pc, rc := strings.Split(p, "."), strings.Split(r, ".")
	if len(pc) != len(rc) {
		return false
	}
	for i := range pc {
		if pc[i] != "" && rc[i] != "" && pc[i] != rc[i] {
			return false
		}
	}
	return true
}

// prefixMeetsWildcard reports whether some URI starts with prefix and matches the wildcard
// pattern (whose empty components match any one component).
func prefixMeetsWildcard(prefix, wildcard string) bool {
	pc, wc := strings.Split(prefix, "."), strings.Split(wildcard, ".")
	if len(pc) > len(wc) {
		return false
	}
	last := len(pc) - 1
	for i := 0; i < last; i++ {
		if wc[i] != "" && wc[i] != pc[i] {
			return false
		}
	}
	// The prefix's last component may be cut short.
	return wc[last] == "" || strings.HasPrefix(wc[last], pc[last])
}
