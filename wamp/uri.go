package wamp

// Match policies for pattern-based subscriptions and registrations.
const (
	MatchExact    = "exact"
	MatchPrefix   = "prefix"
	MatchWildcard = "wildcard"
)

// ValidURI checks a URI against the spec's rules. Loose URIs forbid whitespace, '#' and empty
// components; strict URIs allow only [0-9a-z_] components. With allowEmpty, components may be
// empty (wildcard patterns such as "com..update"), and a prefix may end in '.'.
func ValidURI(u URI, strict, allowEmpty bool) bool {
	if len(u) == 0 {
		return allowEmpty
	}
	compLen := 0
	for i := 0; i < len(u); i++ {
		c := u[i]
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
