package pubsub_test

import (
	"testing"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/pubsub/pubsubtest"
)

// The in-process broker passes the broker contract.
func TestLocalBrokerContract(t *testing.T) {
	pubsubtest.BrokerContract(t, func(_ testing.TB, env pubsubtest.Env) pubsub.Broker {
		return pubsub.NewLocal(pubsub.Options{Realm: "realm1", PublishMeta: env.PublishMeta,
			History: env.History, HistoryStore: env.HistoryStore})
	})
}
