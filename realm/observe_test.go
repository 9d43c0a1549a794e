package realm

import (
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

// The status page's list of slow-consumer cut-offs holds the latest RecentCutoffs, newest
// first, however many there were.
func TestCutoffRingKeepsTheLatest(t *testing.T) {
	var r cutoffRing
	if got := r.latest(); len(got) != 0 {
		t.Fatalf("empty ring lists %v", got)
	}
	r.push(Cutoff{Session: 1})
	r.push(Cutoff{Session: 2})
	if got := r.latest(); len(got) != 2 || got[0].Session != 2 || got[1].Session != 1 {
		t.Fatalf("after two: %v", got)
	}
	for id := 3; id <= RecentCutoffs+10; id++ {
		r.push(Cutoff{Session: wamp.ID(id)})
	}
	got := r.latest()
	if len(got) != RecentCutoffs {
		t.Fatalf("ring holds %d, want %d", len(got), RecentCutoffs)
	}
	for i, c := range got {
		if want := wamp.ID(RecentCutoffs + 10 - i); c.Session != want {
			t.Fatalf("entry %d is session %d, want %d", i, c.Session, want)
		}
	}
}

// Authentications are counted under the spec's method names ("scram" is wamp-scram); a
// refusal before any method was tried counts as "none".
func TestAuthSlot(t *testing.T) {
	for method, want := range map[string]string{"ticket": "ticket", "scram": "wamp-scram", "wamp-scram": "wamp-scram",
		"": "none", "kerberos": "none", "trusted": "trusted"} {
		if got := authMethodLabels[authSlot(method)]; got != want {
			t.Errorf("authSlot(%q) counts under %q, want %q", method, got, want)
		}
	}
}
