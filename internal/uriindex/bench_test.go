package uriindex

import (
	"fmt"
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

// BenchmarkEachManyPatterns is the broker's lookup of the pattern subscriptions matching a
// published topic. Its cost depends on the topic's length and the distinct prefix lengths in
// use, not on the number of patterns: compare the sub-benchmarks.
//
//	go test -run '^$' -bench EachManyPatterns ./internal/uriindex/
func BenchmarkEachManyPatterns(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ix := New[int]()
			for i := 0; i < n; i++ {
				ix.Put(wamp.URI(fmt.Sprintf("com.app.user%06d.", i)), wamp.MatchPrefix, i)
				ix.Put(wamp.URI(fmt.Sprintf("com.app.user%06d..status", i)), wamp.MatchWildcard, i)
				ix.Put(wamp.URI(fmt.Sprintf("com.app.user%06d.login", i)), wamp.MatchExact, i)
			}
			topic := wamp.URI(fmt.Sprintf("com.app.user%06d.device.status", n/2))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				hits := 0
				ix.Each(topic, func(int, wamp.URI, string) { hits++ })
				if hits != 2 {
					b.Fatalf("%d hits, want 2", hits)
				}
			}
		})
	}
}
