package session_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/wamp"
)

// dealerIdle waits until the dealer holds no call, invocation, queued call or deadline.
func dealerIdle(t *testing.T, r *routertest.Router) {
	t.Helper()
	d := r.Realm.Dealer().(*rpc.Local)
	waitFor(t, "the dealer to hold nothing", func() bool {
		st := d.Stats()
		return st.Calls == 0 && st.Invocations == 0 && st.Queued == 0 && st.Timeouts == 0
	})
}

func TestWelcomeAnnouncesDealerFeatures(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	c := join(t, r, "json")
	roles, _ := c.Welcome().Dict("roles")
	dealer, _ := roles.Dict("dealer")
	features, _ := dealer.Dict("features")
	for _, f := range []string{"progressive_call_results", "progressive_call_invocations", "call_timeout",
		"call_canceling", "caller_identification", "pattern_based_registration", "shared_registration",
		"registration_meta_api"} {
		if v, _ := features.Bool(f); !v {
			t.Errorf("WELCOME does not announce dealer feature %s", f)
		}
	}
}

func TestProgressiveResults(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	for _, ser := range serializers {
		t.Run(ser, func(t *testing.T) {
			callee, caller := join(t, r, ser), join(t, r, "json")
			reg, err := callee.Register(ctxT(t), "com.example.count", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
				for i := int64(1); i <= 3; i++ {
					if _, err := inv.Progress(wamp.List{i}, nil); err != nil {
						return nil, err
					}
				}
				return &client.Result{Args: wamp.List{"done"}}, nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer callee.Unregister(ctxT(t), reg)
			var got []any
			res, err := caller.CallWith(ctxT(t), "com.example.count", nil, nil, client.CallOptions{
				OnProgress: func(r *client.Result) { got = append(got, r.Args[0]) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, []any{int64(1), int64(2), int64(3)}) || res.Args[0] != "done" {
				t.Errorf("progress %v, result %v", got, res.Args)
			}
			// Without receive_progress the caller sees only the final result.
			res, err = caller.Call(ctxT(t), "com.example.count", nil, nil, nil)
			if err != nil || res.Args[0] != "done" {
				t.Errorf("plain call: %v %v", res, err)
			}
			dealerIdle(t, r)
		})
	}
}

func TestProgressiveInvocations(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "msgpack"), join(t, r, "json")
	_, err := callee.Register(ctxT(t), "com.example.sum", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		total, _ := wamp.AsInt64(inv.Args[0])
		for in := range inv.Inputs() {
			n, _ := wamp.AsInt64(in.Args[0])
			total += n
		}
		return &client.Result{Args: wamp.List{total}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := caller.StreamCall(ctxT(t), "com.example.sum", client.CallOptions{})
	for i := 1; i <= 4; i++ {
		if err := st.Send(wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := st.Finish(wamp.List{100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt64(res.Args[0]); n != 110 {
		t.Errorf("sum of streamed chunks = %v, want 110", res.Args[0])
	}
	dealerIdle(t, r)
}

// blocker registers a procedure that waits until its context ends, reporting that it did.
func blocker(t *testing.T, c *client.Client, uri wamp.URI, opts wamp.Dict) (started chan struct{}, interrupted chan struct{}) {
	t.Helper()
	started, interrupted = make(chan struct{}, 8), make(chan struct{}, 8)
	_, err := c.Register(ctxT(t), uri, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			interrupted <- struct{}{}
			return nil, ctx.Err()
		case <-time.After(3 * time.Second):
			return &client.Result{Args: wamp.List{"finished"}}, nil
		}
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return started, interrupted
}

func expect(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not happen", what)
	}
}

func TestCallTimeout(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "msgpack")
	started, interrupted := blocker(t, callee, "com.example.slow", nil)
	start := time.Now()
	_, err := caller.Call(context.Background(), "com.example.slow", wamp.Dict{"timeout": 150}, nil, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrTimeout {
		t.Errorf("got %s, want %s", ae.URI, wamp.ErrTimeout)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("timeout took %v, want about 150ms", d)
	}
	expect(t, started, "invocation")
	expect(t, interrupted, "INTERRUPT reaching the callee")
	dealerIdle(t, r)
}

// With forward_timeout the callee gets the timeout and the dealer does not enforce it.
func TestForwardTimeout(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "json")
	got := make(chan any, 1)
	_, err := callee.Register(ctxT(t), "com.example.fwd", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		got <- inv.Details["timeout"]
		time.Sleep(200 * time.Millisecond) // longer than the timeout: the callee decides
		return &client.Result{Args: wamp.List{"late but fine"}}, nil
	}, client.RegisterOptions{ForwardTimeout: true}.Dict())
	if err != nil {
		t.Fatal(err)
	}
	res, err := caller.Call(context.Background(), "com.example.fwd", wamp.Dict{"timeout": 50}, nil, nil)
	if err != nil || res.Args[0] != "late but fine" {
		t.Fatalf("got %v %v", res, err)
	}
	if n, _ := wamp.AsInt64(<-got); n != 50 {
		t.Errorf("callee saw timeout %v, want 50", n)
	}
	dealerIdle(t, r)
}

func TestCancelModes(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "msgpack")
	started, interrupted := blocker(t, callee, "com.example.cancel", nil)
	for _, mode := range []string{"skip", "killnowait", "kill"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := caller.CallWith(ctx, "com.example.cancel", nil, nil, client.CallOptions{CancelMode: mode})
				errc <- err
			}()
			expect(t, started, "invocation")
			cancel()
			err := <-errc
			switch mode {
			case "kill":
				// The caller waits for the callee, whose answer (canceled) is the outcome.
				if ae := appError(t, err); ae.URI != wamp.ErrCanceled {
					t.Errorf("kill: got %v, want the callee's %s", err, wamp.ErrCanceled)
				}
				expect(t, interrupted, "INTERRUPT")
			case "killnowait":
				if !errors.Is(err, context.Canceled) {
					t.Errorf("killnowait: got %v, want context.Canceled", err)
				}
				expect(t, interrupted, "INTERRUPT")
			case "skip":
				if !errors.Is(err, context.Canceled) {
					t.Errorf("skip: got %v, want context.Canceled", err)
				}
				select {
				case <-interrupted:
					t.Error("skip interrupted the callee")
				case <-time.After(300 * time.Millisecond):
				}
			}
		})
	}
	// The skipped invocation finishes on its own; its late YIELD is dropped.
	dealerIdle(t, r)
}

func TestCallerIdentification(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "json")
	details := make(chan wamp.Dict, 2)
	handler := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		details <- inv.Details
		return nil, nil
	}
	if _, err := callee.Register(ctxT(t), "com.example.who", handler, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register(ctxT(t), "com.example.whoalways", handler, client.RegisterOptions{DiscloseCaller: true}.Dict()); err != nil {
		t.Fatal(err)
	}
	caller.Call(ctxT(t), "com.example.who", nil, nil, nil)
	if d := <-details; d["caller"] != nil {
		t.Errorf("caller disclosed without being asked: %v", d)
	}
	caller.Call(ctxT(t), "com.example.who", wamp.Dict{"disclose_me": true}, nil, nil)
	d := <-details
	if id, _ := wamp.AsID(d["caller"]); id != caller.ID() {
		t.Errorf("caller %v, want %v", d["caller"], caller.ID())
	}
	authid, _ := caller.Welcome().String("authid")
	if d["caller_authid"] != authid || d["caller_authrole"] != "anonymous" {
		t.Errorf("caller_authid/authrole %v/%v", d["caller_authid"], d["caller_authrole"])
	}
	caller.Call(ctxT(t), "com.example.whoalways", nil, nil, nil)
	if d := <-details; d["caller"] == nil {
		t.Error("disclose_caller registration did not get the caller")
	}
}

func TestPatternRegistrations(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee, caller := join(t, r, "json"), join(t, r, "msgpack")
	answer := func(name string) client.ProcedureHandler {
		return func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: wamp.List{name, string(inv.Procedure())}}, nil
		}
	}
	regs := []struct {
		uri   wamp.URI
		match string
		name  string
	}{
		{"com.app.user.get", "exact", "exact"},
		{"com.app.user", "prefix", "long-prefix"},
		{"com.app", "prefix", "short-prefix"},
		{"com..user.get", "wildcard", "wildcard"},
	}
	for _, reg := range regs {
		if _, err := callee.Register(ctxT(t), reg.uri, answer(reg.name), client.RegisterOptions{Match: reg.match}.Dict()); err != nil {
			t.Fatalf("register %s: %v", reg.uri, err)
		}
	}
	cases := map[wamp.URI]string{
		"com.app.user.get":   "exact",
		"com.app.user.set":   "long-prefix",
		"com.app.other":      "short-prefix",
		"com.other.user.get": "wildcard",
	}
	for uri, want := range cases {
		res, err := caller.Call(ctxT(t), uri, nil, nil, nil)
		if err != nil {
			t.Fatalf("call %s: %v", uri, err)
		}
		if res.Args[0] != want {
			t.Errorf("call %s reached %v, want %s", uri, res.Args[0], want)
		}
		if want != "exact" && res.Args[1] != string(uri) {
			t.Errorf("call %s: details.procedure = %v", uri, res.Args[1])
		}
	}
	if _, err := caller.Call(ctxT(t), "org.app.user.get", nil, nil, nil); appError(t, err).URI != wamp.ErrNoSuchProcedure {
		t.Error("unmatched URI did not get no_such_procedure")
	}
}

func TestSharedRegistration(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	caller := join(t, r, "json")
	names := map[string]*client.Client{}
	for _, name := range []string{"a", "b"} {
		c := join(t, r, "json")
		names[name] = c
		_, err := c.Register(ctxT(t), "com.example.rr", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: wamp.List{name}}, nil
		}, client.RegisterOptions{Invoke: "roundrobin"}.Dict())
		if err != nil {
			t.Fatal(err)
		}
	}
	var seq []any
	for i := 0; i < 4; i++ {
		res, err := caller.Call(ctxT(t), "com.example.rr", nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, res.Args[0])
	}
	if fmt.Sprint(seq) != "[a b a b]" {
		t.Errorf("round robin went %v", seq)
	}
	_, err := caller.Register(ctxT(t), "com.example.rr", echo, client.RegisterOptions{Invoke: "random"}.Dict())
	if appError(t, err).URI != wamp.ErrProcedureAlreadyExists {
		t.Error("a different invocation policy was accepted")
	}
	for policy, want := range map[string]string{"first": "x", "last": "y"} {
		uri := wamp.URI("com.example." + policy)
		for _, name := range []string{"x", "y"} {
			c := join(t, r, "json")
			_, err := c.Register(ctxT(t), uri, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
				return &client.Result{Args: wamp.List{name}}, nil
			}, client.RegisterOptions{Invoke: policy}.Dict())
			if err != nil {
				t.Fatal(err)
			}
		}
		res, err := caller.Call(ctxT(t), uri, nil, nil, nil)
		if err != nil || res.Args[0] != want {
			t.Errorf("%s: reached %v (%v), want %s", policy, res, err, want)
		}
	}
	// When a callee of a shared registration leaves, the others carry on.
	names["a"].Close()
	for i := 0; i < 2; i++ {
		if res, err := caller.Call(ctxT(t), "com.example.rr", nil, nil, nil); err != nil || res.Args[0] != "b" {
			t.Errorf("after a left: %v %v", res, err)
		}
	}
}

func TestConcurrencyLimitAndQueue(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", CallQueueLimit: 2}}})
	callee, caller := join(t, r, "json"), join(t, r, "json")
	var now, most atomic.Int32
	release := make(chan struct{})
	_, err := callee.Register(ctxT(t), "com.example.one", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		n := now.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		now.Add(-1)
		return &client.Result{Args: inv.Args}, nil
	}, client.RegisterOptions{Concurrency: 1}.Dict())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ { // one runs, two wait in the queue
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := caller.Call(ctxT(t), "com.example.one", nil, wamp.List{i}, nil)
			errs <- err
		}()
	}
	d := r.Realm.Dealer().(*rpc.Local)
	waitFor(t, "two queued calls", func() bool { return d.Stats().Queued == 2 })
	_, err = caller.Call(ctxT(t), "com.example.one", nil, nil, nil)
	if appError(t, err).URI != wamp.ErrUnavailable {
		t.Errorf("call beyond the queue: got %v, want %s", err, wamp.ErrUnavailable)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("queued call failed: %v", err)
		}
	}
	if most.Load() != 1 {
		t.Errorf("%d invocations ran at once, concurrency is 1", most.Load())
	}
	dealerIdle(t, r)
}

func TestRegistrationMetaAPI(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	observer, callee := join(t, r, "json"), join(t, r, "msgpack")
	events := make(chan string, 16)
	for _, topic := range []wamp.URI{"wamp.registration.on_create", "wamp.registration.on_register",
		"wamp.registration.on_unregister", "wamp.registration.on_delete"} {
		topic := topic
		if _, err := observer.Subscribe(ctxT(t), topic, func(e *client.Event) {
			events <- fmt.Sprintf("%s %v", topic[len("wamp.registration."):], e.Args[0] == any(callee.ID()) || e.Args[0] == any(int64(callee.ID())))
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := callee.Register(ctxT(t), "com.example.meta", echo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register(ctxT(t), "com.example.", echo, client.RegisterOptions{Match: "prefix"}.Dict()); err != nil {
		t.Fatal(err)
	}
	call := func(uri wamp.URI, args ...any) any {
		t.Helper()
		res, err := observer.Call(ctxT(t), uri, nil, wamp.List(args), nil)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		return res.Args[0]
	}
	list := call("wamp.registration.list").(wamp.Dict)
	if fmt.Sprint(list["exact"]) != fmt.Sprintf("[%d]", reg.ID) || len(list["prefix"].(wamp.List)) != 1 || len(list["wildcard"].(wamp.List)) != 0 {
		t.Errorf("list = %v (meta procedures must not appear)", list)
	}
	if id, _ := wamp.AsID(call("wamp.registration.lookup", "com.example.meta")); id != reg.ID {
		t.Errorf("lookup = %v", id)
	}
	if v := call("wamp.registration.lookup", "com.example.nothing"); v != nil {
		t.Errorf("lookup of unknown = %v, want null", v)
	}
	if id, _ := wamp.AsID(call("wamp.registration.match", "com.example.meta")); id != reg.ID {
		t.Errorf("match = %v", id)
	}
	if v := call("wamp.registration.match", "com.example.other"); v == nil {
		t.Error("match did not find the prefix registration")
	}
	get := call("wamp.registration.get", reg.ID).(wamp.Dict)
	if get["uri"] != "com.example.meta" || get["match"] != "exact" || get["invoke"] != "single" {
		t.Errorf("get = %v", get)
	}
	if ids := call("wamp.registration.list_callees", reg.ID).(wamp.List); len(ids) != 1 {
		t.Errorf("list_callees = %v", ids)
	}
	if n, _ := wamp.AsInt64(call("wamp.registration.count_callees", reg.ID)); n != 1 {
		t.Errorf("count_callees = %v", n)
	}
	_, err = observer.Call(ctxT(t), "wamp.registration.get", nil, wamp.List{424242}, nil)
	if appError(t, err).URI != wamp.ErrNoSuchRegistration {
		t.Errorf("get of unknown: %v", err)
	}
	if err := callee.Unregister(ctxT(t), reg); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for len(seen) < 6 {
		select {
		case e := <-events:
			seen = append(seen, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("meta events so far: %v", seen)
		}
	}
	want := "[on_create true on_register true on_create true on_register true on_unregister true on_delete true]"
	if fmt.Sprint(seen) != want {
		t.Errorf("meta events %v, want %s", seen, want)
	}
	if _, err := callee.Register(ctxT(t), "wamp.registration.list", echo, nil); appError(t, err).URI != wamp.ErrInvalidURI {
		t.Error("a client registered a wamp. procedure")
	}
}

// Callers and callees vanishing at every stage leave nothing in the dealer.
func TestVanishingPeersLeaveNothing(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	// Callee vanishes during progressive results.
	callee, caller := join(t, r, "json"), join(t, r, "json")
	progressed := make(chan struct{}, 1)
	_, err := callee.Register(ctxT(t), "com.example.stream", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		inv.Progress(wamp.List{1}, nil)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := caller.CallWith(ctxT(t), "com.example.stream", nil, nil, client.CallOptions{
			OnProgress: func(*client.Result) { progressed <- struct{}{} }})
		errc <- err
	}()
	expect(t, progressed, "progressive result")
	callee.Close()
	if ae := appError(t, <-errc); ae.URI != wamp.ErrCanceled {
		t.Errorf("caller got %s after its callee vanished", ae.URI)
	}
	dealerIdle(t, r)

	// Caller vanishes while one call runs and another waits in the queue: the running one is
	// interrupted, the queued one never starts.
	callee2, caller2 := join(t, r, "json"), join(t, r, "json")
	started, interrupted := blocker(t, callee2, "com.example.q", client.RegisterOptions{Concurrency: 1}.Dict())
	go caller2.Call(context.Background(), "com.example.q", nil, nil, nil)
	expect(t, started, "first invocation")
	go caller2.Call(context.Background(), "com.example.q", nil, nil, nil) // queued
	waitFor(t, "a queued call", func() bool { return r.Realm.Dealer().(*rpc.Local).Stats().Queued == 1 })
	caller2.Close()
	expect(t, interrupted, "INTERRUPT for the call of the caller that left")
	select {
	case <-started:
		t.Error("the queued call of a caller that left was started")
	case <-time.After(300 * time.Millisecond):
	}
	dealerIdle(t, r)
}

// autobahn.js settles a call it cancels with skip or killnowait by itself and treats the
// spec's ERROR that follows as a protocol violation. The dealer serves it as it expects: no
// ERROR after such a CANCEL, and the session carries on. A peer announcing itself otherwise
// (an agent, or a callee role that cancels) gets the ERROR the spec asks for.
func TestCancelServesAutobahnJS(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee := join(t, r, "json")
	blocker(t, callee, "com.example.c", nil)
	for _, tc := range []struct {
		name, hello string
		wantError   bool
	}{
		{"autobahn.js", `[1,"realm1",{"roles":{"caller":{"features":{"call_canceling":true}},"callee":{"features":{}}}}]`, false},
		{"spec client", `[1,"realm1",{"agent":"x","roles":{"caller":{"features":{"call_canceling":true}},"callee":{"features":{"call_canceling":true}}}}]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw(t, r.URL, "wamp.2.json")
			p.sendText(tc.hello)
			if m, err := p.next(); err != nil || m.Type() != wamp.TypeWelcome {
				t.Fatalf("join: %v %v", m, err)
			}
			p.sendText(`[48,1,{},"com.example.c"]`)
			time.Sleep(50 * time.Millisecond)
			p.sendText(`[49,1,{"mode":"skip"}]`)
			p.sendText(`[48,2,{},"com.example.missing"]`)
			m, err := p.next()
			if err != nil {
				t.Fatal(err)
			}
			e, ok := m.(*wamp.Error)
			if !ok {
				t.Fatalf("got %#v", m)
			}
			if tc.wantError {
				if e.Request != 1 || e.Error != wamp.ErrCanceled {
					t.Fatalf("first answer %v %s, want ERROR canceled for request 1", e.Request, e.Error)
				}
				if m, err = p.next(); err != nil {
					t.Fatal(err)
				}
				e = m.(*wamp.Error)
			}
			if e.Request != 2 || e.Error != wamp.ErrNoSuchProcedure {
				t.Errorf("got ERROR %v %s, want the answer to request 2 (no ERROR for the canceled call)", e.Request, e.Error)
			}
		})
	}
}
