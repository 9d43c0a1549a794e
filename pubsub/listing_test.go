package pubsub

import (
	"fmt"
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

func TestListingFollowsTheSpecsRules(t *testing.T) {
	type peer struct {
		id       wamp.ID
		authid   string
		authrole string
	}
	a := peer{7891255, "alice", "manager"}
	b := peer{1245751, "bob", "staff"}
	c := peer{9912315, "carol", "staff"}
	cases := []struct {
		name string
		opts wamp.Dict
		want []peer
	}{
		{"no options", wamp.Dict{}, []peer{a, b, c}},
		{"exclude", wamp.Dict{"exclude": wamp.List{int64(7891255), int64(1245751)}}, []peer{c}},
		{"eligible", wamp.Dict{"eligible": wamp.List{int64(7891255), int64(1245751)}}, []peer{a, b}},
		{"eligible and exclude (spec example)", wamp.Dict{
			"eligible": wamp.List{int64(7891255), int64(1245751), int64(9912315)},
			"exclude":  wamp.List{int64(7891255)}}, []peer{b, c}},
		{"empty eligible lets nobody through", wamp.Dict{"eligible": wamp.List{}}, nil},
		{"empty exclude excludes nobody", wamp.Dict{"exclude": wamp.List{}}, []peer{a, b, c}},
		{"exclude_authid", wamp.Dict{"exclude_authid": wamp.List{"bob"}}, []peer{a, c}},
		{"eligible_authid", wamp.Dict{"eligible_authid": wamp.List{"bob", "carol"}}, []peer{b, c}},
		{"exclude_authrole", wamp.Dict{"exclude_authrole": wamp.List{"staff"}}, []peer{a}},
		{"eligible_authrole", wamp.Dict{"eligible_authrole": wamp.List{"staff"}}, []peer{b, c}},
		{"eligible_authrole minus exclude_authid", wamp.Dict{
			"eligible_authrole": wamp.List{"staff"}, "exclude_authid": wamp.List{"carol"}}, []peer{b}},
		{"eligible by session and by authid: both must hold", wamp.Dict{
			"eligible": wamp.List{int64(7891255), int64(1245751)}, "eligible_authid": wamp.List{"bob", "carol"}}, []peer{b}},
		{"exclude_authrole beats eligible", wamp.Dict{
			"eligible": wamp.List{int64(7891255)}, "exclude_authrole": wamp.List{"manager"}}, nil},
		// Long lists are checked through sets: the same answers.
		{"long exclude", wamp.Dict{"exclude": longIDs(7891255, 1245751)}, []peer{c}},
		{"long eligible", wamp.Dict{"eligible": longIDs(7891255, 1245751)}, []peer{a, b}},
		{"long eligible_authid", wamp.Dict{"eligible_authid": longNames("bob", "carol")}, []peer{b, c}},
		{"long exclude_authrole", wamp.Dict{"exclude_authrole": longNames("staff")}, []peer{a}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := parseListing(tc.opts)
			var got []peer
			for _, p := range []peer{a, b, c} {
				if l.allowsIdentity(p.id, p.authid, p.authrole) {
					got = append(got, p)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestMatches(t *testing.T) {
	cases := []struct {
		pattern wamp.URI
		match   string
		topic   wamp.URI
		want    bool
	}{
		{"com.myapp.topic", wamp.MatchExact, "com.myapp.topic", true},
		{"com.myapp.topic", wamp.MatchExact, "com.myapp.topic.x", false},
		// The spec's prefix examples.
		{"com.myapp.topic.emergency", wamp.MatchPrefix, "com.myapp.topic.emergency.11", true},
		{"com.myapp.topic.emergency", wamp.MatchPrefix, "com.myapp.topic.emergency-low", true},
		{"com.myapp.topic.emergency", wamp.MatchPrefix, "com.myapp.topic.emergency.category.severe", true},
		{"com.myapp.topic.emergency", wamp.MatchPrefix, "com.myapp.topic.emergency", true},
		{"com.myapp.topic.emergency", wamp.MatchPrefix, "com.myapp.topic.emerge", false},
		// The spec's wildcard examples.
		{"com.myapp..userevent", wamp.MatchWildcard, "com.myapp.foo.userevent", true},
		{"com.myapp..userevent", wamp.MatchWildcard, "com.myapp.a12.userevent", true},
		{"com.myapp..userevent", wamp.MatchWildcard, "com.myapp.foo.userevent.bar", false},
		{"com.myapp..userevent", wamp.MatchWildcard, "com.myapp.foo.user", false},
		{"com.myapp..userevent", wamp.MatchWildcard, "com.myapp2.foo.userevent", false},
		{"..", wamp.MatchWildcard, "a.b.c", true},
		{"..", wamp.MatchWildcard, "a.b", false},
	}
	for _, tc := range cases {
		if got := Matches(tc.pattern, tc.match, tc.topic); got != tc.want {
			t.Errorf("Matches(%q, %s, %q) = %v, want %v", tc.pattern, tc.match, tc.topic, got, tc.want)
		}
	}
}

// longIDs is a list of the given session IDs among many others.
func longIDs(ids ...int64) wamp.List {
	l := wamp.List{}
	for i := range 1000 {
		l = append(l, int64(100+i))
	}
	for _, id := range ids {
		l = append(l, id)
	}
	return l
}

func longNames(names ...string) wamp.List {
	l := wamp.List{}
	for i := range 1000 {
		l = append(l, fmt.Sprintf("someone-%d", i))
	}
	for _, n := range names {
		l = append(l, n)
	}
	return l
}

// A long list is checked through a set, in constant time per recipient and without
// allocating: a publisher cannot make a fan-out cost list length times subscribers.
func TestLongListingsUseSets(t *testing.T) {
	l := parseListing(wamp.Dict{"exclude": longIDs(), "eligible_authid": longNames("bob")})
	if l.excludeSet == nil || l.eligibleAuthIDSet == nil {
		t.Fatal("long lists have no sets")
	}
	if allocs := testing.AllocsPerRun(100, func() { l.allowsIdentity(42, "bob", "staff") }); allocs != 0 {
		t.Errorf("%v allocations per check", allocs)
	}
}
