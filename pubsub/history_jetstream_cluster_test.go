package pubsub_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/wamp"
)

// On a three-node cluster (embedded nats-servers routed together) with three replicas, the
// history survives the loss of the node a router wrote through, and the surviving pair keeps
// taking events.
// Bounds are for failure only: JetStream elects a stream leader again after a loss, in 4–9 s
// per round, and a starved round on a loaded machine runs again.
func TestJetStreamStoreSurvivesLossOfANode(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)
	open := func(i int) *pubsub.JetStreamStore {
		var s *pubsub.JetStreamStore
		var err error
		deadline := time.Now().Add(60 * time.Second)
		for s == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			s, err = pubsub.OpenJetStreamStore(ctx, nodes[i].Conn(), pubsub.JetStreamOptions{Replicas: 3, Prefix: nodes[i].Bucket("history")})
			cancel()
			if err != nil && time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	scan := func(s *pubsub.JetStreamStore, reverse bool) ([]wamp.ID, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var got []wamp.ID
		err := s.Scan(ctx, "r", reverse, func(ev *pubsub.HistoryEvent) bool { got = append(got, ev.Publication); return true })
		return got, err
	}
	appendOne := func(s *pubsub.JetStreamStore, pub wamp.ID) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.Append(ctx, "r", []*pubsub.HistoryEvent{{Log: "exact:a", Time: time.Now(), Topic: "com.example.t",
			Publication: pub, Keep: pubsub.Retention{Limit: 100}}})
	}
	writer := open(0)
	var want []wamp.ID
	for pub := wamp.ID(1); pub <= 20; pub++ {
		if err := appendOne(writer, pub); err != nil {
			t.Fatal(err)
		}
		want = append(want, pub)
	}
	nodes[0].Close() // its nats-server and its copy of the stream go

	reader := open(1)
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := scan(reader, false)
		if err == nil && reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after losing a node: %v (err %v), want %v", got, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		err := appendOne(reader, 21)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("append on the surviving nodes: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, err := scan(reader, true); err != nil || len(got) != 21 || got[0] != 21 {
		t.Errorf("after appending on the survivors: %v (err %v)", got, err)
	}
}
