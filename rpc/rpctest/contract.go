package rpctest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// Env is what the suite gives the dealer it asks for.
type Env struct {
	// PublishMeta must become the dealer's meta-event sink (Options.PublishMeta).
	PublishMeta func(topic wamp.URI, args wamp.List, kwargs wamp.Dict)
	// CallQueueLimit must become Options.CallQueueLimit.
	CallQueueLimit int
}

// NewDealer builds a fresh, empty dealer for one test. The suite closes it.
type NewDealer func(t testing.TB, env Env) rpc.Dealer

// StatsReporter is implemented by a dealer that can count what it holds (rpc.Local): the
// suite then checks that everything drops to zero once every session has left.
type StatsReporter interface {
	Stats() rpc.Stats
}

// queueLimit is the call queue bound the suite configures.
const queueLimit = 2

type metaEvent struct {
	topic wamp.URI
	args  wamp.List
}

type router struct {
	t   testing.TB
	d   rpc.Dealer
	srv *fakepeer.Server

	mu   sync.Mutex
	meta []metaEvent
}

func start(t testing.TB, newDealer NewDealer) *router {
	t.Helper()
	leakcheck.Check(t) // registered first: checks after everything else has shut down
	r := &router{t: t}
	r.d = newDealer(t, Env{CallQueueLimit: queueLimit, PublishMeta: func(topic wamp.URI, args wamp.List, _ wamp.Dict) {
		r.mu.Lock()
		r.meta = append(r.meta, metaEvent{topic, args})
		r.mu.Unlock()
	}})
	t.Cleanup(r.d.Close) // after the server's shutdown (cleanups run last-in first-out)
	g := &fakepeer.Gate{OnLeave: r.d.Leave}
	dispatch.On(&g.Routes, r.d.Register)
	dispatch.On(&g.Routes, r.d.Unregister)
	dispatch.On(&g.Routes, r.d.Call)
	dispatch.On(&g.Routes, r.d.Cancel)
	dispatch.On(&g.Routes, r.d.Yield)
	dispatch.On(&g.Routes, r.d.Error)
	r.srv = fakepeer.Serve(t, g)
	return r
}

func (r *router) join(authid, authrole string) *fakepeer.Client {
	r.t.Helper()
	return r.srv.Join(r.t, "realm1", fakepeer.Options{Details: wamp.Dict{"authid": authid, "authrole": authrole}})
}

// joinWithout joins a session whose callee role lacks the named features.
func (r *router) joinWithout(authid string, calleeFeatures ...string) *fakepeer.Client {
	r.t.Helper()
	roles := fakepeer.Roles()
	f := roles["callee"].(wamp.Dict)["features"].(wamp.Dict)
	for _, name := range calleeFeatures {
		delete(f, name)
	}
	return r.srv.Join(r.t, "realm1", fakepeer.Options{Details: wamp.Dict{"authid": authid, "authrole": "user", "roles": roles,
		"agent": "rpctest"}})
}

func register(t testing.TB, c *fakepeer.Client, proc wamp.URI, opts wamp.Dict) wamp.ID {
	t.Helper()
	if opts == nil {
		opts = wamp.Dict{}
	}
	req := c.NextID()
	c.Send(&wamp.Register{Request: req, Options: opts, Procedure: proc})
	m := fakepeer.Expect[*wamp.Registered](t, c)
	if m.Request != req {
		t.Fatalf("REGISTERED for %d, want %d", m.Request, req)
	}
	return m.Registration
}

func registerFails(t testing.TB, c *fakepeer.Client, proc wamp.URI, opts wamp.Dict, want wamp.URI) {
	t.Helper()
	req := c.NextID()
	c.Send(&wamp.Register{Request: req, Options: opts, Procedure: proc})
	if m := fakepeer.Expect[*wamp.Error](t, c); m.Error != want || m.Request != req || m.RequestType != wamp.TypeRegister {
		t.Errorf("register %s %v: %s for %s %d, want %s", proc, opts, m.Error, m.RequestType, m.Request, want)
	}
}

// call sends a CALL and returns its request ID.
func call(c *fakepeer.Client, proc wamp.URI, opts wamp.Dict, args ...any) wamp.ID {
	if opts == nil {
		opts = wamp.Dict{}
	}
	req := c.NextID()
	c.Send(&wamp.Call{Request: req, Options: opts, Procedure: proc, Payload: wamp.WithArgs(args...)})
	return req
}

func invocation(t testing.TB, c *fakepeer.Client) *wamp.Invocation {
	t.Helper()
	return fakepeer.Expect[*wamp.Invocation](t, c)
}

func yield(c *fakepeer.Client, inv *wamp.Invocation, opts wamp.Dict, args ...any) {
	if opts == nil {
		opts = wamp.Dict{}
	}
	c.Send(&wamp.Yield{Request: inv.Request, Options: opts, Payload: wamp.WithArgs(args...)})
}

func result(t testing.TB, c *fakepeer.Client, req wamp.ID, want string) *wamp.Result {
	t.Helper()
	m := fakepeer.Expect[*wamp.Result](t, c)
	if m.Request != req {
		t.Fatalf("RESULT for %d, want %d", m.Request, req)
	}
	if want != "" {
		if got := arg0(t, m.Payload); got != want {
			t.Fatalf("RESULT %v, want %q", got, want)
		}
	}
	return m
}

func callError(t testing.TB, c *fakepeer.Client, req wamp.ID, want wamp.URI) *wamp.Error {
	t.Helper()
	m := fakepeer.Expect[*wamp.Error](t, c)
	if m.Request != req || m.RequestType != wamp.TypeCall || m.Error != want {
		t.Fatalf("ERROR %s for %s %d, want %s for CALL %d", m.Error, m.RequestType, m.Request, want, req)
	}
	return m
}

func arg0(t testing.TB, p wamp.Payload) any {
	t.Helper()
	args, _, err := p.Values()
	if err != nil || len(args) == 0 {
		t.Fatalf("no arguments (%v)", err)
	}
	return args[0]
}

// echo serves one invocation: it yields its first argument.
func echo(t testing.TB, c *fakepeer.Client) *wamp.Invocation {
	t.Helper()
	inv := invocation(t, c)
	yield(c, inv, nil, arg0(t, inv.Payload))
	return inv
}

// roundTrip proves that nothing is pending for caller and callee: a fresh call on proc is
// the next thing each sees.
func roundTrip(t testing.TB, caller, callee *fakepeer.Client, proc wamp.URI) {
	t.Helper()
	req := call(caller, proc, nil, "ping")
	echo(t, callee)
	result(t, caller, req, "ping")
}

// DealerContract runs the suite against dealers made by newDealer.
func DealerContract(t *testing.T, newDealer NewDealer) {
	run := func(name string, f func(t *testing.T, r *router)) {
		t.Run(name, func(t *testing.T) {
			r := start(t, newDealer)
			f(t, r)
			if st, ok := r.d.(StatsReporter); ok && r.srv.DropAll() { // everyone leaves
				if s := st.Stats(); s != (rpc.Stats{}) {
					t.Errorf("after every session left the dealer still holds %+v", s)
				}
			}
		})
	}
	run("CallYieldResult", testCall)
	run("RegistrationErrors", testRegistrationErrors)
	run("Unregister", testUnregister)
	run("Patterns", testPatterns)
	for _, policy := range []string{rpc.InvokeRoundRobin, rpc.InvokeRandom, rpc.InvokeFirst, rpc.InvokeLast} {
		run("SharedRegistration/"+policy, func(t *testing.T, r *router) { testShared(t, r, policy) })
	}
	run("CalleeError", testCalleeError)
	run("ProgressiveResults", testProgressiveResults)
	run("ProgressiveInvocations", testProgressiveInvocations)
	run("ProgressiveInvocationsQueued", testProgressiveQueued)
	run("ProgressiveInvocationsQueuedBound", testProgressiveQueuedBound)
	run("ProgressiveInvocationsAfterEnd", testProgressiveAfterEnd)
	run("CancelSkip", testCancelSkip)
	run("CancelKill", testCancelKill)
	run("CancelKillNoWait", testCancelKillNoWait)
	run("CancelWithoutCalleeSupport", testCancelUnsupported)
	run("Timeout", testTimeout)
	run("CallerDisclosure", testDisclosure)
	run("ConcurrencyAndQueue", testQueue)
	run("CalleeLeavesMidCall", testCalleeLeaves)
	run("CallerLeavesMidCall", testCallerLeaves)
	run("MetaEvents", testMetaEvents)
	run("MetaProcedures", testMetaProcedures)
	run("RacingAnswersCancelsAndDepartures", testRaces)
}

func testCall(t *testing.T, r *router) {
	callee, caller := r.join("callee", "backend"), r.join("caller", "user")
	reg := register(t, callee, "com.echo", nil)
	req := call(caller, "com.echo", nil, "hi", int64(2))
	inv := invocation(t, callee)
	if inv.Registration != reg {
		t.Errorf("INVOCATION for registration %d, want %d", inv.Registration, reg)
	}
	if args, _, _ := inv.Payload.Values(); fmt.Sprint(args) != "[hi 2]" {
		t.Errorf("INVOCATION arguments %v", args)
	}
	for _, k := range []string{"caller", "procedure", "receive_progress", "timeout"} {
		if _, ok := inv.Details[k]; ok {
			t.Errorf("plain INVOCATION has details.%s: %v", k, inv.Details)
		}
	}
	callee.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Payload{Args: wamp.List{"ok"}, Kwargs: wamp.Dict{"k": "v"}}})
	res := result(t, caller, req, "ok")
	if _, kw, _ := res.Payload.Values(); kw["k"] != "v" {
		t.Errorf("RESULT kwargs %v", kw)
	}
	// A second YIELD for the answered invocation is dropped: the caller's next message is the
	// next call's result.
	yield(callee, inv, nil, "late")
	roundTrip(t, caller, callee, "com.echo")
	// A callee may call itself.
	req = call(callee, "com.echo", nil, "self")
	echo(t, callee)
	result(t, callee, req, "self")
	// Nobody registered.
	req = call(caller, "com.nothing", nil)
	callError(t, caller, req, wamp.ErrNoSuchProcedure)
}

func testRegistrationErrors(t *testing.T, r *router) {
	a, b := r.join("a", "user"), r.join("b", "user")
	register(t, a, "com.single", nil)
	registerFails(t, b, "com.single", nil, wamp.ErrProcedureAlreadyExists)
	registerFails(t, a, "com.single", nil, wamp.ErrProcedureAlreadyExists)
	registerFails(t, b, "com.single", wamp.Dict{"invoke": "roundrobin"}, wamp.ErrProcedureAlreadyExists)
	register(t, a, "com.shared", wamp.Dict{"invoke": "first"})
	registerFails(t, b, "com.shared", wamp.Dict{"invoke": "last"}, wamp.ErrProcedureAlreadyExists)
	registerFails(t, b, "com.shared", nil, wamp.ErrProcedureAlreadyExists)
	registerFails(t, a, "com.shared", wamp.Dict{"invoke": "first"}, wamp.ErrProcedureAlreadyExists)
	register(t, b, "com.shared", wamp.Dict{"invoke": "first"})
	// The same URI with another match policy is another registration.
	register(t, b, "com.single", wamp.Dict{"match": "prefix"})
	registerFails(t, a, "com..x", nil, wamp.ErrInvalidURI)
	registerFails(t, a, "", nil, wamp.ErrInvalidURI)
	registerFails(t, a, "wamp.session.kill", nil, wamp.ErrInvalidURI)
}

func testUnregister(t *testing.T, r *router) {
	a, b, caller := r.join("a", "user"), r.join("b", "user"), r.join("c", "user")
	regA := register(t, a, "com.u", wamp.Dict{"invoke": "first"})
	regB := register(t, b, "com.u", wamp.Dict{"invoke": "first"})
	if regA != regB {
		t.Errorf("shared registration IDs %d and %d differ", regA, regB)
	}
	for _, c := range []*fakepeer.Client{b, a} { // someone else's registration, then unknown
		req := c.NextID()
		c.Send(&wamp.Unregister{Request: req, Registration: regA + 1000})
		if m := fakepeer.Expect[*wamp.Error](t, c); m.Error != wamp.ErrNoSuchRegistration || m.Request != req {
			t.Errorf("unregister unknown: %s", m.Error)
		}
	}
	req := a.NextID()
	a.Send(&wamp.Unregister{Request: req, Registration: regA})
	if m := fakepeer.Expect[*wamp.Unregistered](t, a); m.Request != req {
		t.Errorf("UNREGISTERED for %d, want %d", m.Request, req)
	}
	roundTrip(t, caller, b, "com.u") // b still serves it
	b.Send(&wamp.Unregister{Request: b.NextID(), Registration: regB})
	fakepeer.Expect[*wamp.Unregistered](t, b)
	callError(t, caller, call(caller, "com.u", nil), wamp.ErrNoSuchProcedure)
	// Registering again is a fresh registration.
	register(t, a, "com.u", nil)
	roundTrip(t, caller, a, "com.u")
}

func testPatterns(t *testing.T, r *router) {
	exact, short, long, wild, caller := r.join("e", "u"), r.join("s", "u"), r.join("l", "u"), r.join("w", "u"), r.join("c", "u")
	register(t, exact, "com.app.a.b", nil)
	register(t, short, "com.app", wamp.Dict{"match": "prefix"})
	register(t, long, "com.app.a", wamp.Dict{"match": "prefix"})
	wreg := register(t, wild, "com..b", wamp.Dict{"match": "wildcard"})
	cases := []struct {
		proc   wamp.URI
		callee *fakepeer.Client
	}{
		{"com.app.a.b", exact}, // exact beats every pattern
		{"com.app.a.c", long},  // the longest prefix wins
		{"com.app.z", short},
		{"com.app.a", long},
		{"com.other.b", wild},
	}
	for _, tc := range cases {
		req := call(caller, tc.proc, nil, string(tc.proc))
		inv := echo(t, tc.callee)
		result(t, caller, req, string(tc.proc))
		_, named := inv.Details["procedure"]
		if tc.callee == exact && named || tc.callee != exact && inv.Details["procedure"] != string(tc.proc) {
			t.Errorf("call %s: INVOCATION details %v", tc.proc, inv.Details)
		}
		if tc.callee == wild && inv.Registration != wreg {
			t.Errorf("wildcard INVOCATION for registration %d, want %d", inv.Registration, wreg)
		}
	}
	callError(t, caller, call(caller, "org.app.a.c", nil), wamp.ErrNoSuchProcedure)
}

// testShared pins which callee of a shared registration each call goes to.
func testShared(t *testing.T, r *router, policy string) {
	callees := []*fakepeer.Client{r.join("c1", "u"), r.join("c2", "u"), r.join("c3", "u")}
	for _, c := range callees {
		register(t, c, "com.shared", wamp.Dict{"invoke": policy})
	}
	caller := r.join("caller", "u")
	// serve answers one call and reports which callee took it.
	serve := func() int {
		t.Helper()
		req := call(caller, "com.shared", nil, "x")
		for {
			for i, c := range callees {
				m, err := c.TryRecv(time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				if inv, ok := m.(*wamp.Invocation); ok {
					yield(c, inv, nil, "x")
					result(t, caller, req, "x")
					return i
				}
			}
		}
	}
	var got []int
	for range 9 {
		got = append(got, serve())
	}
	seq := fmt.Sprint(got)
	switch policy {
	case rpc.InvokeRoundRobin:
		if seq != "[0 1 2 0 1 2 0 1 2]" {
			t.Errorf("roundrobin served by %v", seq)
		}
	case rpc.InvokeFirst:
		if seq != "[0 0 0 0 0 0 0 0 0]" {
			t.Errorf("first served by %v", seq)
		}
	case rpc.InvokeLast:
		if seq != "[2 2 2 2 2 2 2 2 2]" {
			t.Errorf("last served by %v", seq)
		}
	case rpc.InvokeRandom:
		seen := map[int]bool{}
		for range 40 {
			seen[serve()] = true
		}
		if len(seen) < 2 {
			t.Errorf("random served 49 calls by callees %v only", seen)
		}
	}
	// A callee at its concurrency limit is passed over: the first callee leaves, and first
	// then goes to the next in line, last still to the last.
	callees[0].Drop()
	callees = callees[1:]
	switch policy {
	case rpc.InvokeFirst:
		if i := serve(); i != 0 {
			t.Errorf("first, after the first callee left: served by c%d", i+2)
		}
	case rpc.InvokeLast:
		if i := serve(); i != 1 {
			t.Errorf("last, after the first callee left: served by c%d", i+2)
		}
	default:
		serve()
	}
}

func testCalleeError(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.fail", nil)
	req := call(caller, "com.fail", nil)
	inv := invocation(t, callee)
	callee.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: inv.Request, Details: wamp.Dict{},
		Error: "com.app.refused", Payload: wamp.Payload{Args: wamp.List{"no"}, Kwargs: wamp.Dict{"why": "because"}}})
	m := callError(t, caller, req, "com.app.refused")
	if args, kw, _ := m.Payload.Values(); fmt.Sprint(args) != "[no]" || kw["why"] != "because" {
		t.Errorf("ERROR payload %v %v", args, kw)
	}
	// An ERROR for an unknown invocation is dropped.
	callee.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: 99999, Details: wamp.Dict{}, Error: "x.y"})
	roundTrip(t, caller, callee, "com.fail")
}

func testProgressiveResults(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.stream", nil)
	req := call(caller, "com.stream", wamp.Dict{"receive_progress": true})
	inv := invocation(t, callee)
	if inv.Details["receive_progress"] != true {
		t.Errorf("INVOCATION details %v lack receive_progress", inv.Details)
	}
	yield(callee, inv, wamp.Dict{"progress": true}, "p1")
	yield(callee, inv, wamp.Dict{"progress": true}, "p2")
	yield(callee, inv, nil, "done")
	for _, want := range []string{"p1", "p2"} {
		if res := result(t, caller, req, want); res.Details["progress"] != true {
			t.Errorf("progressive RESULT %s without progress: %v", want, res.Details)
		}
	}
	if res := result(t, caller, req, "done"); res.Details["progress"] == true {
		t.Errorf("final RESULT marked progress")
	}
	// A caller that did not ask for progress gets the final result only.
	req = call(caller, "com.stream", nil)
	inv = invocation(t, callee)
	yield(callee, inv, wamp.Dict{"progress": true}, "p1")
	yield(callee, inv, nil, "done")
	result(t, caller, req, "done")
}

func testProgressiveInvocations(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.upload", nil)
	req := call(caller, "com.upload", wamp.Dict{"progress": true}, "chunk1")
	first := invocation(t, callee)
	if first.Details["progress"] != true {
		t.Errorf("first INVOCATION details %v lack progress", first.Details)
	}
	caller.Send(&wamp.Call{Request: req, Options: wamp.Dict{"progress": true}, Procedure: "com.upload", Payload: wamp.WithArgs("chunk2")})
	caller.Send(&wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: "com.upload", Payload: wamp.WithArgs("last")})
	for _, want := range []string{"chunk2", "last"} {
		inv := invocation(t, callee)
		if inv.Request != first.Request || arg0(t, inv.Payload) != want {
			t.Errorf("continuation INVOCATION %d %v, want %d %s", inv.Request, inv.Payload.Args, first.Request, want)
		}
		if p := inv.Details["progress"] == true; p != (want != "last") {
			t.Errorf("INVOCATION %s details %v", want, inv.Details)
		}
	}
	yield(callee, first, nil, "stored")
	result(t, caller, req, "stored")
	// Once the call completed, a CALL with its request ID is no continuation of the finished
	// invocation: it is a new call.
	caller.Send(&wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: "com.upload", Payload: wamp.WithArgs("stray")})
	if inv := invocation(t, callee); inv.Request == first.Request {
		t.Errorf("a CALL after completion continued the finished invocation")
	} else {
		yield(callee, inv, nil, "new")
		result(t, caller, req, "new")
	}
	// A callee that cannot take progressive invocations is never given one.
	plain := r.joinWithout("plain", "progressive_call_invocations")
	register(t, plain, "com.plain", nil)
	callError(t, caller, call(caller, "com.plain", wamp.Dict{"progress": true}, "x"), wamp.ErrFeatureNotSupported)
}

// chunk sends one more CALL of the progressive call req.
func chunk(c *fakepeer.Client, req wamp.ID, proc wamp.URI, more bool, arg string) {
	opts := wamp.Dict{}
	if more {
		opts["progress"] = true
	}
	c.Send(&wamp.Call{Request: req, Options: opts, Procedure: proc, Payload: wamp.WithArgs(arg)})
}

// settled proves the dealer has handled every message c sent so far: a call to a procedure
// nobody registered is answered in order after them.
func settled(t testing.TB, c *fakepeer.Client) {
	t.Helper()
	callError(t, c, call(c, "com.nobody.registered", nil), wamp.ErrNoSuchProcedure)
}

// expectChunks checks that the callee gets the chunks of the invocation first, in order,
// each marked progress but the last.
func expectChunks(t testing.TB, callee *fakepeer.Client, first *wamp.Invocation, want ...string) {
	t.Helper()
	for i, w := range want {
		inv := invocation(t, callee)
		if inv.Request != first.Request || arg0(t, inv.Payload) != w {
			t.Fatalf("INVOCATION %d %v, want chunk %q of invocation %d", inv.Request, inv.Payload.Args, w, first.Request)
		}
		if p := inv.Details["progress"] == true; p != (i < len(want)-1) {
			t.Errorf("chunk %q: INVOCATION details %v", w, inv.Details)
		}
	}
}

// A progressive call that waits in the queue keeps the chunks that arrive meanwhile and
// delivers them, in order, once a callee takes it.
func testProgressiveQueued(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.upload", wamp.Dict{"concurrency": int64(1)})
	busy := call(caller, "com.upload", nil, "busy")
	running := invocation(t, callee)
	req := call(caller, "com.upload", wamp.Dict{"progress": true}, "chunk1")
	chunk(caller, req, "com.upload", true, "chunk2")
	chunk(caller, req, "com.upload", false, "last")
	settled(t, caller) // all three arrived while the call was queued
	yield(callee, running, nil, "busy")
	result(t, caller, busy, "busy")
	first := invocation(t, callee)
	if first.Details["progress"] != true || arg0(t, first.Payload) != "chunk1" {
		t.Fatalf("first INVOCATION %v %v, want chunk1 marked progress", first.Details, first.Payload.Args)
	}
	expectChunks(t, callee, first, "chunk2", "last")
	yield(callee, first, nil, "stored")
	result(t, caller, req, "stored")

	// Chunks queued while the call waits and chunks sent after it was taken arrive in order.
	busy = call(caller, "com.upload", nil, "busy")
	running = invocation(t, callee)
	req = call(caller, "com.upload", wamp.Dict{"progress": true}, "a")
	chunk(caller, req, "com.upload", true, "b")
	settled(t, caller)
	yield(callee, running, nil, "busy")
	result(t, caller, busy, "busy")
	chunk(caller, req, "com.upload", true, "c")
	chunk(caller, req, "com.upload", false, "d")
	first = invocation(t, callee)
	if arg0(t, first.Payload) != "a" {
		t.Fatalf("first INVOCATION %v, want chunk a", first.Payload.Args)
	}
	expectChunks(t, callee, first, "b", "c", "d")
	yield(callee, first, nil, "stored")
	result(t, caller, req, "stored")
	roundTrip(t, caller, callee, "com.upload")
}

// The chunks a queued progressive call holds are bounded (by the call queue bound here):
// past it the call is refused with wamp.error.unavailable, and its later chunks are dropped,
// never taken as new calls.
func testProgressiveQueuedBound(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.upload", wamp.Dict{"concurrency": int64(1)})
	busy := call(caller, "com.upload", nil, "busy")
	running := invocation(t, callee)
	req := call(caller, "com.upload", wamp.Dict{"progress": true}, "chunk1")
	for i := range queueLimit {
		chunk(caller, req, "com.upload", true, fmt.Sprint("held", i))
	}
	chunk(caller, req, "com.upload", true, "one too many")
	callError(t, caller, req, wamp.ErrUnavailable)
	chunk(caller, req, "com.upload", true, "after the refusal")
	chunk(caller, req, "com.upload", false, "last after the refusal")
	settled(t, caller)
	yield(callee, running, nil, "busy")
	result(t, caller, busy, "busy")
	// The refused call never reaches the callee, and its later chunks started nothing: the
	// next thing each side sees is a fresh call.
	roundTrip(t, caller, callee, "com.upload")
}

// Chunks of a progressive call that is over (refused, canceled, timed out, answered) are
// dropped: they never start a new call, and the caller gets no second answer.
func testProgressiveAfterEnd(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.upload", wamp.Dict{"concurrency": int64(1)})

	// Canceled while running.
	req := call(caller, "com.upload", wamp.Dict{"progress": true}, "chunk1")
	inv := invocation(t, callee)
	cancel(caller, req, rpc.CancelKillNoWait)
	callError(t, caller, req, wamp.ErrCanceled)
	interrupt(t, callee, inv, rpc.CancelKillNoWait)
	callee.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: inv.Request, Details: wamp.Dict{}, Error: wamp.ErrCanceled})
	chunk(caller, req, "com.upload", true, "after cancel")
	chunk(caller, req, "com.upload", false, "last after cancel")
	roundTrip(t, caller, callee, "com.upload")

	// Canceled while queued.
	busy := call(caller, "com.upload", nil, "busy")
	running := invocation(t, callee)
	req = call(caller, "com.upload", wamp.Dict{"progress": true}, "chunk1")
	cancel(caller, req, rpc.CancelSkip)
	callError(t, caller, req, wamp.ErrCanceled)
	chunk(caller, req, "com.upload", true, "after cancel")
	chunk(caller, req, "com.upload", false, "last after cancel")
	settled(t, caller)
	yield(callee, running, nil, "busy")
	result(t, caller, busy, "busy")
	roundTrip(t, caller, callee, "com.upload")

	// Refused at once: the call queue is full.
	busy = call(caller, "com.upload", nil, "busy")
	running = invocation(t, callee)
	queued := []wamp.ID{call(caller, "com.upload", nil, "q1"), call(caller, "com.upload", nil, "q2")}
	req = call(caller, "com.upload", wamp.Dict{"progress": true}, "chunk1")
	callError(t, caller, req, wamp.ErrUnavailable)
	chunk(caller, req, "com.upload", true, "after refusal")
	chunk(caller, req, "com.upload", false, "last after refusal")
	settled(t, caller)
	yield(callee, running, nil, "busy")
	result(t, caller, busy, "busy")
	for i, q := range queued {
		want := fmt.Sprint("q", i+1)
		if got := echo(t, callee); arg0(t, got.Payload) != want {
			t.Fatalf("queued INVOCATION %v, want %s", got.Payload.Args, want)
		}
		result(t, caller, q, want)
	}
	roundTrip(t, caller, callee, "com.upload")

	// Answered by the callee before the caller finished streaming.
	req = call(caller, "com.upload", wamp.Dict{"progress": true}, "chunk1")
	inv = invocation(t, callee)
	yield(callee, inv, nil, "enough")
	result(t, caller, req, "enough")
	chunk(caller, req, "com.upload", true, "after the answer")
	chunk(caller, req, "com.upload", false, "last after the answer")
	roundTrip(t, caller, callee, "com.upload")

	// Refused when a callee without progressive call invocations takes it from the queue.
	plain := r.joinWithout("plain", "progressive_call_invocations")
	register(t, plain, "com.plain", wamp.Dict{"concurrency": int64(1)})
	busy = call(caller, "com.plain", nil, "busy")
	running = invocation(t, plain)
	req = call(caller, "com.plain", wamp.Dict{"progress": true}, "chunk1")
	chunk(caller, req, "com.plain", true, "chunk2")
	settled(t, caller)
	yield(plain, running, nil, "busy")
	result(t, caller, busy, "busy")
	callError(t, caller, req, wamp.ErrFeatureNotSupported)
	chunk(caller, req, "com.plain", false, "last after refusal")
	roundTrip(t, caller, plain, "com.plain")

	// Timed out (the dealer's timeout) while streaming.
	req = call(caller, "com.upload", wamp.Dict{"progress": true, "timeout": int64(100)}, "chunk1")
	inv = invocation(t, callee)
	callError(t, caller, req, wamp.ErrTimeout)
	interrupt(t, callee, inv, rpc.CancelKillNoWait)
	callee.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: inv.Request, Details: wamp.Dict{}, Error: wamp.ErrCanceled})
	chunk(caller, req, "com.upload", true, "after the timeout")
	chunk(caller, req, "com.upload", false, "last after the timeout")
	roundTrip(t, caller, callee, "com.upload")
}

func cancel(c *fakepeer.Client, req wamp.ID, mode string) {
	c.Send(&wamp.Cancel{Request: req, Options: wamp.Dict{"mode": mode}})
}

func interrupt(t testing.TB, c *fakepeer.Client, inv *wamp.Invocation, mode string) {
	t.Helper()
	m := fakepeer.Expect[*wamp.Interrupt](t, c)
	if m.Request != inv.Request || m.Options["mode"] != mode {
		t.Errorf("INTERRUPT %d %v, want %d mode %s", m.Request, m.Options, inv.Request, mode)
	}
}

func testCancelSkip(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.slow", nil)
	req := call(caller, "com.slow", nil)
	inv := invocation(t, callee)
	cancel(caller, req, rpc.CancelSkip)
	callError(t, caller, req, wamp.ErrCanceled)
	yield(callee, inv, nil, "too late") // dropped; no INTERRUPT was sent
	roundTrip(t, caller, callee, "com.slow")
	// Canceling a call that was answered changes nothing.
	cancel(caller, req, rpc.CancelKill)
	roundTrip(t, caller, callee, "com.slow")
}

func testCancelKill(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.slow", nil)
	req := call(caller, "com.slow", nil)
	inv := invocation(t, callee)
	cancel(caller, req, rpc.CancelKill)
	interrupt(t, callee, inv, rpc.CancelKill)
	// The caller waits for the callee's answer, whatever it is.
	cancel(caller, req, rpc.CancelKill) // a second cancel changes nothing
	callee.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: inv.Request, Details: wamp.Dict{}, Error: wamp.ErrCanceled})
	callError(t, caller, req, wamp.ErrCanceled)
	// A callee may still finish the work: its YIELD is the answer.
	req = call(caller, "com.slow", nil)
	inv = invocation(t, callee)
	cancel(caller, req, rpc.CancelKill)
	interrupt(t, callee, inv, rpc.CancelKill)
	yield(callee, inv, nil, "finished anyway")
	result(t, caller, req, "finished anyway")
	roundTrip(t, caller, callee, "com.slow")
}

func testCancelKillNoWait(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.slow", nil)
	req := call(caller, "com.slow", nil)
	inv := invocation(t, callee)
	caller.Send(&wamp.Cancel{Request: req, Options: wamp.Dict{}}) // killnowait is the default
	callError(t, caller, req, wamp.ErrCanceled)
	interrupt(t, callee, inv, rpc.CancelKillNoWait)
	callee.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: inv.Request, Details: wamp.Dict{}, Error: wamp.ErrCanceled})
	roundTrip(t, caller, callee, "com.slow") // the callee's late ERROR was dropped
}

// A callee that does not announce call canceling is never interrupted: every mode is skip.
func testCancelUnsupported(t *testing.T, r *router) {
	callee, caller := r.joinWithout("callee", "call_canceling"), r.join("caller", "u")
	register(t, callee, "com.slow", nil)
	for _, mode := range []string{rpc.CancelKill, rpc.CancelKillNoWait} {
		req := call(caller, "com.slow", nil)
		inv := invocation(t, callee)
		cancel(caller, req, mode)
		callError(t, caller, req, wamp.ErrCanceled)
		yield(callee, inv, nil, "late")
		roundTrip(t, caller, callee, "com.slow") // no INTERRUPT came before the next INVOCATION
	}
}

func testTimeout(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	register(t, callee, "com.slow", nil)
	req := call(caller, "com.slow", wamp.Dict{"timeout": int64(30)})
	inv := invocation(t, callee)
	if _, ok := inv.Details["timeout"]; ok {
		t.Errorf("the router enforces the timeout, yet forwarded it: %v", inv.Details)
	}
	callError(t, caller, req, wamp.ErrTimeout)
	interrupt(t, callee, inv, rpc.CancelKillNoWait)
	yield(callee, inv, nil, "late")
	// A call answered in time leaves no deadline behind.
	req = call(caller, "com.slow", wamp.Dict{"timeout": int64(5000)}, "x")
	echo(t, callee)
	result(t, caller, req, "")
	if st, ok := r.d.(StatsReporter); ok {
		if n := st.Stats().Timeouts; n != 0 {
			t.Errorf("%d deadlines still scheduled after the call was answered", n)
		}
	}
	// A callee registered with forward_timeout gets the timeout and enforces it itself.
	fwd := r.join("fwd", "u")
	register(t, fwd, "com.fwd", wamp.Dict{"forward_timeout": true})
	req = call(caller, "com.fwd", wamp.Dict{"timeout": int64(20)})
	inv = invocation(t, fwd)
	if v, _ := wamp.AsInt64(inv.Details["timeout"]); v != 20 {
		t.Errorf("forwarded timeout %v", inv.Details["timeout"])
	}
	time.Sleep(50 * time.Millisecond)
	yield(fwd, inv, nil, "mine to enforce")
	result(t, caller, req, "mine to enforce")
	// A queued call times out too, and never reaches the callee.
	register(t, callee, "com.one", wamp.Dict{"concurrency": int64(1)})
	first := call(caller, "com.one", nil, "first")
	busy := invocation(t, callee)
	queued := call(caller, "com.one", wamp.Dict{"timeout": int64(20)}, "queued")
	callError(t, caller, queued, wamp.ErrTimeout)
	yield(callee, busy, nil, "first")
	result(t, caller, first, "first")
	roundTrip(t, caller, callee, "com.one")
}

func testDisclosure(t *testing.T, r *router) {
	callee, discloser, caller := r.join("callee", "u"), r.join("d", "u"), r.join("alice", "admin")
	register(t, callee, "com.plain", nil)
	register(t, discloser, "com.disclosed", wamp.Dict{"disclose_caller": true})
	check := func(inv *wamp.Invocation, want bool) {
		t.Helper()
		if !want {
			if _, ok := inv.Details["caller"]; ok {
				t.Errorf("undisclosed call's INVOCATION has %v", inv.Details)
			}
			return
		}
		if fmt.Sprint(inv.Details["caller"]) != fmt.Sprint(caller.ID) || inv.Details["caller_authid"] != "alice" ||
			inv.Details["caller_authrole"] != "admin" {
			t.Errorf("disclosed INVOCATION details %v, want caller %d alice admin", inv.Details, caller.ID)
		}
	}
	req := call(caller, "com.plain", nil, "a")
	check(echo(t, callee), false)
	result(t, caller, req, "a")
	req = call(caller, "com.plain", wamp.Dict{"disclose_me": true}, "b")
	check(echo(t, callee), true)
	result(t, caller, req, "b")
	req = call(caller, "com.disclosed", nil, "c")
	check(echo(t, discloser), true)
	result(t, caller, req, "c")
}

// testQueue pins the concurrency limit and the call queue: calls beyond a callee's limit wait,
// in order, up to the queue's bound; past it they fail with wamp.error.unavailable; a queued
// call can be canceled; unregistering fails what still waits.
func testQueue(t *testing.T, r *router) {
	callee, caller := r.join("callee", "u"), r.join("caller", "u")
	reg := register(t, callee, "com.one", wamp.Dict{"concurrency": int64(1)})
	r1 := call(caller, "com.one", nil, "1")
	inv1 := invocation(t, callee)
	r2 := call(caller, "com.one", nil, "2")
	r3 := call(caller, "com.one", nil, "3")
	r4 := call(caller, "com.one", nil, "4") // the queue holds two
	callError(t, caller, r4, wamp.ErrUnavailable)
	yield(callee, inv1, nil, "1")
	result(t, caller, r1, "1")
	inv2 := invocation(t, callee)
	if arg0(t, inv2.Payload) != "2" {
		t.Fatalf("queued calls out of order: %v first", inv2.Payload.Args)
	}
	cancel(caller, r3, rpc.CancelKill) // still queued: canceled at once, never invoked
	callError(t, caller, r3, wamp.ErrCanceled)
	yield(callee, inv2, nil, "2")
	result(t, caller, r2, "2")
	roundTrip(t, caller, callee, "com.one")

	r5 := call(caller, "com.one", nil, "5")
	inv5 := invocation(t, callee)
	r6 := call(caller, "com.one", nil, "6")
	r7 := call(caller, "com.one", nil, "7")
	// The refusal of a third queued call proves the dealer holds the two before it.
	callError(t, caller, call(caller, "com.one", nil, "8"), wamp.ErrUnavailable)
	callee.Send(&wamp.Unregister{Request: callee.NextID(), Registration: reg})
	fakepeer.Expect[*wamp.Unregistered](t, callee)
	// Calls queued on a registration that is gone fail.
	callError(t, caller, r6, wamp.ErrCanceled)
	callError(t, caller, r7, wamp.ErrCanceled)
	// The running call is still the callee's to answer.
	yield(callee, inv5, nil, "5")
	result(t, caller, r5, "5")
}

func testCalleeLeaves(t *testing.T, r *router) {
	callee, other, caller := r.join("callee", "u"), r.join("other", "u"), r.join("caller", "u")
	register(t, callee, "com.one", wamp.Dict{"concurrency": int64(1), "invoke": "first"})
	register(t, other, "com.other", nil)
	running := call(caller, "com.one", wamp.Dict{"timeout": int64(60000)}, "running")
	invocation(t, callee)
	queued := []wamp.ID{call(caller, "com.one", nil, "queued"), call(caller, "com.one", nil, "queued")}
	callError(t, caller, call(caller, "com.one", nil), wamp.ErrUnavailable) // the queue is full: both are in it
	callee.Drop()
	got := map[wamp.ID]wamp.URI{}
	for range 3 {
		m := fakepeer.Expect[*wamp.Error](t, caller)
		got[m.Request] = m.Error
	}
	for _, req := range append(queued, running) {
		if got[req] != wamp.ErrCanceled {
			t.Errorf("callee left: the caller got %v, want %s for calls %d, %v", got, wamp.ErrCanceled, running, queued)
			break
		}
	}
	callError(t, caller, call(caller, "com.one", nil), wamp.ErrNoSuchProcedure)
	roundTrip(t, caller, other, "com.other")
}

func testCallerLeaves(t *testing.T, r *router) {
	callee, caller, next := r.join("callee", "u"), r.join("caller", "u"), r.join("next", "u")
	register(t, callee, "com.one", wamp.Dict{"concurrency": int64(1)})
	call(caller, "com.one", wamp.Dict{"timeout": int64(60000)}, "running")
	inv := invocation(t, callee)
	call(caller, "com.one", nil, "queued")
	caller.Drop()
	interrupt(t, callee, inv, rpc.CancelKillNoWait)
	yield(callee, inv, nil, "nobody listens")
	// The queued call of the caller that left is never invoked: the next call is.
	roundTrip(t, next, callee, "com.one")
}

func testMetaEvents(t *testing.T, r *router) {
	// A meta event may follow the reply it is about: wait for each before the next step, so
	// that the order across sessions is the order of the steps.
	waitMeta := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(fakepeer.Wait); ; time.Sleep(time.Millisecond) {
			r.mu.Lock()
			got := len(r.meta)
			r.mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d meta events, want %d", got, n)
			}
		}
	}
	a, b := r.join("a", "u"), r.join("b", "u")
	reg := register(t, a, "com.meta", wamp.Dict{"invoke": "roundrobin", "match": "prefix"})
	waitMeta(2)
	register(t, b, "com.meta", wamp.Dict{"invoke": "roundrobin", "match": "prefix"})
	waitMeta(3)
	a.Send(&wamp.Unregister{Request: a.NextID(), Registration: reg})
	fakepeer.Expect[*wamp.Unregistered](t, a)
	waitMeta(4)
	b.Drop()
	want := []struct {
		topic   wamp.URI
		session wamp.ID
	}{
		{"wamp.registration.on_create", a.ID}, {"wamp.registration.on_register", a.ID},
		{"wamp.registration.on_register", b.ID}, {"wamp.registration.on_unregister", a.ID},
		{"wamp.registration.on_unregister", b.ID}, {"wamp.registration.on_delete", b.ID},
	}
	r.mu.Lock()
	got := append([]metaEvent(nil), r.meta...)
	r.mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("meta events %v, want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.topic != w.topic || len(g.args) < 2 || fmt.Sprint(g.args[0]) != fmt.Sprint(w.session) {
			t.Errorf("meta event %d: %s %v, want %s from session %d", i, g.topic, g.args, w.topic, w.session)
			continue
		}
		if w.topic == "wamp.registration.on_create" {
			d, _ := g.args[1].(wamp.Dict)
			if d["uri"] != "com.meta" || d["match"] != "prefix" || d["invoke"] != "roundrobin" || fmt.Sprint(d["id"]) != fmt.Sprint(reg) {
				t.Errorf("on_create details %v", g.args[1])
			}
		} else if fmt.Sprint(g.args[1]) != fmt.Sprint(reg) {
			t.Errorf("%s names registration %v, want %d", w.topic, g.args[1], reg)
		}
	}
}

func (r *router) metaCall(proc wamp.URI, args ...any) (any, error) {
	r.t.Helper()
	f, ok := r.d.MetaProcedures()[proc]
	if !ok {
		r.t.Fatalf("dealer does not serve %s", proc)
	}
	res, _, err := f(nil, wamp.List(args), nil)
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		r.t.Fatalf("%s returned %v", proc, res)
	}
	return res[0], nil
}

func uriOf(err error) wamp.URI {
	if ae, ok := err.(*wamp.ApplicationError); ok {
		return ae.URI
	}
	return ""
}

// testMetaProcedures pins the registration meta API the realm serves from the dealer.
func testMetaProcedures(t *testing.T, r *router) {
	a, b := r.join("a", "u"), r.join("b", "u")
	exact := register(t, a, "com.m.x", nil)
	prefix := register(t, a, "com.m", wamp.Dict{"match": "prefix", "invoke": "last"})
	register(t, b, "com.m", wamp.Dict{"match": "prefix", "invoke": "last"})
	same := func(what string, got any, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	got, _ := r.metaCall("wamp.registration.lookup", "com.m.x")
	same("lookup com.m.x", got, exact)
	got, _ = r.metaCall("wamp.registration.lookup", "com.m", wamp.Dict{"match": "prefix"})
	same("lookup com.m prefix", got, prefix)
	got, _ = r.metaCall("wamp.registration.lookup", "com.m")
	same("lookup com.m exact", got, nil)
	got, _ = r.metaCall("wamp.registration.match", "com.m.x")
	same("match com.m.x", got, exact)
	got, _ = r.metaCall("wamp.registration.match", "com.m.y.z")
	same("match com.m.y.z", got, prefix)
	got, _ = r.metaCall("wamp.registration.match", "org.x")
	same("match org.x", got, nil)
	got, _ = r.metaCall("wamp.registration.get", int64(prefix))
	if d, _ := got.(wamp.Dict); d["uri"] != "com.m" || d["match"] != "prefix" || d["invoke"] != "last" {
		t.Errorf("get = %v", got)
	}
	got, _ = r.metaCall("wamp.registration.count_callees", int64(prefix))
	same("count_callees", got, 2)
	got, _ = r.metaCall("wamp.registration.list_callees", int64(prefix))
	same("list_callees", got, wamp.List{a.ID, b.ID})
	got, _ = r.metaCall("wamp.registration.list")
	if l, _ := got.(wamp.Dict); fmt.Sprint(l["exact"]) != fmt.Sprint(wamp.List{exact}) || fmt.Sprint(l["prefix"]) != fmt.Sprint(wamp.List{prefix}) {
		t.Errorf("list = %v", got)
	}
	for _, proc := range []wamp.URI{"wamp.registration.get", "wamp.registration.list_callees", "wamp.registration.count_callees"} {
		if _, err := r.metaCall(proc, int64(424242)); uriOf(err) != wamp.ErrNoSuchRegistration {
			t.Errorf("%s of an unknown registration: %v", proc, err)
		}
		if _, err := r.metaCall(proc, "not an id"); uriOf(err) != wamp.ErrInvalidArgument {
			t.Errorf("%s with a bad argument: %v", proc, err)
		}
	}
	a.Drop()
	got, _ = r.metaCall("wamp.registration.list_callees", int64(prefix))
	same("list_callees after a left", got, wamp.List{b.ID})
	got, _ = r.metaCall("wamp.registration.lookup", "com.m.x")
	same("lookup after its only callee left", got, nil)
}

// testRaces runs callers and callees whose answers, cancels (every mode), timeouts and
// departures race each other, on the sessions' own goroutines, under the race detector in
// CI. It pins the invocation lock protocol: every path that takes an invocation's lock
// releases it exactly once (a path that forgets deadlocks the registration, and the callers'
// answers stop coming; one that unlocks twice panics), and every call gets exactly one final
// answer.
func testRaces(t *testing.T, r *router) {
	const (
		callees = 3
		callers = 5
		calls   = 60
	)
	var servers []*fakepeer.Client
	for i := range callees {
		c := r.join(fmt.Sprintf("callee%d", i), "u")
		register(t, c, "com.race", wamp.Dict{"invoke": "roundrobin", "concurrency": int64(2)})
		servers = append(servers, c)
	}
	stop := make(chan struct{})
	var serving sync.WaitGroup
	for i, c := range servers {
		serving.Add(1)
		go func() {
			defer serving.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				m, err := c.TryRecv(10 * time.Millisecond)
				if err != nil {
					return
				}
				switch m := m.(type) {
				case *wamp.Invocation:
					switch rng.IntN(4) {
					case 0:
						c.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: m.Request, Details: wamp.Dict{}, Error: "com.app.failed"})
					case 1:
						c.Send(&wamp.Yield{Request: m.Request, Options: wamp.Dict{"progress": true}, Payload: wamp.WithArgs("p")})
						fallthrough
					default:
						c.Send(&wamp.Yield{Request: m.Request, Options: wamp.Dict{}, Payload: wamp.WithArgs("ok")})
					}
					if rng.IntN(8) == 0 { // a duplicate answer: dropped
						c.Send(&wamp.Yield{Request: m.Request, Options: wamp.Dict{}, Payload: wamp.WithArgs("dup")})
					}
				case *wamp.Interrupt:
					c.Send(&wamp.Error{RequestType: wamp.TypeInvocation, Request: m.Request, Details: wamp.Dict{}, Error: wamp.ErrCanceled})
				}
			}
		}()
	}
	// The last callee leaves midway, with invocations in flight.
	go func() {
		time.Sleep(15 * time.Millisecond)
		servers[callees-1].Conn.Close(1000, "gone")
	}()

	var wg sync.WaitGroup
	errs := make(chan string, callers*calls)
	for i := range callers {
		c := r.join(fmt.Sprintf("caller%d", i), "u")
		leaves := i == callers-1 // this caller hangs up halfway through
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			open := map[wamp.ID]bool{}
			for n := range calls {
				req := wamp.ID(n + 1)
				opts := wamp.Dict{"receive_progress": true}
				if rng.IntN(4) == 0 {
					opts["timeout"] = int64(1 + rng.IntN(3))
				}
				c.Send(&wamp.Call{Request: req, Options: opts, Procedure: "com.race", Payload: wamp.WithArgs(n)})
				open[req] = true
				switch rng.IntN(4) {
				case 0:
					modes := []string{rpc.CancelSkip, rpc.CancelKill, rpc.CancelKillNoWait}
					c.Send(&wamp.Cancel{Request: req, Options: wamp.Dict{"mode": modes[rng.IntN(3)]}})
				}
				if leaves && n == calls/2 {
					c.Conn.Close(1000, "gone")
					return
				}
			}
			for len(open) > 0 {
				m, err := c.TryRecv(fakepeer.Wait)
				if err != nil || m == nil {
					errs <- fmt.Sprintf("caller %d: %d calls never answered (%v): a lock left held?", c.ID, len(open), err)
					return
				}
				var req wamp.ID
				switch m := m.(type) {
				case *wamp.Result:
					if m.Details["progress"] == true {
						if !open[m.Request] {
							errs <- fmt.Sprintf("caller %d: progressive result after the final answer of %d", c.ID, m.Request)
						}
						continue
					}
					req = m.Request
				case *wamp.Error:
					req = m.Request
				default:
					errs <- fmt.Sprintf("caller %d: unexpected %s", c.ID, m.Type())
					continue
				}
				if !open[req] {
					errs <- fmt.Sprintf("caller %d: a second final answer for call %d", c.ID, req)
				}
				delete(open, req)
			}
			// Nothing more may come for these calls.
			if m, _ := c.TryRecv(20 * time.Millisecond); m != nil {
				errs <- fmt.Sprintf("caller %d: %s after every call was answered", c.ID, m.Type())
			}
		}()
	}
	wg.Wait()
	close(stop)
	serving.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
