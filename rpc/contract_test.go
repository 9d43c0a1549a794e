package rpc_test

import (
	"testing"

	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/rpc/rpctest"
)

// The in-process dealer passes the dealer contract.
func TestLocalDealerContract(t *testing.T) {
	rpctest.DealerContract(t, func(_ testing.TB, env rpctest.Env) rpc.Dealer {
		return rpc.NewLocal(rpc.Options{CallQueueLimit: env.CallQueueLimit, PublishMeta: env.PublishMeta})
	})
}
