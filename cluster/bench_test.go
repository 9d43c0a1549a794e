package cluster_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// fanoutSubscribers is the fan-out benchmarks' audience.
const fanoutSubscribers = 90

// benchFanout publishes from one session to fanoutSubscribers subscribers joined to the
// given routers in turn, and reports the time per publication until every subscriber has it,
// and the NATS messages each publication cost.
func benchFanout(b *testing.B, publisher *client.Client, routers []*realm.Router, natsMessages func() int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var got atomic.Int64
	for i := range fanoutSubscribers {
		c, err := routers[i%len(routers)].ServiceClient(ctx, "realm1", "user", client.Options{Serializer: "msgpack"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Subscribe(ctx, "com.bench.fanout", func(*client.Event) { got.Add(1) }, nil); err != nil {
			b.Fatal(err)
		}
	}
	payload := wamp.List{"a payload of some size, as an event might carry", int64(42), 3.14}
	before := natsMessages()
	b.ResetTimer()
	for range b.N {
		if err := publisher.Publish(ctx, "com.bench.fanout", nil, payload, nil); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N) * fanoutSubscribers
	for got.Load() < want {
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(natsMessages()-before)/float64(b.N), "nats-msgs/pub")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/delivery")
}

// Fan-out with the subscribers on one node (no cluster) against three nodes of a cluster in
// one process: what the cluster adds per publication and per delivery.
func BenchmarkFanoutOneNode(b *testing.B) {
	rt := realm.NewRouter(nil)
	rt.AddRealm(realm.New(realm.Config{Name: "realm1", Roles: roles}, nil))
	defer rt.Shutdown(0)
	pub, err := rt.ServiceClient(context.Background(), "realm1", "user", client.Options{Serializer: "msgpack"})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	benchFanout(b, pub, []*realm.Router{rt}, func() int64 { return 0 })
}

func BenchmarkFanoutThreeNodes(b *testing.B) {
	nodes := clustertest.StartNodes(b, 3, nil)
	var routers []*realm.Router
	var members []*testRouter
	for _, n := range nodes {
		tr := startRouter(b, n)
		routers = append(routers, tr.rt)
		members = append(members, tr)
	}
	pub, err := routers[0].ServiceClient(context.Background(), "realm1", "user", client.Options{Serializer: "msgpack"})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	benchFanout(b, pub, routers, members[0].member.PubSub.Messages.Load)
}
