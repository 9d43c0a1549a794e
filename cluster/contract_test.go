package cluster_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/pubsub/pubsubtest"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// spreadBroker is one realm's brokers on three nodes, seen as one broker: each session is
// served by the node its ID picks, so the contract's subscribers and publishers sit on
// different nodes and every publication the suite checks crosses NATS.
type spreadBroker struct {
	nodes []*pubsub.Local
}

func (b *spreadBroker) of(s *session.Session) *pubsub.Local {
	if s == nil {
		return b.nodes[0]
	}
	return b.nodes[int(uint64(s.ID)%uint64(len(b.nodes)))]
}

func (b *spreadBroker) Subscribe(s *session.Session, m *wamp.Subscribe) { b.of(s).Subscribe(s, m) }
func (b *spreadBroker) Unsubscribe(s *session.Session, m *wamp.Unsubscribe) {
	b.of(s).Unsubscribe(s, m)
}
func (b *spreadBroker) Publish(s *session.Session, m *wamp.Publish) { b.of(s).Publish(s, m) }
func (b *spreadBroker) HandlePublish(s *session.Session, m *wamp.Publish) {
	b.of(s).HandlePublish(s, m)
}
func (b *spreadBroker) Leave(s *session.Session) { b.of(s).Leave(s) }
func (b *spreadBroker) Features() wamp.Dict      { return b.nodes[0].Features() }
func (b *spreadBroker) MetaProcedures() map[wamp.URI]session.LocalProcedure {
	return b.nodes[0].MetaProcedures()
}
func (b *spreadBroker) Close() {
	for _, n := range b.nodes {
		n.Close()
	}
}

// The broker contract holds for a realm served by three nodes of a cluster, with the
// suite's sessions spread over them.
func TestClusteredBrokerContract(t *testing.T) {
	nodes := clustertest.StartNodes(t, 3, nil)
	buses := make([]*cluster.PubSub, len(nodes))
	for i, n := range nodes {
		ps, err := cluster.NewPubSub(n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ps.Close)
		buses[i] = ps
	}
	// The cluster's bucket of retained events (and the server's goroutines for it) comes with
	// the first realm: before the suite's leak checks.
	for _, ps := range buses {
		warm := pubsub.NewLocal(pubsub.Options{Realm: "warmup", Bus: ps.Realm("warmup")})
		ps.Realm("warmup").Attach(warm)
		warm.Close()
	}
	var realms atomic.Int64
	pubsubtest.BrokerContract(t, func(_ testing.TB, env pubsubtest.Env) pubsub.Broker {
		name := wamp.URI(fmt.Sprintf("realm%d", realms.Add(1))) // a fresh realm per test
		b := &spreadBroker{}
		for _, ps := range buses {
			bus := ps.Realm(name)
			var l *pubsub.Local
			// Each node publishes its own meta events, as a realm does: after the
			// publications of the session they are about, on the same connection.
			publishMeta := func(topic wamp.URI, args wamp.List, kwargs wamp.Dict) {
				l.Publish(nil, &wamp.Publish{Options: wamp.Dict{}, Topic: topic, Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
			}
			l = pubsub.NewLocal(pubsub.Options{Realm: name, PublishMeta: publishMeta,
				History: env.History, HistoryStore: env.HistoryStore, Bus: bus, SubscriptionID: cluster.SubscriptionID})
			bus.Attach(l)
			b.nodes = append(b.nodes, l)
		}
		return b
	})
}
