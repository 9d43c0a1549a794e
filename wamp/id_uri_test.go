package wamp

import (
	"sync"
	"testing"
)

func TestGlobalIDRange(t *testing.T) {
	seen := map[ID]bool{}
	for i := 0; i < 10000; i++ {
		id := GlobalID()
		if id < 1 || id > MaxID {
			t.Fatalf("GlobalID %d outside 1..2^53", id)
		}
		seen[id] = true
	}
	if len(seen) < 9990 {
		t.Errorf("only %d distinct IDs in 10000 draws", len(seen))
	}
}

func TestIDGenSequentialAndConcurrent(t *testing.T) {
	var g IDGen
	for want := ID(1); want <= 3; want++ {
		if got := g.Next(); got != want {
			t.Fatalf("Next() = %d, want %d", got, want)
		}
	}
	var mu sync.Mutex
	seen := map[ID]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				id := g.Next()
				mu.Lock()
				if seen[id] {
					t.Errorf("ID %d handed out twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestIDGenWrapsAfterMax(t *testing.T) {
	var g IDGen
	g.n.Store(MaxID - 1)
	if got := g.Next(); got != MaxID {
		t.Fatalf("got %d, want 2^53", got)
	}
	if got := g.Next(); got != 1 {
		t.Fatalf("after 2^53 got %d, want 1", got)
	}
}

func TestValidURI(t *testing.T) {
	cases := []struct {
		uri                 URI
		loose, strict, empt bool // valid as loose, strict, loose-with-empty-components
	}{
		{"com.example.topic", true, true, true},
		{"com.Example.Topic-1", true, false, true},
		{"com.example..topic", false, false, true},
		{".com.example", false, false, true},
		{"com.example.", false, false, true},
		{"com.exa mple", false, false, false},
		{"com.exa#mple", false, false, false},
		{"", false, false, true},
		{"wamp.session.on_join", true, true, true},
		{"com.例子.topic", true, false, true},
		// Not UTF-8: JSON peers would see U+FFFD, so distinct topics would look alike.
		{"com.example.\xff", false, false, false},
		{"com.\xc3\x28.topic", false, false, false},
		{"com.例子.\xe4\xbe", false, false, false},
	}
	for _, c := range cases {
		if got := ValidURI(c.uri, false, false); got != c.loose {
			t.Errorf("loose %q: %v, want %v", c.uri, got, c.loose)
		}
		if got := ValidURI(c.uri, true, false); got != c.strict {
			t.Errorf("strict %q: %v, want %v", c.uri, got, c.strict)
		}
		if got := ValidURI(c.uri, false, true); got != c.empt {
			t.Errorf("with empty components %q: %v, want %v", c.uri, got, c.empt)
		}
	}
	if ValidPattern("com..x", MatchExact, false) || !ValidPattern("com..x", MatchWildcard, false) {
		t.Error("wildcard patterns may have empty components, exact URIs may not")
	}
	if ValidPattern("com.x", "fuzzy", false) {
		t.Error("unknown match policy accepted")
	}
}

func TestReserved(t *testing.T) {
	cases := []struct {
		uri   URI
		match string
		want  bool
	}{
		{"wamp.session.on_join", MatchExact, true},
		{"pawl.topic.get_events", MatchExact, true},
		{"com.example.wamp.x", MatchExact, false},
		{"wampum.x", MatchExact, false},
		{"pawl", MatchPrefix, true},
		{"", MatchPrefix, true},
		{"wamp.session.", MatchPrefix, true},
		{"com.", MatchPrefix, false},
		{"pawl..get_events", MatchWildcard, true},
		{"..get_events", MatchWildcard, true},
		{"com..x", MatchWildcard, false},
	}
	for _, c := range cases {
		if got := Reserved(c.uri, c.match); got != c.want {
			t.Errorf("Reserved(%q, %s) = %v, want %v", c.uri, c.match, got, c.want)
		}
	}
}
