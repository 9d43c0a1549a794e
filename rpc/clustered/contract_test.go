package clustered_test

import (
	"fmt"
	"testing"

	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/rpc/clustered"
	"github.com/pawl-wamp/pawl/rpc/rpctest"
	"github.com/pawl-wamp/pawl/session"
)

// The dealer contract, with each session on one of two nodes in turn: callers and callees
// meet across nodes, and every feature the suite checks crosses NATS.
func TestClusteredDealerContract(t *testing.T) {
	n := 0
	rpctest.DealerContract(t, func(t testing.TB, env rpctest.Env) rpc.Dealer {
		n++
		srv := startNATS(t) // per test: the suite checks that each leaves no goroutine behind
		opts := rpc.Options{CallQueueLimit: env.CallQueueLimit, PublishMeta: env.PublishMeta}
		sp := &spread{on: map[*session.Session]*clustered.Dealer{}}
		for i := 0; i < 2; i++ {
			node := newTestNode(t, srv, fmt.Sprintf("c%d-node%d", n, i))
			sp.nodes = append(sp.nodes, newDealer(t, node, func() int { return 1 }, opts))
		}
		return sp
	})
}
