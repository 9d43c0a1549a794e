package session_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/wamp"
)

func echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
}

func TestCallAcrossSerializers(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	args := wamp.List{int64(1), "two", 3.5, wamp.List{true, nil}, []byte("bin")}
	kwargs := wamp.Dict{"k": wamp.Dict{"v": int64(1 << 53)}}
	for _, calleeSer := range serializers {
		for _, callerSer := range serializers {
			t.Run(calleeSer+"_callee_"+callerSer+"_caller", func(t *testing.T) {
				callee, caller := join(t, r, calleeSer), join(t, r, callerSer)
				reg, err := callee.Register(ctxT(t), "com.example.echo", echo, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer callee.Unregister(ctxT(t), reg)
				res, err := caller.Call(ctxT(t), "com.example.echo", nil, args, kwargs)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(res.Args, args) || !reflect.DeepEqual(res.Kwargs, kwargs) {
					t.Errorf("result:\n got %#v %#v\nwant %#v %#v", res.Args, res.Kwargs, args, kwargs)
				}
			})
		}
	}
}

func TestCallErrors(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "msgpack"), join(t, r, "json")
	_, err := callee.Register(ctxT(t), "com.example.fail", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, &wamp.ApplicationError{URI: "com.example.error.bad", Args: wamp.List{"why", int64(7)},
			Kwargs: wamp.Dict{"field": "name"}}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = caller.Call(ctxT(t), "com.example.fail", nil, nil, nil)
	ae := appError(t, err)
	if ae.URI != "com.example.error.bad" || !reflect.DeepEqual(ae.Args, wamp.List{"why", int64(7)}) ||
		!reflect.DeepEqual(ae.Kwargs, wamp.Dict{"field": "name"}) {
		t.Errorf("application error arrived as %#v", ae)
	}

	_, err = callee.Register(ctxT(t), "com.example.plainerr", func(context.Context, *client.Invocation) (*client.Result, error) {
		return nil, errors.New("disk full")
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = caller.Call(ctxT(t), "com.example.plainerr", nil, nil, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrRuntimeError || ae.Args[0] != "disk full" {
		t.Errorf("plain error arrived as %#v", ae)
	}

	_, err = caller.Call(ctxT(t), "com.example.missing", nil, nil, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNoSuchProcedure {
		t.Errorf("missing procedure: got %s", ae.URI)
	}

	_, err = caller.Register(ctxT(t), "com.example.fail", echo, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrProcedureAlreadyExists {
		t.Errorf("second registration: got %s", ae.URI)
	}
}

func TestUnregister(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "json")
	reg, err := callee.Register(ctxT(t), "com.example.gone", echo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := callee.Unregister(ctxT(t), reg); err != nil {
		t.Fatal(err)
	}
	_, err = caller.Call(ctxT(t), "com.example.gone", nil, nil, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNoSuchProcedure {
		t.Errorf("call after unregister: got %s", ae.URI)
	}
	err = callee.Unregister(ctxT(t), reg)
	if ae := appError(t, err); ae.URI != wamp.ErrNoSuchRegistration {
		t.Errorf("second unregister: got %s", ae.URI)
	}
}

// dealerOf reaches the realm's dealer to count what it still holds.
func pendingCalls(t *testing.T, r *routertest.Router) (calls, peers int) {
	t.Helper()
	d, ok := r.Realm.Dealer().(*rpc.Local)
	if !ok {
		t.Fatalf("dealer is %T", r.Realm.Dealer())
	}
	st := d.Stats()
	return st.Calls + st.Invocations + st.Queued + st.Timeouts, st.Peers
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A caller whose callee disappears mid-call gets an error, not a hang, and the dealer keeps
// nothing of the call; the procedure can be registered again by someone else.
func TestCalleeLeavesMidCall(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "msgpack")
	started := make(chan struct{})
	_, err := callee.Register(ctxT(t), "com.example.slow", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctxT(t), "com.example.slow", nil, nil, nil)
		errc <- err
	}()
	<-started
	callee.Close()
	select {
	case err := <-errc:
		if ae := appError(t, err); ae.URI != wamp.ErrCanceled {
			t.Errorf("caller got %s, want %s", ae.URI, wamp.ErrCanceled)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("caller hangs after its callee left")
	}
	waitFor(t, "dealer to drop the call", func() bool { calls, _ := pendingCalls(t, r); return calls == 0 })
	other := join(t, r, "json")
	if _, err := other.Register(ctxT(t), "com.example.slow", echo, nil); err != nil {
		t.Errorf("procedure not free after its callee left: %v", err)
	}
}

// A caller that leaves mid-call leaves nothing behind; the callee's late answer is dropped.
func TestCallerLeavesMidCall(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "json")
	started, release := make(chan struct{}), make(chan struct{})
	_, err := callee.Register(ctxT(t), "com.example.wait", func(context.Context, *client.Invocation) (*client.Result, error) {
		close(started)
		<-release
		return &client.Result{Args: wamp.List{"late"}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go caller.Call(ctxT(t), "com.example.wait", nil, nil, nil)
	<-started
	caller.Close()
	waitFor(t, "dealer to forget the caller", func() bool { _, peers := pendingCalls(t, r); return peers == 1 })
	close(release)
	waitFor(t, "the late answer to clear the invocation", func() bool { calls, _ := pendingCalls(t, r); return calls == 0 })
	// The callee still works after its answer went nowhere.
	other := join(t, r, "json")
	if _, err := other.Call(ctxT(t), "com.example.missing", nil, nil, nil); appError(t, err).URI != wamp.ErrNoSuchProcedure {
		t.Error("router misbehaves after a dropped late answer")
	}
}

// A canceled context ends Call at once.
func TestCallContext(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "json")
	release := make(chan struct{})
	defer close(release)
	_, err := callee.Register(ctxT(t), "com.example.block", func(context.Context, *client.Invocation) (*client.Result, error) {
		<-release
		return nil, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = caller.Call(ctx, "com.example.block", nil, nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Call took %v after its deadline", time.Since(start))
	}
}
