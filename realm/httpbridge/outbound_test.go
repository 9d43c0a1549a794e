package httpbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// target is an HTTP endpoint that records what the bridge POSTs.
type target struct {
	*httptest.Server
	got    chan recorded
	status func(n int) int // status of the n-th request (from 1); nil: 200
	n      atomic.Int64
}

type recorded struct {
	Header http.Header
	Body   map[string]any
}

func newTarget(t *testing.T, status func(n int) int) *target {
	tg := &target{got: make(chan recorded, 100), status: status}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var rec recorded
		rec.Header = r.Header
		if err := json.Unmarshal(raw, &rec.Body); err != nil {
			t.Errorf("the bridge POSTed non-JSON: %q", raw)
		}
		n := int(tg.n.Add(1))
		code := 200
		if tg.status != nil {
			code = tg.status(n)
		}
		w.WriteHeader(code)
		if code == 200 {
			tg.got <- rec
		}
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) next(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-tg.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the endpoint received nothing")
	}
	return recorded{}
}

func TestForwarderPostsEvents(t *testing.T) {
	e := newEnv(t)
	tg := newTarget(t, nil)
	f, err := e.bridge.Forwarder(httpbridge.SubscriberConfig{Realm: "realm1", Role: "backend",
		Topic: "com.example.orders.", Match: "prefix", URL: tg.URL + "/events", Headers: map[string]string{"Authorization": "Bearer t"}})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, f.Joined())
	pub := e.client(t)
	ctx := context.Background()
	if err := pub.Publish(ctx, "com.example.orders.new", wamp.Dict{"acknowledge": true}, wamp.List{"order-1", 3}, wamp.Dict{"total": 9.5}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "com.example.orders.paid", wamp.Dict{"acknowledge": true}, nil, nil); err != nil {
		t.Fatal(err)
	}
	r := tg.next(t)
	if fmt.Sprint(r.Body["args"], r.Body["kwargs"]) != "[order-1 3] map[total:9.5]" {
		t.Errorf("first event POSTed as %v", r.Body)
	}
	if r.Header.Get("Pawl-Topic") != "com.example.orders.new" || r.Header.Get("Pawl-Publication") == "" ||
		r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("first event's headers %v", r.Header)
	}
	r = tg.next(t)
	if fmt.Sprint(r.Body["args"], r.Body["kwargs"]) != "[] map[]" || r.Header.Get("Pawl-Topic") != "com.example.orders.paid" {
		t.Errorf("second event POSTed as %v %v", r.Body, r.Header)
	}
	waitFor(t, func() bool { return f.Stats().Delivered == 2 }, "2 deliveries counted")
}

// An endpoint that fails twice (503) gets the event on the third attempt.
func TestForwarderRetries(t *testing.T) {
	e := newEnv(t)
	tg := newTarget(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return 200
	})
	f, err := e.bridge.Forwarder(httpbridge.SubscriberConfig{Realm: "realm1", Role: "backend",
		Topic: "com.example.x", URL: tg.URL, RetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, f.Joined())
	if err := e.client(t).Publish(context.Background(), "com.example.x", wamp.Dict{"acknowledge": true}, wamp.List{"once"}, nil); err != nil {
		t.Fatal(err)
	}
	if r := tg.next(t); fmt.Sprint(r.Body["args"]) != "[once]" {
		t.Errorf("delivered %v", r.Body)
	}
	waitFor(t, func() bool { s := f.Stats(); return s.Delivered == 1 && s.Retries == 2 && s.Failed == 0 }, "1 delivery after 2 retries")
}

// An endpoint that is down: events are retried, then given up, the queue overflows and
// drops the rest — all counted — while publishers, subscribers and callers carry on at once.
func TestForwarderTargetDown(t *testing.T) {
	var logs logBuffer
	e := newEnvLogging(t, &logs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/events"
	ln.Close() // nothing listens there any more: connection refused
	f, err := e.bridge.Forwarder(httpbridge.SubscriberConfig{Realm: "realm1", Role: "backend",
		Topic: "com.example.x", URL: down, Queue: 4, Retries: 2, RetryDelay: 20 * time.Millisecond, MaxRetryDelay: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, f.Joined())
	pub, sub := e.client(t), e.client(t)
	events := subscribe(t, sub, "com.example.x")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const n = 50
	start := time.Now()
	for i := range n {
		if err := pub.Publish(ctx, "com.example.x", wamp.Dict{"acknowledge": true}, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		nextEvent(t, events)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("50 acknowledged publications took %v with the forwarder's endpoint down", d)
	}
	waitFor(t, func() bool {
		s := f.Stats()
		return s.Failed+s.Dropped == n && s.Failed >= 1
	}, "every event failed or dropped")
	s := f.Stats()
	if s.Delivered != 0 || s.Retries != 2*s.Failed || s.Dropped < n-4-3 {
		t.Errorf("stats %+v: want 2 retries per failure and most events dropped by the 4-event queue", s)
	}
	if bs := e.bridge.Stats(); bs.Failed.Load() != s.Failed || bs.Dropped.Load() != s.Dropped {
		t.Errorf("bridge stats failed %d dropped %d, forwarder's %+v", bs.Failed.Load(), bs.Dropped.Load(), s)
	}
	// Logged, but not once per event: at most one line per kind within 10 s.
	text := logs.String()
	if n := strings.Count(text, "event dropped: the forwarding queue is full"); n != 1 {
		t.Errorf("%d drop warnings logged for %d drops, want 1:\n%s", n, s.Dropped, text)
	}
	if n := strings.Count(text, "event not forwarded"); n != 1 || !strings.Contains(text, "connection refused") {
		t.Errorf("%d failure warnings logged for %d failures, want 1 naming the error:\n%s", n, s.Failed, text)
	}
}

func TestCalleeForwarding(t *testing.T) {
	e := newEnv(t)
	var seen atomic.Value
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Procedure string
			Args      []any
			Kwargs    map[string]any
			Details   map[string]any
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Errorf("invocation body: %v", err)
		}
		seen.Store(in.Procedure)
		w.Header().Set("Content-Type", "application/json")
		switch in.Procedure {
		case "com.example.http.add2":
			a, b := in.Args[0].(float64), in.Args[1].(float64)
			fmt.Fprintf(w, `{"args":[%v],"kwargs":{"via":"http"}}`, a+b)
		case "com.example.http.fail":
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"error":"com.example.error.invalid","args":["bad input"],"kwargs":{"field":"a"}}`)
		case "com.example.http.crash":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "Fatal error: Uncaught Exception")
		case "com.example.http.text":
			fmt.Fprint(w, "hello")
		case "com.example.http.empty":
			w.WriteHeader(http.StatusNoContent)
		case "com.example.http.slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer endpoint.Close()
	ce, err := e.bridge.Callee(httpbridge.CalleeConfig{Realm: "realm1", Role: "backend", Procedure: "com.example.http.",
		Match: "prefix", URL: endpoint.URL, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, ce.Joined())
	c := e.client(t)
	ctx := context.Background()
	res, err := c.Call(ctx, "com.example.http.add2", nil, wamp.List{2, 3}, nil)
	if err != nil || fmt.Sprint(res.Args, res.Kwargs) != "[5] map[via:http]" {
		t.Fatalf("add2 over HTTP: %v %v", res, err)
	}
	if seen.Load() != "com.example.http.add2" {
		t.Errorf("the endpoint saw procedure %v", seen.Load())
	}
	res, err = c.Call(ctx, "com.example.http.empty", nil, nil, nil)
	if err != nil || len(res.Args) != 0 {
		t.Errorf("empty answer: %v %v", res, err)
	}
	for _, want := range []struct {
		proc wamp.URI
		uri  wamp.URI
		text string
	}{
		{"com.example.http.fail", "com.example.error.invalid", "[bad input] map[field:a]"},
		{"com.example.http.crash", wamp.ErrRuntimeError, "[the endpoint answered 500 Internal Server Error: Fatal error: Uncaught Exception] map[]"},
		{"com.example.http.text", wamp.ErrRuntimeError, "[the endpoint's answer is not a JSON object {\"args\", \"kwargs\"}: hello] map[]"},
		{"com.example.http.slow", wamp.ErrTimeout, "[the endpoint did not answer within 300ms] map[]"},
	} {
		_, err := c.Call(ctx, want.proc, nil, nil, nil)
		var ae *wamp.ApplicationError
		if !errors.As(err, &ae) || ae.URI != want.uri || fmt.Sprint(ae.Args, map[string]any(ae.Kwargs)) != want.text {
			t.Errorf("%s: %v, want %s %s", want.proc, err, want.uri, want.text)
		}
	}

	// The endpoint goes away: calls fail with wamp.error.unavailable, at once.
	endpoint.Close()
	_, err = c.Call(ctx, "com.example.http.add2", nil, wamp.List{1, 1}, nil)
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) || ae.URI != wamp.ErrUnavailable {
		t.Errorf("endpoint down: %v, want wamp.error.unavailable", err)
	}
}

// A callee forwarder's role must be allowed to register, like any callee.
func TestCalleeForwardingAuthorization(t *testing.T) {
	e := newEnv(t)
	ce, err := e.bridge.Callee(httpbridge.CalleeConfig{Realm: "realm1", Role: "backend", Procedure: "org.other.proc", URL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ce.Joined():
		t.Fatal("a role that may not register org.other.proc registered it")
	case <-time.After(300 * time.Millisecond):
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With workers: 4, a slow endpoint has four POSTs in flight at once.
func TestForwarderWorkers(t *testing.T) {
	e := newEnv(t)
	var inFlight, most atomic.Int64
	reached := make(chan struct{})
	var once sync.Once
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if n == 4 {
			once.Do(func() { close(reached) })
		}
		select { // hold the request until four are in flight (or give up)
		case <-reached:
		case <-time.After(5 * time.Second):
		}
	}))
	defer endpoint.Close()
	f, err := e.bridge.Forwarder(httpbridge.SubscriberConfig{Realm: "realm1", Role: "backend", Topic: "com.example.x",
		URL: endpoint.URL, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, f.Joined())
	c := e.client(t)
	for i := range 8 {
		if err := c.Publish(context.Background(), "com.example.x", wamp.Dict{"acknowledge": true}, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return f.Stats().Delivered == 8 }, "8 deliveries")
	if m := most.Load(); m != 4 {
		t.Errorf("at most %d POSTs in flight, want 4", m)
	}
}
