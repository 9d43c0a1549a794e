package pubsub_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// BenchmarkHistoryWrite measures how many acknowledged publications per second reach a
// bbolt history over real sockets: "async" acknowledges at once and writes behind (the
// behaviour before durable acknowledgements, and durable: false), "durable" (the default)
// acknowledges each publication once the batch holding it is committed. Each run ends when
// every event is in the store, so both measure the write throughput.
func BenchmarkHistoryWrite(b *testing.B) {
	for _, publishers := range []int{1, 16, 64} {
		for _, durable := range []bool{false, true} {
			name := "async"
			if durable {
				name = "durable"
			}
			b.Run(fmt.Sprintf("%s/publishers=%d", name, publishers), func(b *testing.B) {
				benchmarkHistoryWrite(b, durable, publishers)
			})
		}
	}
}

func benchmarkHistoryWrite(b *testing.B, durable bool, publishers int) {
	store, err := pubsub.OpenBoltStore(filepath.Join(b.TempDir(), pubsub.HistoryFile))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	r := routertest.Start(b, routertest.Options{Realms: []realm.Config{{Name: "realm1", HistoryStore: store,
		History: pubsub.HistoryConfig{Topics: []pubsub.HistoryRule{{Topic: "com.example.h", Limit: 10000, Durable: &durable}}}}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	clients := make([]*client.Client, publishers)
	for i := range clients {
		if clients[i], err = client.Dial(ctx, r.URL, "realm1", client.Options{Serializer: "msgpack"}); err != nil {
			b.Fatal(err)
		}
		defer clients[i].Close()
	}
	payload := wamp.List{"an event of a modest size, as a chat message would be", int64(42)}
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := c.PublishWith(ctx, "com.example.h", client.PublishOptions{Acknowledge: true}, payload, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// A history read waits for what the router still holds: then every event is stored.
	if _, err := clients[0].TopicEvents(ctx, "com.example.h", "", client.HistoryQuery{Limit: 1, Reverse: true}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// gateStore is a history store whose Append waits until the test opens the gate.
type gateStore struct {
	open    chan struct{}
	entered chan struct{}
	mu      sync.Mutex
	kept    int
}

func (s *gateStore) Append(ctx context.Context, _ wamp.URI, events []*pubsub.HistoryEvent) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.kept += len(events)
	s.mu.Unlock()
	return nil
}

func (s *gateStore) Scan(context.Context, wamp.URI, bool, func(*pubsub.HistoryEvent) bool) error {
	return nil
}
func (s *gateStore) Close() error { return nil }

// Finding 12 of issue 17: on a topic kept in history, PUBLISHED comes only once the event is
// committed to the store (durable, the default); with durable: false, at once.
func TestDurableAcknowledgementWaitsForTheStore(t *testing.T) {
	for _, durable := range []bool{true, false} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			store := &gateStore{open: make(chan struct{}), entered: make(chan struct{}, 1)}
			rule := pubsub.HistoryRule{Topic: "com.example.h", Limit: 10}
			if !durable {
				rule.Durable = &durable
			}
			r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", HistoryStore: store,
				History: pubsub.HistoryConfig{Topics: []pubsub.HistoryRule{rule}}}}})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, r.URL, "realm1", client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			acked := make(chan error, 1)
			go func() {
				acked <- c.PublishWith(ctx, "com.example.h", client.PublishOptions{Acknowledge: true}, wamp.List{1}, nil)
			}()
			<-store.entered // the writer is committing the event's batch
			select {
			case err := <-acked:
				if durable {
					t.Fatalf("acknowledged (%v) before the store committed the event", err)
				}
			case <-time.After(200 * time.Millisecond):
				if !durable {
					t.Fatal("not acknowledged while the store was slow, with durable: false")
				}
			}
			close(store.open)
			if durable {
				if err := <-acked; err != nil {
					t.Fatal(err)
				}
				store.mu.Lock()
				kept := store.kept
				store.mu.Unlock()
				if kept != 1 {
					t.Errorf("acknowledged with %d events kept", kept)
				}
			}
		})
	}
}
