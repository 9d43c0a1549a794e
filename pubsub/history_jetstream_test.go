package pubsub

import (
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// startJetStream runs an embedded nats-server with JetStream on a free loopback port, its
// store in a temporary directory, until the test ends; it returns a connection to it.
func startJetStream(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return nc
}

func TestJetStreamStore(t *testing.T) {
	leakcheck.Check(t)
	nc := startJetStream(t)
	n := 0
	storeContract(t, func(t *testing.T) HistoryStore {
		n++
		s, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "T" + string(rune('A'+n))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	t.Run("shared by two routers", func(t *testing.T) {
		a, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "SHARED"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "SHARED"})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		defer b.Close()
		appendAll(t, a, "shared", event(1, "exact:a", Retention{Limit: 10}))
		appendAll(t, b, "shared", event(2, "exact:a", Retention{Limit: 10}))
		appendAll(t, a, "shared", event(3, "exact:a", Retention{Limit: 10}))
		for _, s := range []HistoryStore{a, b} {
			if got := scanAll(t, s, "shared", false); !reflect.DeepEqual(got, []wamp.ID{1, 2, 3}) {
				t.Errorf("got %v", got)
			}
		}
	})
	t.Run("reverse over gaps", func(t *testing.T) {
		// A log trimmed hard between the events of a long-lived one leaves long gaps of
		// deleted sequence numbers, which the reverse scan must cross without losing any.
		s, err := OpenJetStreamStore(ctxT(t), nc, JetStreamOptions{Prefix: "GAPS"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var want []wamp.ID
		for i := wamp.ID(1); i <= 3; i++ {
			appendAll(t, s, "r", event(i, "exact:kept", Retention{Limit: 100}))
			want = append([]wamp.ID{i}, want...)
			batch := make([]*HistoryEvent, 0, 1000)
			for j := wamp.ID(0); j < 1000; j++ {
				batch = append(batch, event(10000*i+j, "exact:churn", Retention{Limit: 1}))
			}
			appendAll(t, s, "r", batch...)
		}
		want = append([]wamp.ID{30999}, want...)
		if got := scanAll(t, s, "r", true); !reflect.DeepEqual(got, want) {
			t.Errorf("reverse: got %v, want %v", got, want)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		if _, err := OpenJetStreamStore(ctxT(t), nil, JetStreamOptions{}); err == nil {
			t.Error("opened a store without a connection")
		}
	})
}
