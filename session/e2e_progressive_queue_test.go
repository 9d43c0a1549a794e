package session_test

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/wamp"
)

// busySum registers com.example.sum on a callee that runs one call at a time (the realm's
// callee_concurrency): a call whose first argument is "block" holds the callee until release
// closes; any other call sums its streamed chunks. It returns how many invocations began.
func busySum(t *testing.T, callee *client.Client, started chan<- struct{}, release <-chan struct{}) *atomic.Int64 {
	t.Helper()
	var invocations atomic.Int64
	_, err := callee.Register(ctxT(t), "com.example.sum", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		invocations.Add(1)
		if inv.Args[0] == "block" {
			started <- struct{}{}
			<-release
			return &client.Result{Args: wamp.List{"unblocked"}}, nil
		}
		total := int64(0)
		if n, ok := wamp.AsInt64(inv.Args[0]); ok {
			total = n
		}
		if more, _ := inv.Details.Bool("progress"); !more {
			return &client.Result{Args: wamp.List{total}}, nil
		}
		for in := range inv.Inputs() {
			if n, ok := wamp.AsInt64(in.Args[0]); ok {
				total += n
			}
		}
		return &client.Result{Args: wamp.List{total}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &invocations
}

// A progressive call that has to wait for a busy callee gets every chunk streamed while it
// waited, in order, once the callee is free.
func TestProgressiveInvocationWaitsForBusyCallee(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1",
		Limits: realm.Limits{CalleeConcurrency: 1}}}})
	callee, caller := join(t, r, "msgpack"), join(t, r, "json")
	started, release := make(chan struct{}, 1), make(chan struct{})
	busySum(t, callee, started, release)
	blocked := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctxT(t), "com.example.sum", nil, wamp.List{"block"}, nil)
		blocked <- err
	}()
	<-started

	dealer := r.Realm.Dealer().(*rpc.Local)
	st := caller.StreamCall(ctxT(t), "com.example.sum", client.CallOptions{})
	for i := 1; i <= 4; i++ {
		if err := st.Send(wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the streamed call to wait with its later chunks", func() bool {
		s := dealer.Stats()
		return s.Queued == 1 && s.QueuedChunks == 3
	})
	close(release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	res, err := st.Finish(wamp.List{100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt64(res.Args[0]); n != 110 {
		t.Errorf("sum of the streamed chunks = %v, want 110", res.Args[0])
	}
	dealerIdle(t, r)
}

// The chunks a waiting progressive call holds count against the caller's queued byte bound
// (max_queued_call_bytes): past it the call is refused with wamp.error.unavailable, and the
// chunks the caller sends after the refusal start no new call.
func TestWaitingProgressiveInvocationBoundedInBytes(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1",
		Limits: realm.Limits{CalleeConcurrency: 1, MaxQueuedCallBytes: 100 << 10}}}})
	callee, caller := join(t, r, "msgpack"), join(t, r, "msgpack")
	started, release := make(chan struct{}, 1), make(chan struct{})
	invocations := busySum(t, callee, started, release)
	blocked := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctxT(t), "com.example.sum", nil, wamp.List{"block"}, nil)
		blocked <- err
	}()
	<-started

	dealer := r.Realm.Dealer().(*rpc.Local)
	before := rpc.LimitStats.QueuedCallBytes.Load()
	big := bytes.Repeat([]byte{1}, 40<<10)
	st := caller.StreamCall(ctxT(t), "com.example.sum", client.CallOptions{})
	for i := 0; i < 2; i++ {
		if err := st.Send(wamp.List{big}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the streamed call to wait with a chunk", func() bool { return dealer.Stats().QueuedChunks == 1 })
	// 120 KiB queued: refused. The chunks after it arrive after the refusal.
	for i := 0; i < 3; i++ {
		if err := st.Send(wamp.List{big}, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := st.Finish(wamp.List{1}, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrUnavailable || !strings.Contains(ae.Error(), "max_queued_call_bytes") {
		t.Errorf("a streamed call past the byte bound: %v", ae)
	}
	if rpc.LimitStats.QueuedCallBytes.Load() == before {
		t.Error("the refusal was not counted")
	}
	close(release)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	// A plain call now runs at once: nothing of the refused stream is queued or running.
	res, err := caller.Call(ctxT(t), "com.example.sum", nil, wamp.List{7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt64(res.Args[0]); n != 7 {
		t.Errorf("plain call after the refusal = %v, want 7", res.Args[0])
	}
	if n := invocations.Load(); n != 2 {
		t.Errorf("the callee saw %d invocations, want 2 (the refused stream's chunks started calls)", n)
	}
	dealerIdle(t, r)
}
