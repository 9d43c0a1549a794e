package authz

import (
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

func TestOverlaps(t *testing.T) {
	cases := []struct {
		pattern    wamp.URI
		match      string
		rule       wamp.URI
		ruleMatch  string
		overlapped bool
	}{
		{"com.example.", "prefix", "com.example.secret.", "prefix", true},
		{"com.example.open.", "prefix", "com.example.secret.", "prefix", false},
		{"com.", "prefix", "com.example.secret.x", "exact", true},
		{"com.example.secret.x.", "prefix", "com.example.secret.", "prefix", true},
		{"com.example.", "prefix", "com..secret", "wildcard", true},
		{"com.other.", "prefix", "com.example.secret", "wildcard", false},
		{"com..wild", "wildcard", "com.example.secret.", "prefix", false},
		{"com...wild", "wildcard", "com.example.secret.", "prefix", true},
		{"com..x", "wildcard", "com.a.x", "exact", true},
		{"com..x", "wildcard", "com.a.y", "exact", false},
		{"com..x", "wildcard", "com.a.", "wildcard", true},
		{"com.a", "exact", "com.", "prefix", true},
		{"com.a", "exact", "org.", "prefix", false},
	}
	for _, tc := range cases {
		if got := overlaps(tc.pattern, tc.match, tc.rule, tc.ruleMatch); got != tc.overlapped {
			t.Errorf("overlaps(%s %s, %s %s) = %v", tc.pattern, tc.match, tc.rule, tc.ruleMatch, got)
		}
	}
	a := &Authorizer{reserved: []wamp.URI{"com.example.authenticate"}}
	for _, tc := range []struct {
		uri   wamp.URI
		match string
		want  bool
	}{
		{"com.example.authenticate", "exact", true},
		{"com.example.", "prefix", true},
		{"", "prefix", true},
		{"com..authenticate", "wildcard", true},
		{"com.example.authenticate2", "exact", false},
		{"org.", "prefix", false},
		{"com..other", "wildcard", false},
	} {
		if got := a.Reserved(tc.uri, tc.match); got != tc.want {
			t.Errorf("Reserved(%s, %s) = %v", tc.uri, tc.match, got)
		}
	}
}
