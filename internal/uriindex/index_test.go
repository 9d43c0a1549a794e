package uriindex

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

func TestBestPrecedence(t *testing.T) {
	ix := New[string]()
	ix.Put("com.app.user.get", wamp.MatchExact, "exact")
	ix.Put("com.app", wamp.MatchPrefix, "short-prefix")
	ix.Put("com.app.user", wamp.MatchPrefix, "long-prefix")
	ix.Put("com..user.get", wamp.MatchWildcard, "wild-1")
	ix.Put("com.app..get", wamp.MatchWildcard, "wild-2")
	ix.Put("org...", wamp.MatchWildcard, "wild-3")
	cases := map[wamp.URI]string{
		"com.app.user.get":   "exact",
		"com.app.user.set":   "long-prefix",
		"com.app.users":      "long-prefix", // prefixes match strings, not components
		"com.apple":          "short-prefix",
		"com.other.user.get": "wild-1",
		"org.a.b.c":          "wild-3",
		"org.a.b":            "",
		"net.app.user.get":   "",
	}
	for uri, want := range cases {
		got, _, _, ok := ix.Best(uri)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("Best(%s) = %q, want %q", uri, got, want)
		}
	}
	// Two wildcards match: the one whose concrete component comes first wins.
	ix.Delete("com.app.user", wamp.MatchPrefix)
	ix.Delete("com.app", wamp.MatchPrefix)
	if got, _, _, _ := ix.Best("com.app.x.get"); got != "wild-2" {
		t.Errorf("com.app.x.get: got %q, want wild-2 (concrete 'app' beats the wildcard)", got)
	}
}

func TestEachFindsAllMatches(t *testing.T) {
	ix := New[string]()
	ix.Put("a.b.c", wamp.MatchExact, "exact")
	ix.Put("a.b", wamp.MatchPrefix, "prefix")
	ix.Put("a..c", wamp.MatchWildcard, "wild")
	ix.Put("..c", wamp.MatchWildcard, "wild2")
	ix.Put("x..c", wamp.MatchWildcard, "nomatch")
	var got []string
	ix.Each("a.b.c", func(v string, _ wamp.URI, _ string) { got = append(got, v) })
	sort.Strings(got)
	if fmt.Sprint(got) != "[exact prefix wild wild2]" {
		t.Errorf("Each = %v", got)
	}
}

func TestDeleteAndLen(t *testing.T) {
	ix := New[int]()
	for i := 0; i < 100; i++ {
		ix.Put(wamp.URI(fmt.Sprintf("a.%d..z", i)), wamp.MatchWildcard, i)
		ix.Put(wamp.URI(fmt.Sprintf("p.%d", i)), wamp.MatchPrefix, i)
	}
	if ix.Len() != 200 {
		t.Fatalf("Len %d", ix.Len())
	}
	for i := 0; i < 100; i++ {
		ix.Delete(wamp.URI(fmt.Sprintf("a.%d..z", i)), wamp.MatchWildcard)
		ix.Delete(wamp.URI(fmt.Sprintf("p.%d", i)), wamp.MatchPrefix)
	}
	if ix.Len() != 0 || len(ix.wildcard.children) != 0 || len(ix.prefixLens) != 0 {
		t.Fatalf("index not empty after deleting everything: %d %v %v", ix.Len(), ix.wildcard.children, ix.prefixLens)
	}
	if _, _, _, ok := ix.Best("a.1.x.z"); ok {
		t.Error("deleted pattern still matches")
	}
}

// Lookups stay fast with many patterns: no scan over registrations.
func BenchmarkBestAmongThousands(b *testing.B) {
	ix := New[int]()
	for i := 0; i < 5000; i++ {
		ix.Put(wamp.URI(fmt.Sprintf("com.app.svc%d.op", i)), wamp.MatchExact, i)
		ix.Put(wamp.URI(fmt.Sprintf("com.app.svc%d.", i)), wamp.MatchPrefix, i)
		ix.Put(wamp.URI(fmt.Sprintf("com.app..op%d", i)), wamp.MatchWildcard, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, ok := ix.Best("com.app.other.op4999"); !ok {
			b.Fatal("no match")
		}
	}
}

// Prefixes of one length are counted: deleting one of several keeps the length in use, and
// deleting the last drops it (Delete never scans the other prefixes, so a session leaving with
// many prefix subscriptions is linear).
func TestDeletePrefixKeepsLengthsInUse(t *testing.T) {
	ix := New[int]()
	ix.Put("com.a.", wamp.MatchPrefix, 1)
	ix.Put("com.b.", wamp.MatchPrefix, 2)
	ix.Put("com.b.", wamp.MatchPrefix, 3) // replaced, not counted twice
	ix.Put("com.", wamp.MatchPrefix, 4)
	ix.Delete("com.a.", wamp.MatchPrefix)
	if v, _, _, ok := ix.Best("com.b.x"); !ok || v != 3 {
		t.Fatalf("after deleting a prefix of the same length: %v %v", v, ok)
	}
	ix.Delete("com.b.", wamp.MatchPrefix)
	if v, _, _, ok := ix.Best("com.b.x"); !ok || v != 4 {
		t.Fatalf("after deleting the last prefix of that length: %v %v", v, ok)
	}
	ix.Delete("com.", wamp.MatchPrefix)
	if ix.Patterns() || len(ix.prefixLens) != 0 || len(ix.lenCount) != 0 {
		t.Errorf("empty index keeps prefix lengths %v %v", ix.prefixLens, ix.lenCount)
	}
}

// BenchmarkDeleteManyPrefixes deletes b.N prefixes of a few hundred lengths, as a session
// leaving with many prefix subscriptions does: constant time each, not a scan of the rest.
func BenchmarkDeleteManyPrefixes(b *testing.B) {
	ix := New[int]()
	uris := make([]wamp.URI, b.N)
	for i := range uris {
		uris[i] = wamp.URI(fmt.Sprintf("com.example.%08d.%s", i, strings.Repeat("x", i%300)))
		ix.Put(uris[i], wamp.MatchPrefix, i)
	}
	b.ResetTimer()
	for _, u := range uris {
		ix.Delete(u, wamp.MatchPrefix)
	}
}
