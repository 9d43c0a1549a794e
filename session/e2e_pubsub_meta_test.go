package session_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// nextAbout returns the next event whose first argument is the session id (or whose details
// name it, for on_join), skipping meta events about other sessions (the watcher's own
// subscriptions make some).
func nextAbout(t *testing.T, c collector, id wamp.ID) *client.Event {
	t.Helper()
	for {
		e := c.next(t)
		if len(e.Args) == 0 {
			continue
		}
		if got, ok := wamp.AsID(e.Args[0]); ok && got == id {
			return e
		}
		if d, ok := e.Args[0].(wamp.Dict); ok {
			if got, _ := wamp.AsID(d["session"]); got == id {
				return e
			}
		}
	}
}

// noneAbout asserts that no event about session id arrives for a while.
func noneAbout(t *testing.T, c collector, id wamp.ID, wait time.Duration) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-c:
			if len(e.Args) > 0 {
				if got, ok := wamp.AsID(e.Args[0]); ok && got == id {
					t.Fatalf("unexpected event about %d: %v %v", id, e.Args, e.Kwargs)
				}
			}
		case <-deadline:
			return
		}
	}
}

func waitDone(t *testing.T, c *client.Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("session %d still running", c.ID())
	}
}

func call(t *testing.T, c *client.Client, proc wamp.URI, args wamp.List, kwargs wamp.Dict) *client.Result {
	t.Helper()
	res, err := c.Call(ctxT(t), proc, nil, args, kwargs)
	if err != nil {
		t.Fatalf("%s: %v", proc, err)
	}
	return res
}

func callError(t *testing.T, c *client.Client, proc wamp.URI, args wamp.List, kwargs wamp.Dict, want wamp.URI) {
	t.Helper()
	_, err := c.Call(ctxT(t), proc, nil, args, kwargs)
	if ae := appError(t, err); ae.URI != want {
		t.Errorf("%s: got %s, want %s", proc, ae.URI, want)
	}
}

func idOf(t *testing.T, v any) wamp.ID {
	t.Helper()
	id, ok := wamp.AsID(v)
	if !ok {
		t.Fatalf("%v (%T) is not an ID", v, v)
	}
	return id
}

func TestSubscriptionMetaAPI(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	watcher := join(t, r, "json")
	created, _ := subscribe(t, watcher, "wamp.subscription.on_create", client.SubscribeOptions{})
	subscribed, _ := subscribe(t, watcher, "wamp.subscription.on_subscribe", client.SubscribeOptions{})
	unsubscribed, _ := subscribe(t, watcher, "wamp.subscription.on_unsubscribe", client.SubscribeOptions{})
	deleted, _ := subscribe(t, watcher, "wamp.subscription.on_delete", client.SubscribeOptions{})

	a, b := join(t, r, "msgpack"), join(t, r, "json")
	_, subA := subscribe(t, a, "com.example.meta", client.SubscribeOptions{})
	e := nextAbout(t, created, a.ID())
	details, _ := e.Args[1].(wamp.Dict)
	if idOf(t, details["id"]) != subA.ID || details["uri"] != "com.example.meta" || details["match"] != "exact" {
		t.Errorf("on_create details %v", details)
	}
	if ts, _ := details.String("created"); !strings.HasSuffix(ts, "Z") {
		t.Errorf("created %q is not an ISO 8601 UTC time", ts)
	}
	if e := nextAbout(t, subscribed, a.ID()); idOf(t, e.Args[1]) != subA.ID {
		t.Errorf("on_subscribe %v", e.Args)
	}
	_, subB := subscribe(t, b, "com.example.meta", client.SubscribeOptions{})
	if subB.ID != subA.ID {
		t.Fatalf("same topic, different subscriptions")
	}
	nextAbout(t, subscribed, b.ID())
	noneAbout(t, created, b.ID(), quiet) // the subscription already existed
	_, prefixSub := subscribe(t, b, "com.example", client.SubscribeOptions{Match: wamp.MatchPrefix})

	list, _ := call(t, watcher, "wamp.subscription.list", nil, nil).Args[0].(wamp.Dict)
	exact, _ := list["exact"].(wamp.List)
	prefix, _ := list["prefix"].(wamp.List)
	if !slices.ContainsFunc(exact, func(v any) bool { return idOf(t, v) == subA.ID }) ||
		!slices.ContainsFunc(prefix, func(v any) bool { return idOf(t, v) == prefixSub.ID }) {
		t.Errorf("list %v", list)
	}
	if _, ok := list["wildcard"].(wamp.List); !ok {
		t.Errorf("list has no wildcard list: %v", list)
	}
	if got := call(t, watcher, "wamp.subscription.lookup", wamp.List{"com.example.meta"}, nil).Args[0]; idOf(t, got) != subA.ID {
		t.Errorf("lookup: %v", got)
	}
	if got := call(t, watcher, "wamp.subscription.lookup", wamp.List{"com.example", wamp.Dict{"match": "prefix"}}, nil).Args[0]; idOf(t, got) != prefixSub.ID {
		t.Errorf("lookup prefix: %v", got)
	}
	if got := call(t, watcher, "wamp.subscription.lookup", wamp.List{"com.example.meta", wamp.Dict{"match": "prefix"}}, nil).Args[0]; got != nil {
		t.Errorf("lookup of a pattern nobody holds: %v", got)
	}
	matched, _ := call(t, watcher, "wamp.subscription.match", wamp.List{"com.example.meta"}, nil).Args[0].(wamp.List)
	want := []wamp.ID{subA.ID, prefixSub.ID}
	slices.Sort(want)
	if len(matched) != 2 || idOf(t, matched[0]) != want[0] || idOf(t, matched[1]) != want[1] {
		t.Errorf("match: %v, want %v", matched, want)
	}
	if got := call(t, watcher, "wamp.subscription.match", wamp.List{"org.nothing"}, nil).Args[0]; got != nil {
		t.Errorf("match of nothing: %v", got)
	}
	got, _ := call(t, watcher, "wamp.subscription.get", wamp.List{subA.ID}, nil).Args[0].(wamp.Dict)
	if idOf(t, got["id"]) != subA.ID || got["uri"] != "com.example.meta" || got["match"] != "exact" || got["created"] != details["created"] {
		t.Errorf("get: %v", got)
	}
	subs, _ := call(t, watcher, "wamp.subscription.list_subscribers", wamp.List{subA.ID}, nil).Args[0].(wamp.List)
	if len(subs) != 2 || !slices.ContainsFunc(subs, func(v any) bool { return idOf(t, v) == a.ID() }) ||
		!slices.ContainsFunc(subs, func(v any) bool { return idOf(t, v) == b.ID() }) {
		t.Errorf("list_subscribers: %v", subs)
	}
	if n := call(t, watcher, "wamp.subscription.count_subscribers", wamp.List{subA.ID}, nil).Args[0]; n != int64(2) {
		t.Errorf("count_subscribers: %v", n)
	}
	for _, proc := range []wamp.URI{"wamp.subscription.get", "wamp.subscription.list_subscribers", "wamp.subscription.count_subscribers"} {
		callError(t, watcher, proc, wamp.List{int64(12345678)}, nil, wamp.ErrNoSuchSubscription)
		callError(t, watcher, proc, wamp.List{"x"}, nil, wamp.ErrInvalidArgument)
	}

	// The router's meta topics are subscriptions like any other.
	if got := call(t, watcher, "wamp.subscription.lookup", wamp.List{"wamp.subscription.on_create"}, nil).Args[0]; got == nil {
		t.Error("the watcher's meta subscription is not listed")
	}

	if err := a.Unsubscribe(ctxT(t), subA); err != nil {
		t.Fatal(err)
	}
	if e := nextAbout(t, unsubscribed, a.ID()); idOf(t, e.Args[1]) != subA.ID {
		t.Errorf("on_unsubscribe %v", e.Args)
	}
	noneAbout(t, deleted, a.ID(), quiet)
	// b leaves without unsubscribing: it is removed from both its subscriptions, which are
	// deleted.
	b.Close()
	gone := map[wamp.ID]bool{}
	for i := 0; i < 2; i++ {
		nextAbout(t, unsubscribed, b.ID())
		gone[idOf(t, nextAbout(t, deleted, b.ID()).Args[1])] = true
	}
	if !gone[subA.ID] || !gone[prefixSub.ID] {
		t.Errorf("on_delete for %v, want %d and %d", gone, subA.ID, prefixSub.ID)
	}
	callError(t, watcher, "wamp.subscription.get", wamp.List{subA.ID}, nil, wamp.ErrNoSuchSubscription)
}

func TestSessionMetaAPI(t *testing.T) {
	// The kill family is refused to the anonymous role unless the realm allows it.
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", AnonymousSessionKill: true}}})
	watcher := join(t, r, "json")
	joins, _ := subscribe(t, watcher, "wamp.session.on_join", client.SubscribeOptions{})
	leaves, _ := subscribe(t, watcher, "wamp.session.on_leave", client.SubscribeOptions{})

	x := join(t, r, "msgpack")
	xAuthID, _ := x.Welcome().String("authid")
	e := nextAbout(t, joins, x.ID())
	d, _ := e.Args[0].(wamp.Dict)
	if d["authid"] != xAuthID || d["authrole"] != "anonymous" || d["authmethod"] != "anonymous" || d["authprovider"] == nil {
		t.Errorf("on_join details %v", d)
	}
	if tr, _ := d.Dict("transport"); tr["serializer"] != "msgpack" || tr["peer"] == nil {
		t.Errorf("on_join transport %v", d["transport"])
	}
	y, z := join(t, r, "json"), join(t, r, "json")

	if n := call(t, x, "wamp.session.count", nil, nil).Args[0]; n != int64(4) {
		t.Errorf("count %v, want 4", n)
	}
	if n := call(t, x, "wamp.session.count", wamp.List{wamp.List{"anonymous"}}, nil).Args[0]; n != int64(4) {
		t.Errorf("count of anonymous %v, want 4", n)
	}
	if n := call(t, x, "wamp.session.count", wamp.List{wamp.List{"admin"}}, nil).Args[0]; n != int64(0) {
		t.Errorf("count of admin %v, want 0", n)
	}
	ids, _ := call(t, x, "wamp.session.list", nil, nil).Args[0].(wamp.List)
	for _, c := range []*client.Client{watcher, x, y, z} {
		if !slices.ContainsFunc(ids, func(v any) bool { return idOf(t, v) == c.ID() }) {
			t.Errorf("list %v lacks %d", ids, c.ID())
		}
	}
	if ids, _ := call(t, x, "wamp.session.list", wamp.List{wamp.List{"admin"}}, nil).Args[0].(wamp.List); len(ids) != 0 {
		t.Errorf("list of admin: %v", ids)
	}
	got, _ := call(t, y, "wamp.session.get", wamp.List{x.ID()}, nil).Args[0].(wamp.Dict)
	if idOf(t, got["session"]) != x.ID() || got["authid"] != xAuthID || got["authrole"] != "anonymous" {
		t.Errorf("get: %v", got)
	}
	callError(t, y, "wamp.session.get", wamp.List{int64(1)}, nil, wamp.ErrNoSuchSession)

	// kill with a reason and message: the victim hears them, the watcher sees on_leave.
	call(t, y, "wamp.session.kill", wamp.List{x.ID()}, wamp.Dict{"reason": "com.example.kicked", "message": "bye"})
	waitDone(t, x)
	var ae *wamp.ApplicationError
	if !errors.As(x.Err(), &ae) || ae.URI != "com.example.kicked" || ae.Details["message"] != "bye" {
		t.Errorf("the killed session saw %v", x.Err())
	}
	e = nextAbout(t, leaves, x.ID())
	if len(e.Args) != 3 || e.Args[1] != xAuthID || e.Args[2] != "anonymous" || e.Kwargs["reason"] != "com.example.kicked" {
		t.Errorf("on_leave %v %v", e.Args, e.Kwargs)
	}
	callError(t, y, "wamp.session.kill", wamp.List{y.ID()}, nil, wamp.ErrNoSuchSession)
	callError(t, y, "wamp.session.kill", wamp.List{z.ID()}, wamp.Dict{"reason": "not a uri"}, wamp.ErrInvalidURI)

	zAuthID, _ := z.Welcome().String("authid")
	killed, _ := call(t, y, "wamp.session.kill_by_authid", wamp.List{zAuthID}, nil).Args[0].(wamp.List)
	if len(killed) != 1 || idOf(t, killed[0]) != z.ID() {
		t.Errorf("kill_by_authid killed %v", killed)
	}
	if e := nextAbout(t, leaves, z.ID()); e.Kwargs["reason"] != string(wamp.CloseKilled) {
		t.Errorf("on_leave of z: %v", e.Kwargs)
	}

	// A session that leaves by itself has no leave reason.
	w := join(t, r, "json")
	w.Close()
	if e := nextAbout(t, leaves, w.ID()); e.Kwargs["reason"] != nil {
		t.Errorf("on_leave of a session that said goodbye: %v", e.Kwargs)
	}

	v1, v2 := join(t, r, "json"), join(t, r, "msgpack")
	if n := call(t, y, "wamp.session.kill_by_authrole", wamp.List{"anonymous"}, nil).Args[0]; n != int64(3) {
		t.Errorf("kill_by_authrole killed %v, want 3 (watcher, v1, v2)", n)
	}
	for _, c := range []*client.Client{watcher, v1, v2} {
		waitDone(t, c)
	}
	// The router releases a session just after its connection closes.
	waitFor(t, "the killed sessions to leave", func() bool {
		return call(t, y, "wamp.session.count", nil, nil).Args[0] == int64(1)
	})

	// kill_all: the killed sessions leave without meta events.
	watcher2 := join(t, r, "json")
	leaves2, _ := subscribe(t, watcher2, "wamp.session.on_leave", client.SubscribeOptions{})
	k := join(t, r, "json")
	if n := call(t, watcher2, "wamp.session.kill_all", nil, nil).Args[0]; n != int64(2) {
		t.Errorf("kill_all killed %v, want 2 (y, k)", n)
	}
	waitDone(t, k)
	waitDone(t, y)
	noneAbout(t, leaves2, k.ID(), quiet)
}

func TestSessionKillDisabled(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", DisableSessionKill: true}}})
	a, b := join(t, r, "json"), join(t, r, "json")
	bAuthID, _ := b.Welcome().String("authid")
	callError(t, a, "wamp.session.kill", wamp.List{b.ID()}, nil, wamp.ErrNotAuthorized)
	callError(t, a, "wamp.session.kill_by_authid", wamp.List{bAuthID}, nil, wamp.ErrNotAuthorized)
	callError(t, a, "wamp.session.kill_by_authrole", wamp.List{"anonymous"}, nil, wamp.ErrNotAuthorized)
	callError(t, a, "wamp.session.kill_all", nil, nil, wamp.ErrNotAuthorized)
	if n := call(t, a, "wamp.session.count", nil, nil).Args[0]; n != int64(2) {
		t.Errorf("count %v", n)
	}
}

// A slow consumer cut off by the router leaves with the reason pawl.close.slow_consumer in
// its on_leave event.
func TestOnLeaveSlowConsumerReason(t *testing.T) {
	r := routertest.Start(t, routertest.Options{
		Endpoint: realm.EndpointOptions{Transport: websocket.Options{QueueMessages: 8, QueueBytes: 1 << 20, WriteTimeout: time.Second}},
	})
	watcher, pub := join(t, r, "json"), join(t, r, "json")
	leaves, _ := subscribe(t, watcher, "wamp.session.on_leave", client.SubscribeOptions{})
	slow := dialRaw(t, r.URL, "wamp.2.json")
	slow.join()
	slow.sendText(`[32,1,{},"com.example.flood"]`)
	if m, err := slow.next(); err != nil || m.Type() != wamp.TypeSubscribed {
		t.Fatalf("subscribe: %v %v", m, err)
	}
	ids, _ := call(t, watcher, "wamp.session.list", nil, nil).Args[0].(wamp.List)
	var slowID wamp.ID
	for _, v := range ids {
		if id := idOf(t, v); id != watcher.ID() && id != pub.ID() {
			slowID = id
		}
	}
	payload := wamp.List{strings.Repeat("x", 64<<10)}
	for i := 0; i < 1000 && r.Realm.SessionCount() == 3; i++ {
		if err := pub.Publish(ctxT(t), "com.example.flood", wamp.Dict{"acknowledge": true}, payload, nil); err != nil {
			t.Fatal(err)
		}
	}
	e := nextAbout(t, leaves, slowID)
	if e.Kwargs["reason"] != string(wamp.CloseSlowConsumer) {
		t.Errorf("on_leave of the slow consumer: %v %v", e.Args, e.Kwargs)
	}
}

func TestTestaments(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", AnonymousSessionKill: true}}})
	watcher := join(t, r, "msgpack")
	wills, _ := subscribe(t, watcher, "com.example.will", client.SubscribeOptions{})

	t.Run("published when a client dies", func(t *testing.T) {
		p := dialRaw(t, r.URL, "wamp.2.json")
		p.join()
		// destroyed (the default scope), then detached, then destroyed with disclose_me.
		p.sendText(`[48,1,{},"wamp.session.add_testament",["com.example.will",["destroyed 1"],{"who":"raw"}]]`)
		p.sendText(`[48,2,{},"wamp.session.add_testament",["com.example.will",["detached"]],{"scope":"detached"}]`)
		p.sendText(`[48,3,{},"wamp.session.add_testament",["com.example.will",["destroyed 2"]],{"publish_options":{"disclose_me":true,"acknowledge":true}}]`)
		p.sendText(`[48,4,{},"wamp.session.get",[]]`) // an error reply closes the pipeline
		var rawID wamp.ID
		for i := 0; i < 4; i++ {
			m, err := p.next()
			if err != nil {
				t.Fatal(err)
			}
			switch m := m.(type) {
			case *wamp.Result:
			case *wamp.Error:
				if m.Request != 4 {
					t.Fatalf("add_testament failed: %v", m)
				}
			default:
				t.Fatalf("unexpected %v", m)
			}
		}
		ids, _ := call(t, watcher, "wamp.session.list", nil, nil).Args[0].(wamp.List)
		for _, v := range ids {
			if id := idOf(t, v); id != watcher.ID() {
				rawID = id
			}
		}
		wills.none(t, quiet)
		p.ws.UnderlyingConn().Close() // no GOODBYE, no close frame: the client is gone
		// detached first, then destroyed in the order added.
		for _, want := range []string{"detached", "destroyed 1", "destroyed 2"} {
			e := wills.next(t)
			if len(e.Args) != 1 || e.Args[0] != want {
				t.Fatalf("testament %v, want %s", e.Args, want)
			}
			if want == "destroyed 1" && !reflect.DeepEqual(e.Kwargs, wamp.Dict{"who": "raw"}) {
				t.Errorf("kwargs %v", e.Kwargs)
			}
			if want == "destroyed 2" && e.Publisher() != rawID {
				t.Errorf("disclosed publisher %d, want the dead session %d", e.Publisher(), rawID)
			}
		}
	})
	t.Run("flushed testaments are not published", func(t *testing.T) {
		c := join(t, r, "json")
		call(t, c, "wamp.session.add_testament", wamp.List{"com.example.will", wamp.List{"flushed"}}, nil)
		call(t, c, "wamp.session.add_testament", wamp.List{"com.example.will", wamp.List{"kept"}}, wamp.Dict{"scope": "detached"})
		call(t, c, "wamp.session.flush_testaments", nil, nil) // scope destroyed by default
		c.Close()
		if e := wills.next(t); e.Args[0] != "kept" {
			t.Errorf("got %v", e.Args)
		}
		wills.none(t, quiet)
	})
	t.Run("a killed session's testaments", func(t *testing.T) {
		c := join(t, r, "json")
		call(t, c, "wamp.session.add_testament", wamp.List{"com.example.will", wamp.List{"killed"}}, nil)
		call(t, watcher, "wamp.session.kill", wamp.List{c.ID()}, nil)
		if e := wills.next(t); e.Args[0] != "killed" {
			t.Errorf("got %v", e.Args)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		c := join(t, r, "json")
		callError(t, c, "wamp.session.add_testament", wamp.List{"not a uri!", wamp.List{}}, nil, wamp.ErrInvalidURI)
		callError(t, c, "wamp.session.add_testament", wamp.List{"com.example.will", "x"}, nil, wamp.ErrInvalidArgument)
		callError(t, c, "wamp.session.add_testament", wamp.List{"com.example.will"}, wamp.Dict{"scope": "forever"}, wamp.ErrInvalidArgument)
		callError(t, c, "wamp.session.add_testament", wamp.List{"com.example.will"},
			wamp.Dict{"publish_options": wamp.Dict{"exclude_me": "no"}}, wamp.ErrInvalidArgument)
		callError(t, c, "wamp.session.flush_testaments", nil, wamp.Dict{"scope": "forever"}, wamp.ErrInvalidArgument)
	})
}
