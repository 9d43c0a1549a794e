package wamp

import "unicode/utf8"

// Match policies for pattern-based subscriptions and registrations.
const (
	MatchExact    = "exact"
	MatchPrefix   = "prefix"
	MatchWildcard = "wildcard"
)

// ValidURI checks a URI against the spec's rules. Loose URIs forbid whitespace, '#' and empty
// components; strict URIs allow only [0-9a-z_] components. With allowEmpty, components may be
// empty (wildcard patterns such as "com..update"), and a prefix may end in '.'.
// A URI must be UTF-8: MessagePack and CBOR strings may carry any bytes, and distinct invalid
// byte sequences would all reach JSON peers as U+FFFD, so that distinct topics looked alike.
func ValidURI(u URI, strict, allowEmpty bool) bool {
	if len(u) == 0 {
		return allowEmpty
	}
	compLen, checkedUTF8 := 0, false
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c >= utf8.RuneSelf && !checkedUTF8 {
			// The first non-ASCII byte: the rest must be valid UTF-8 (checked once).
			if !utf8.ValidString(string(u[i:])) {
				return false
			}
			checkedUTF8 = true
		}
		if c == '.' {
			if compLen == 0 && !allowEmpty {
				return false
			}
			compLen = 0
			continue
		}
		if strict {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '_') {
				return false
			}
		} else if c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			return false
		}
		compLen++
	}
	return compLen > 0 || allowEmpty
}

// ValidPattern checks a topic or procedure URI given its match policy.
func ValidPattern(u URI, match string, strict bool) bool {
	switch match {
	case "", MatchExact:
		return ValidURI(u, strict, false)
	case MatchPrefix, MatchWildcard:
		return ValidURI(u, strict, true)
	}
	return false
}

// ReservedPrefixes are the namespaces only the router may publish or register in: the
// spec's "wamp." (meta API) and Pawl's own "pawl." (pawl.topic.get_events, close reasons).
var ReservedPrefixes = [...]string{"wamp.", "pawl."}

// Reserved reports whether a topic or procedure pattern, with its match policy, could match a
// URI in a reserved namespace: an exact URI in one, a prefix that is or extends one's start
// ("", "wamp", "pawl.topic."), or a wildcard whose first component is empty or the namespace.
func Reserved(u URI, match string) bool {
	s := string(u)
	for _, ns := range ReservedPrefixes {
		if len(s) >= len(ns) && s[:len(ns)] == ns {
			return true
		}
		switch match {
		case MatchPrefix:
			if len(s) < len(ns) && ns[:len(s)] == s {
				return true
			}
		case MatchWildcard:
			first := s
			for i := 0; i < len(s); i++ {
				if s[i] == '.' {
					first = s[:i]
					break
				}
			}
			if first == "" || first == ns[:len(ns)-1] {
				return true
			}
		}
	}
	return false
}
