package session_test

import (
	"context"
	"sync"
	"testing"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

// BenchmarkCall measures a call's round trip through a real router over loopback WebSockets
// (client → dealer → callee → dealer → client), with C callers in parallel. Allocations are
// those of both Go clients and the router together.
func BenchmarkCall(b *testing.B) {
	for _, ser := range serializers {
		b.Run(ser, func(b *testing.B) {
			r := routertest.Start(b, routertest.Options{})
			callee, caller := join(b, r, ser), join(b, r, ser)
			if _, err := callee.Register(context.Background(), "bench.echo", echo, nil); err != nil {
				b.Fatal(err)
			}
			args := wamp.List{"hello", int64(42)}
			b.ReportAllocs()
			b.SetParallelism(16) // 16 × GOMAXPROCS calls in flight
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := caller.Call(context.Background(), "bench.echo", nil, args, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPublishAcknowledged measures a publication through a real router to one
// subscriber, acknowledged, so each operation is a full round trip.
func BenchmarkPublishAcknowledged(b *testing.B) {
	r := routertest.Start(b, routertest.Options{})
	pub, sub := join(b, r, "json"), join(b, r, "json")
	var mu sync.Mutex
	n := 0
	if _, err := sub.Subscribe(context.Background(), "bench.topic", func(*client.Event) { mu.Lock(); n++; mu.Unlock() }, nil); err != nil {
		b.Fatal(err)
	}
	ack := wamp.Dict{"acknowledge": true}
	args := wamp.List{"hello"}
	b.ReportAllocs()
	for b.Loop() {
		if err := pub.Publish(context.Background(), "bench.topic", ack, args, nil); err != nil {
			b.Fatal(err)
		}
	}
}
