package session_test

// Tests of issue 17 ("Hold under attack"): what a hostile client can make the router hold is
// bounded and refused clearly, and what only the router may say stays the router's.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// codecPeer speaks WAMP by hand in any codec, to send what the Go client never would.
type codecPeer struct {
	t     *testing.T
	ws    *gorilla.Conn
	codec wamp.Codec
	mu    sync.Mutex // guards writes
}

func dialCodec(t *testing.T, url string, codec wamp.Codec) *codecPeer {
	t.Helper()
	d := gorilla.Dialer{Subprotocols: []string{"wamp.2." + codec.Name()}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	p := &codecPeer{t: t, ws: ws, codec: codec}
	p.send(&wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": wamp.Dict{"publisher": wamp.Dict{},
		"subscriber": wamp.Dict{}, "caller": wamp.Dict{}, "callee": wamp.Dict{}}}})
	if _, ok := p.next().(*wamp.Welcome); !ok {
		t.Fatal("no WELCOME")
	}
	return p
}

func (p *codecPeer) send(m wamp.Message) {
	p.t.Helper()
	frame, err := p.codec.Encode(nil, m)
	if err != nil {
		p.t.Fatal(err)
	}
	kind := gorilla.TextMessage
	if p.codec.Binary() {
		kind = gorilla.BinaryMessage
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ws.WriteMessage(kind, frame); err != nil {
		p.t.Fatal(err)
	}
}

func (p *codecPeer) read() (wamp.Message, error) {
	p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := p.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return p.codec.Decode(data)
}

func (p *codecPeer) next() wamp.Message {
	p.t.Helper()
	m, err := p.read()
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

// expectError asserts the next message is ERROR uri answering a request of type reqType.
func (p *codecPeer) expectError(reqType wamp.MessageType, uri wamp.URI) *wamp.Error {
	p.t.Helper()
	m := p.next()
	e, ok := m.(*wamp.Error)
	if !ok || e.RequestType != reqType || e.Error != uri {
		p.t.Fatalf("want ERROR %s for %s, got %#v", uri, reqType, m)
	}
	return e
}

// Finding 3: only the router speaks under wamp. and pawl.
func TestReservedNamespacesOnlyForTheRouter(t *testing.T) {
	r := routertest.Start(t, routertest.Options{}) // no history: pawl.topic.get_events is not served
	watcher := join(t, r, "json")
	joins, _ := subscribe(t, watcher, "wamp.session.on_join", client.SubscribeOptions{})
	forger := join(t, r, "msgpack")
	nextAbout(t, joins, forger.ID())

	for _, topic := range []wamp.URI{"wamp.session.on_join", "wamp.subscription.on_create", "pawl.anything"} {
		err := forger.PublishWith(ctxT(t), topic, client.PublishOptions{Acknowledge: true},
			wamp.List{wamp.Dict{"session": 1, "authrole": "trusted"}}, nil)
		if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
			t.Errorf("publish to %s: got %s, want %s", topic, ae.URI, wamp.ErrInvalidURI)
		}
	}
	// Unacknowledged: nobody hears the forgery either.
	if err := forger.Publish(ctxT(t), "wamp.session.on_join", nil, wamp.List{wamp.Dict{"authrole": "trusted"}}, nil); err != nil {
		t.Fatal(err)
	}
	joins.none(t, 200*time.Millisecond)

	handler := func(context.Context, *client.Invocation) (*client.Result, error) { return &client.Result{}, nil }
	for _, c := range []struct {
		uri   wamp.URI
		match string
	}{{"pawl.topic.get_events", ""}, {"wamp.session.list", ""}, {"pawl", wamp.MatchPrefix},
		{"", wamp.MatchPrefix}, {"pawl..get_events", wamp.MatchWildcard}} {
		_, err := forger.Register(ctxT(t), c.uri, handler, client.RegisterOptions{Match: c.match}.Dict())
		if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
			t.Errorf("register %q (%s): got %s, want %s", c.uri, c.match, ae.URI, wamp.ErrInvalidURI)
		}
	}
	_, err := forger.Call(ctxT(t), "pawl.topic.get_events", nil, wamp.List{"com.example.x"}, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNoSuchProcedure {
		t.Errorf("pawl.topic.get_events on a realm without history: %s, want no_such_procedure", ae.URI)
	}
	callError(t, forger, "wamp.session.add_testament", wamp.List{"wamp.session.on_leave", wamp.List{}}, nil, wamp.ErrInvalidURI)
	// Ordinary topics still work.
	bystanderWorks(t, r, forger, watcher)
}

// Finding 11: a URI that is not UTF-8 is refused whatever the codec.
func TestNonUTF8URIsRefused(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	p := dialCodec(t, r.URL, wamp.MsgPack)
	bad := wamp.URI("com.example.\xff\xfe")
	p.send(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: bad})
	p.expectError(wamp.TypeSubscribe, wamp.ErrInvalidURI)
	p.send(&wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: bad})
	p.expectError(wamp.TypePublish, wamp.ErrInvalidURI)
	p.send(&wamp.Register{Request: 3, Options: wamp.Dict{}, Procedure: bad})
	p.expectError(wamp.TypeRegister, wamp.ErrInvalidURI)
	p.send(&wamp.Call{Request: 4, Options: wamp.Dict{}, Procedure: bad})
	p.expectError(wamp.TypeCall, wamp.ErrInvalidURI)
	p.send(&wamp.Subscribe{Request: 5, Options: wamp.Dict{"match": "prefix"}, Topic: "com.\xc3"})
	p.expectError(wamp.TypeSubscribe, wamp.ErrInvalidURI)
	// Valid UTF-8 beyond ASCII is fine.
	p.send(&wamp.Subscribe{Request: 6, Options: wamp.Dict{}, Topic: "com.例子.topic"})
	if m, ok := p.next().(*wamp.Subscribed); !ok {
		t.Fatalf("want SUBSCRIBED, got %#v", m)
	}
}

// Finding 6: per-session limits on subscriptions, registrations and URI length.
func TestSessionLimits(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1",
		Limits: realm.Limits{MaxSubscriptionsPerSession: 3, MaxRegistrationsPerSession: 2, MaxURILength: 40}}}})
	c := join(t, r, "json")
	noop := func(*client.Event) {}
	var subs []*client.Subscription
	for _, topic := range []wamp.URI{"com.example.a", "com.example.b", "com.example."} {
		sub, err := c.Subscribe(ctxT(t), topic, noop, client.SubscribeOptions{Match: map[bool]string{true: "prefix"}[strings.HasSuffix(string(topic), ".")]}.Dict())
		if err != nil {
			t.Fatalf("subscribe %s: %v", topic, err)
		}
		subs = append(subs, sub)
	}
	before := pubsub.LimitStats.SubscriptionLimit.Load()
	_, err := c.Subscribe(ctxT(t), "com.example.d", noop, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized || !strings.Contains(ae.Error(), "max_subscriptions_per_session") {
		t.Errorf("4th subscription: %v", ae)
	}
	if pubsub.LimitStats.SubscriptionLimit.Load() != before+1 {
		t.Error("the refusal was not counted")
	}
	// Another session has its own allowance; an unsubscribe frees one.
	other := join(t, r, "json")
	if _, err := other.Subscribe(ctxT(t), "com.example.d", noop, nil); err != nil {
		t.Errorf("another session: %v", err)
	}
	if err := c.Unsubscribe(ctxT(t), subs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctxT(t), "com.example.d", noop, nil); err != nil {
		t.Errorf("after an unsubscribe: %v", err)
	}

	handler := func(context.Context, *client.Invocation) (*client.Result, error) { return &client.Result{}, nil }
	for _, proc := range []wamp.URI{"com.example.p1", "com.example.p2"} {
		if _, err := c.Register(ctxT(t), proc, handler, nil); err != nil {
			t.Fatalf("register %s: %v", proc, err)
		}
	}
	_, err = c.Register(ctxT(t), "com.example.p3", handler, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized || !strings.Contains(ae.Error(), "max_registrations_per_session") {
		t.Errorf("3rd registration: %v", ae)
	}

	long := wamp.URI("com.example." + strings.Repeat("x", 40))
	_, err = c.Subscribe(ctxT(t), long, noop, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI || !strings.Contains(ae.Error(), "max_uri_length") {
		t.Errorf("subscribe to a long URI: %v", ae)
	}
	err = c.PublishWith(ctxT(t), long, client.PublishOptions{Acknowledge: true}, nil, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
		t.Errorf("publish to a long URI: %v", ae)
	}
	_, err = other.Register(ctxT(t), long, handler, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
		t.Errorf("register a long URI: %v", ae)
	}
	_, err = c.Call(ctxT(t), long, nil, nil, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
		t.Errorf("call a long URI: %v", ae)
	}
}

// Finding 6: leaving with many subscriptions (prefix ones of many lengths included) releases
// them all, and the router answers GOODBYE.
func TestLeaveWithManySubscriptions(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	c := join(t, r, "msgpack")
	p := dialCodec(t, r.URL, wamp.MsgPack)
	const n = 3000
	for i := range n {
		topic := "com.example." + strings.Repeat("a", i%200) + "." + string(rune('a'+i%26)) + itoa(i)
		opts := wamp.Dict{}
		if i%2 == 0 {
			opts["match"] = "prefix"
		}
		p.send(&wamp.Subscribe{Request: wamp.ID(i + 1), Options: opts, Topic: wamp.URI(topic)})
	}
	for range n {
		if _, ok := p.next().(*wamp.Subscribed); !ok {
			t.Fatal("want SUBSCRIBED")
		}
	}
	count := func() int64 {
		res := call(t, c, "wamp.subscription.list", nil, nil)
		d, _ := res.Args[0].(wamp.Dict)
		ex, _ := d["exact"].(wamp.List)
		pr, _ := d["prefix"].(wamp.List)
		return int64(len(ex) + len(pr))
	}
	if got := count(); got < n {
		t.Fatalf("%d subscriptions listed, want at least %d", got, n)
	}
	p.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal})
	if _, ok := p.next().(*wamp.Goodbye); !ok {
		t.Fatal("GOODBYE not answered")
	}
	waitFor(t, "the subscriptions to be released", func() bool { return count() == 0 })
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

// Finding 7: by default the anonymous role may not kill sessions.
func TestAnonymousMayNotKillByDefault(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	a, b := join(t, r, "json"), join(t, r, "msgpack")
	bAuthID, _ := b.Welcome().String("authid")
	before := realm.LimitStats.AnonymousKills.Load()
	callError(t, a, "wamp.session.kill", wamp.List{b.ID()}, nil, wamp.ErrNotAuthorized)
	callError(t, a, "wamp.session.kill_by_authid", wamp.List{bAuthID}, nil, wamp.ErrNotAuthorized)
	callError(t, a, "wamp.session.kill_by_authrole", wamp.List{"anonymous"}, nil, wamp.ErrNotAuthorized)
	callError(t, a, "wamp.session.kill_all", nil, nil, wamp.ErrNotAuthorized)
	if n := call(t, a, "wamp.session.count", nil, nil).Args[0]; n != int64(2) {
		t.Errorf("count %v after refused kills, want 2", n)
	}
	if got := realm.LimitStats.AnonymousKills.Load() - before; got != 4 {
		t.Errorf("%d refusals counted, want 4", got)
	}

	allowed := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", AnonymousSessionKill: true}}})
	x, y := join(t, allowed, "json"), join(t, allowed, "json")
	if n := call(t, x, "wamp.session.kill_all", nil, nil).Args[0]; n != int64(1) {
		t.Errorf("kill_all with anonymous_session_kill killed %v, want 1", n)
	}
	waitDone(t, y)
}

// Finding 4: an EVENT larger than the subscriber's queue bound (a MessagePack binary becomes
// base64 for JSON subscribers) is delivered to a subscriber with an empty queue, never taken
// for a slow consumer.
func TestLargeEventReachesJSONSubscriber(t *testing.T) {
	const queueBytes = 1 << 20
	r := routertest.Start(t, routertest.Options{Endpoint: realm.EndpointOptions{
		Transport: websocket.Options{QueueBytes: queueBytes, MaxMessageSize: 4 << 20}}})
	pub := join(t, r, "msgpack")
	jsonSub, msgpackSub := join(t, r, "json"), join(t, r, "msgpack")
	gotJSON, _ := subscribe(t, jsonSub, "com.example.big", client.SubscribeOptions{})
	gotMsgpack, _ := subscribe(t, msgpackSub, "com.example.big", client.SubscribeOptions{})

	blob := bytes.Repeat([]byte{0xAB}, queueBytes*7/8) // as base64: ~7/6 of queueBytes
	slow := session.Stats.SlowConsumers.Load()
	for range 3 {
		publish(t, pub, "com.example.big", client.PublishOptions{}, blob)
		for _, got := range []collector{gotJSON, gotMsgpack} {
			e := got.next(t)
			if b, ok := e.Args[0].([]byte); !ok || !bytes.Equal(b, blob) {
				t.Fatalf("event payload: %T of %d bytes", e.Args[0], len(b))
			}
		}
	}
	if n := session.Stats.SlowConsumers.Load() - slow; n != 0 {
		t.Errorf("%d subscribers cut off as slow consumers", n)
	}
	bystanderWorks(t, r, pub, jsonSub)
}

// Finding 5: a caller flooding CALLs fills the call queues and hears wamp.error.unavailable;
// the callee, which answers one call at a time, is never cut off — whether the flood hits one
// of its procedures or spreads over many (the bound is per callee, not per registration), and
// every call gets its answer (a slot freed on one procedure serves calls waiting on another).
func TestCallFloodDoesNotCutOffCallee(t *testing.T) {
	for _, procedures := range []int{1, 20} {
		t.Run(fmt.Sprintf("procedures=%d", procedures), func(t *testing.T) { callFlood(t, procedures) })
	}
}

func callFlood(t *testing.T, procedures int) {
	// A short call queue per procedure keeps the test fast: 20 × 100 queued calls at ~1 ms.
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", CallQueueLimit: 100}}})
	callee := dialCodec(t, r.URL, wamp.JSON)
	for i := range procedures {
		callee.send(&wamp.Register{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Procedure: wamp.URI(fmt.Sprintf("com.example.slow%d", i))})
		if _, ok := callee.next().(*wamp.Registered); !ok {
			t.Fatal("want REGISTERED")
		}
	}
	var served atomic.Int64
	calleeDone := make(chan error, 1)
	go func() { // an honest callee: reads everything, answers each call after ~1 ms
		for {
			m, err := callee.read()
			if err != nil {
				calleeDone <- err
				return
			}
			inv, ok := m.(*wamp.Invocation)
			if !ok {
				calleeDone <- errors.New("callee got " + m.Type().String())
				return
			}
			time.Sleep(time.Millisecond)
			served.Add(1)
			frame, _ := wamp.JSON.Encode(nil, &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}})
			callee.mu.Lock()
			err = callee.ws.WriteMessage(gorilla.TextMessage, frame)
			callee.mu.Unlock()
			if err != nil {
				calleeDone <- err
				return
			}
		}
	}()

	caller := dialCodec(t, r.URL, wamp.JSON)
	const calls = 20000
	var results, unavailable int
	readDone := make(chan error, 1)
	go func() {
		for results+unavailable < calls {
			m, err := caller.read()
			if err != nil {
				readDone <- err
				return
			}
			switch m := m.(type) {
			case *wamp.Result:
				results++
			case *wamp.Error:
				if m.Error != wamp.ErrUnavailable {
					readDone <- errors.New("unexpected error " + string(m.Error))
					return
				}
				unavailable++
			}
		}
		readDone <- nil
	}()
	slow := session.Stats.SlowConsumers.Load()
	batch := make([]byte, 0, 64)
	for i := range calls {
		proc := wamp.URI(fmt.Sprintf("com.example.slow%d", i%procedures))
		batch, _ = wamp.JSON.Encode(batch[:0], &wamp.Call{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Procedure: proc})
		if err := caller.ws.WriteMessage(gorilla.TextMessage, batch); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-readDone:
		if err != nil {
			t.Fatalf("caller: %v (results %d, unavailable %d)", err, results, unavailable)
		}
	case err := <-calleeDone:
		t.Fatalf("the callee was cut off after serving %d calls: %v", served.Load(), err)
	case <-time.After(60 * time.Second):
		t.Fatalf("calls unanswered: results %d, unavailable %d", results, unavailable)
	}
	if unavailable == 0 || results == 0 {
		t.Errorf("results %d, unavailable %d: want both", results, unavailable)
	}
	if n := session.Stats.SlowConsumers.Load() - slow; n != 0 {
		t.Errorf("%d sessions cut off as slow consumers", n)
	}
	// The callee is still registered and serving.
	c := join(t, r, "json")
	if _, err := c.Call(ctxT(t), "com.example.slow0", nil, nil, nil); err != nil {
		t.Errorf("a call after the flood: %v", err)
	}
}

// Finding 1: retained events are bounded per realm, kept raw, and retaining is authorized.
func TestRetainedEventsBounded(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1",
		Limits: realm.Limits{RetainedTopics: 2, RetainedBytes: 200 << 10}}}})
	pub, sub := join(t, r, "msgpack"), join(t, r, "json")
	broker := r.Realm.Broker().(*pubsub.Local)
	blob := bytes.Repeat([]byte{1}, 64<<10)
	publish(t, pub, "com.example.r1", client.PublishOptions{Retain: true}, blob)
	publish(t, pub, "com.example.r2", client.PublishOptions{Retain: true}, blob)
	// Kept as the publisher sent it: about the payload's size, not several times it.
	if topics, size := broker.RetainedUsage(); topics != 2 || size > 2*(64<<10)+4096 {
		t.Errorf("retained usage: %d topics, %d bytes", topics, size)
	}
	// A third topic is refused, and not delivered.
	live, _ := subscribe(t, sub, "com.example.r3", client.SubscribeOptions{})
	before := pubsub.LimitStats.RetainedRefused.Load()
	err := pub.PublishWith(ctxT(t), "com.example.r3", client.PublishOptions{Acknowledge: true, Retain: true}, wamp.List{"x"}, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized || !strings.Contains(ae.Error(), "retained_topics") {
		t.Errorf("retain on a third topic: %v", ae)
	}
	live.none(t, 100*time.Millisecond)
	// Replacing a topic's retained event is fine, within the bytes bound; past it, refused.
	publish(t, pub, "com.example.r1", client.PublishOptions{Retain: true}, "small")
	err = pub.PublishWith(ctxT(t), "com.example.r2", client.PublishOptions{Acknowledge: true, Retain: true},
		wamp.List{bytes.Repeat([]byte{2}, 300<<10)}, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized || !strings.Contains(ae.Error(), "retained_bytes") {
		t.Errorf("retain past the bytes bound: %v", ae)
	}
	if got := pubsub.LimitStats.RetainedRefused.Load() - before; got != 2 {
		t.Errorf("%d refusals counted, want 2", got)
	}
	// A JSON subscriber gets the MessagePack publisher's retained binary, decoded for it.
	got, _ := subscribe(t, sub, "com.example.r2", client.SubscribeOptions{GetRetained: true})
	if e := got.next(t); !e.Retained() || !bytes.Equal(e.Args[0].([]byte), blob) {
		t.Errorf("retained event: %v", e.Details)
	}
	got1, _ := subscribe(t, sub, "com.example.", client.SubscribeOptions{Match: "prefix", GetRetained: true})
	seen := map[string]bool{}
	for range 2 {
		seen[string(got1.next(t).Topic())] = true
	}
	if !seen["com.example.r1"] || !seen["com.example.r2"] {
		t.Errorf("pattern get_retained got %v", seen)
	}
}

func TestRetainIsAuthorized(t *testing.T) {
	no := false
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1",
		Roles: []authz.Role{{Name: "anonymous", Permissions: []authz.Permission{
			{URI: "com.example.", Match: "prefix", Publish: true, Subscribe: true},
			{URI: "com.example.noretain.", Match: "prefix", Publish: true, Subscribe: true, Retain: &no},
			{URI: "wamp.session.add_testament", Call: true},
		}}}}}})
	c := join(t, r, "json")
	// Without the key, a role that may publish may retain.
	publish(t, c, "com.example.a", client.PublishOptions{Retain: true}, "kept")
	err := c.PublishWith(ctxT(t), "com.example.noretain.a", client.PublishOptions{Acknowledge: true, Retain: true}, wamp.List{"x"}, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrNotAuthorized {
		t.Errorf("retain where retain: false: %v", ae)
	}
	publish(t, c, "com.example.noretain.a", client.PublishOptions{}, "not retained is fine")
	callError(t, c, "wamp.session.add_testament", wamp.List{"com.example.noretain.will", wamp.List{}},
		wamp.Dict{"publish_options": wamp.Dict{"retain": true}}, wamp.ErrNotAuthorized)
}

// The transport's limits are counted too (for the metrics).
func TestTransportLimitsAreCounted(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Endpoint: realm.EndpointOptions{
		Transport: websocket.Options{MaxMessageSize: 4096, MaxConnections: 1}}})
	refused, tooBig := websocket.LimitStats.ConnectionsRefused.Load(), websocket.LimitStats.MessagesTooBig.Load()
	p := dialRaw(t, r.URL, "wamp.2.json")
	p.join()
	if _, err := client.Dial(ctxT(t), r.URL, "realm1", client.Options{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("second connection with max 1: %v", err)
	}
	p.sendText(`[16,1,{},"com.example.topic",["` + strings.Repeat("x", 5000) + `"]]`)
	p.expectClosed()
	if n := websocket.LimitStats.ConnectionsRefused.Load() - refused; n != 1 {
		t.Errorf("%d refused connections counted, want 1", n)
	}
	if n := websocket.LimitStats.MessagesTooBig.Load() - tooBig; n != 1 {
		t.Errorf("%d messages too big counted, want 1", n)
	}
}

// A session's testaments are bounded in bytes, not only in number (sibling of finding 1).
func TestTestamentBytesBounded(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1",
		Limits: realm.Limits{TestamentBytes: 1000}}}})
	c := join(t, r, "json")
	will := wamp.List{"com.example.will", wamp.List{strings.Repeat("x", 600)}}
	call(t, c, "wamp.session.add_testament", will, nil)
	before := realm.LimitStats.TestamentBytes.Load()
	callError(t, c, "wamp.session.add_testament", will, wamp.Dict{"scope": "detached"}, wamp.ErrInvalidArgument)
	if realm.LimitStats.TestamentBytes.Load() != before+1 {
		t.Error("the refusal was not counted")
	}
	call(t, c, "wamp.session.flush_testaments", nil, nil)
	call(t, c, "wamp.session.add_testament", will, wamp.Dict{"scope": "detached"})
}

// One caller's calls waiting for a busy callee are bounded in bytes (sibling of finding 5):
// a flood of large calls cannot make the router hold call_queue_limit messages per procedure.
func TestQueuedCallBytesBounded(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1",
		Limits: realm.Limits{CalleeConcurrency: 1, MaxQueuedCallBytes: 100 << 10}}}})
	callee, caller := join(t, r, "msgpack"), join(t, r, "msgpack")
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	if _, err := callee.Register(ctxT(t), "com.example.busy", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		<-release
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	big := wamp.List{bytes.Repeat([]byte{1}, 40<<10)}
	results := make(chan error, 4)
	go func() { _, err := caller.Call(ctxT(t), "com.example.busy", nil, big, nil); results <- err }()
	<-started // the callee runs one call; the next ones wait
	dealer := r.Realm.Dealer().(*rpc.Local)
	for i := 1; i <= 2; i++ {
		go func() { _, err := caller.Call(ctxT(t), "com.example.busy", nil, big, nil); results <- err }()
		waitFor(t, "the call to wait in the queue", func() bool { return dealer.Stats().Queued == i })
	}
	before := rpc.LimitStats.QueuedCallBytes.Load()
	_, err := caller.Call(ctxT(t), "com.example.busy", nil, big, nil) // 120 KiB queued: refused
	if ae := appError(t, err); ae.URI != wamp.ErrUnavailable || !strings.Contains(ae.Error(), "max_queued_call_bytes") {
		t.Errorf("a call past the byte bound: %v", ae)
	}
	if rpc.LimitStats.QueuedCallBytes.Load() != before+1 {
		t.Error("the refusal was not counted")
	}
	close(release)
	for range 3 {
		if err := <-results; err != nil {
			t.Errorf("a queued call: %v", err)
		}
	}
	// Dispatched calls released their bytes: a new one queues again.
	if _, err := caller.Call(ctxT(t), "com.example.busy", nil, big, nil); err != nil {
		t.Errorf("after the queue drained: %v", err)
	}
}

// A caller streaming a progressive call's input faster than the callee reads ends that call
// (wamp.error.unavailable) instead of getting the callee cut off (sibling of finding 5).
func TestStreamedInputFloodDoesNotCutOffCallee(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	callee := dialRawCallee(t, r.URL)
	caller := join(t, r, "msgpack")
	slow := session.Stats.SlowConsumers.Load()
	st := caller.StreamCall(ctxT(t), "com.example.stream", client.CallOptions{})
	chunk := wamp.List{strings.Repeat("x", 4<<10)}
	var err error
	for i := 0; i < 6000 && err == nil; i++ { // 24 MiB: past the socket buffers and 512 queued
		err = st.Send(chunk, nil)
	}
	if err == nil {
		_, err = st.Finish(nil, nil)
	}
	if ae := appError(t, err); ae.URI != wamp.ErrUnavailable {
		t.Errorf("the flooded stream ended with %v, want %s", ae, wamp.ErrUnavailable)
	}
	if n := session.Stats.SlowConsumers.Load() - slow; n != 0 {
		t.Errorf("%d sessions cut off as slow consumers", n)
	}
	if _, ok := r.Realm.Session(callee); !ok {
		t.Error("the callee was cut off")
	}
}

// dialRawCallee registers com.example.stream from a callee that announces progressive call
// invocations and then reads nothing; it returns its session ID.
func dialRawCallee(t *testing.T, url string) wamp.ID {
	t.Helper()
	d := gorilla.Dialer{Subprotocols: []string{"wamp.2.json"}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	p := &codecPeer{t: t, ws: ws, codec: wamp.JSON}
	p.send(&wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": wamp.Dict{"callee": wamp.Dict{
		"features": wamp.Dict{"progressive_call_invocations": true, "call_canceling": true}}}}})
	w, ok := p.next().(*wamp.Welcome)
	if !ok {
		t.Fatal("no WELCOME")
	}
	p.send(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.example.stream"})
	if _, ok := p.next().(*wamp.Registered); !ok {
		t.Fatal("want REGISTERED")
	}
	return w.Session
}
