package pubsub_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pawl-wamp/pawl/internal/race"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// fanoutSubscribers is how many subscribers the "many" topic has; the "one" topic has one.
const fanoutSubscribers = 100

// maxAllocsPerDelivery is the amortized allowance for buffers that grow (see
// comparePerDelivery): zero, rounded.
const maxAllocsPerDelivery = 0.05

// TestFanoutAllocatesNothingPerDelivery pins the broker's hot path: a publication costs a
// fixed number of allocations (its EVENT, one frame per codec in use) however many
// subscribers receive it. Publishing to a hundred subscribers must allocate no more than
// publishing to one — from the router itself, and from a publisher's socket, where events go
// through the publisher's reader and are written per recipient once per read.
func TestFanoutAllocatesNothingPerDelivery(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	for _, deflate := range []bool{false, true} {
		t.Run(fmt.Sprintf("deflate=%v", deflate), func(t *testing.T) {
			// With permessage-deflate every event is compressed (the minimum size is lowered
			// to the event's), once per publication for all its subscribers.
			opts := noKeepalive
			opts.Endpoint.Transport.Deflate = websocket.DeflateOptions{Enabled: deflate, MinSize: 16}
			benchDeflate = deflate
			defer func() { benchDeflate = false }()
			compressedRead.Store(0)
			r := routertest.Start(t, opts)
			fanoutAllocs(t, r, webSocketWire(r.URL))
			if got := compressedRead.Load(); deflate != (got > 0) {
				t.Errorf("deflate %v: the probes read %d compressed events", deflate, got)
			}
		})
	}
}

// fanoutWire is how the allocation pins reach a router over one transport.
type fanoutWire struct {
	join        func(b testing.TB, url, roles string) *benchPeer      // a peer the test reads
	subscribers func(b testing.TB, url string, n int, topic wamp.URI) // discarding subscribers
	frame       func(text string) []byte                              // a client's frame of text
	url         string
}

// webSocketWire reaches the router at url over WebSocket.
func webSocketWire(url string) fanoutWire {
	return fanoutWire{join: joinBenchPeer, subscribers: subscribers, frame: clientFrame, url: url}
}

// fanoutAllocs is TestFanoutAllocatesNothingPerDelivery on one router, over wire.
func fanoutAllocs(t *testing.T, r *routertest.Router, wire fanoutWire) {
	// Each topic's last subscriber is a probe the test reads: publishing waits for the probe's
	// event, so the publisher never runs far ahead of the subscribers' writers, and queues
	// and buffers keep the size they reached while warming up.
	probeOne := probeSubscriber(t, wire, "one.topic")
	wire.subscribers(t, wire.url, fanoutSubscribers-1, "many.topic")
	probeMany := probeSubscriber(t, wire, "many.topic")

	t.Run("router publishes", func(t *testing.T) {
		broker := r.Realm.Broker()
		publish := func(topic wamp.URI, probe *benchPeer) func() {
			raw, err := wamp.JSON.Decode([]byte(fmt.Sprintf(`[16,1,{},%q,["hello",42,{"k":"v"}],{"x":1.5}]`, topic)))
			if err != nil {
				t.Fatal(err)
			}
			pub := raw.(*wamp.Publish)
			return func() {
				m := *pub
				broker.Publish(nil, &m)
				probe.expect(t, "[36,")
			}
		}
		comparePerDelivery(t, publish("one.topic", probeOne), publish("many.topic", probeMany))
	})

	t.Run("publisher's socket", func(t *testing.T) {
		pub := wire.join(t, wire.url, `"publisher":{}`)
		t.Cleanup(func() { pub.c.Close() })
		const burst = 10
		publish := func(topic wamp.URI, probe *benchPeer) func() {
			var frames []byte
			for i := range burst {
				frames = append(frames, wire.frame(fmt.Sprintf(
					`[16,%d,{"acknowledge":true},%q,["hello",42,{"k":"v"}],{"x":1.5}]`, i+1, topic))...)
			}
			return func() {
				if _, err := pub.c.Write(frames); err != nil {
					t.Fatal(err)
				}
				for range burst {
					pub.expect(t, "[17,")
					probe.expect(t, "[36,")
				}
			}
		}
		comparePerDelivery(t, publish("one.topic", probeOne), publish("many.topic", probeMany))
	})
}

// probeSubscriber subscribes a peer the test reads to topic.
func probeSubscriber(t *testing.T, wire fanoutWire, topic wamp.URI) *benchPeer {
	p := wire.join(t, wire.url, `"subscriber":{}`)
	t.Cleanup(func() { p.c.Close() })
	p.send(t, fmt.Sprintf(`[32,1,{},%q]`, topic))
	p.expect(t, "[33,")
	return p
}

// expect reads the next message, which must start with prefix, allocating nothing.
func (p *benchPeer) expect(t testing.TB, prefix string) {
	if m := p.next(t); !bytes.HasPrefix(m, []byte(prefix)) {
		t.Fatalf("expected %s..., got %s", prefix, m)
	}
}

// comparePerDelivery measures the allocations of publishing to one subscriber and to many,
// after warming up (queues and a writer's scratch buffers grow to the size a burst needs and
// keep it), and fails when deliveries allocate. A writer that falls further behind than
// ever before (on a busy machine) may still grow its buffers now and then; an allocation on
// every delivery, or on every twentieth, would add five or more to each publication.
func comparePerDelivery(t *testing.T, one, many func()) {
	t.Helper()
	for range 100 {
		one()
		many()
	}
	const runs = 400
	allocsOne := testing.AllocsPerRun(runs, one)
	allocsMany := testing.AllocsPerRun(runs, many)
	t.Logf("allocations per publication: %v to 1 subscriber, %v to %d", allocsOne, allocsMany, fanoutSubscribers)
	if perDelivery := (allocsMany - allocsOne) / float64(fanoutSubscribers-1); perDelivery > maxAllocsPerDelivery {
		t.Errorf("%v allocations publishing to %d subscribers, %v to one: deliveries allocate (%.3f per delivery)",
			allocsMany, fanoutSubscribers, allocsOne, perDelivery)
	}
}
