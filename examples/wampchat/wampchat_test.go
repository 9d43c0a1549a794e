package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/exampletest"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// start runs the example on a free loopback port, serving the page from web/ on disk (where
// `npm run build` puts the autobahn.js bundle), until the test ends.
func start(t *testing.T) string {
	t.Helper()
	webDir = "web"
	return exampletest.Start(t, run)
}

// externalRouter runs a router of the test's own on another loopback port, with the rooms'
// history, and points the example at it (-router) for the rest of the test.
func externalRouter(t *testing.T) *routertest.Router {
	t.Helper()
	store, err := pubsub.OpenBoltStore(filepath.Join(t.TempDir(), pubsub.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the router's shutdown (cleanups run last first)
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: realmName, HistoryStore: store,
		History: pubsub.HistoryConfig{Topics: []pubsub.HistoryRule{roomHistory}}}}})
	routerURL = r.URL
	t.Cleanup(func() { routerURL = "" })
	return r
}

// With -router the chat service joins the external router: the page is told where it is,
// nicknames work through it, and the service is not listed as a user there.
func TestExternalRouter(t *testing.T) {
	r := externalRouter(t)
	base := start(t)
	resp, err := http.Get(base + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ URL, Realm string }
	err = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if err != nil || cfg.URL != r.URL || cfg.Realm != string(realmName) {
		t.Fatalf("config.json: %+v, %v; want url %s", cfg, err, r.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, r.URL, realmName, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if nick := call(t, ctx, c, setNick, "dora")[0]; nick != "dora" {
		t.Fatalf("set_nick through the external router answered %v", nick)
	}
	reg := call(t, ctx, c, "wamp.registration.lookup", string(setNick))[0]
	callees, _ := call(t, ctx, c, "wamp.registration.list_callees", reg)[0].(wamp.List)
	if len(callees) != 1 {
		t.Fatalf("chat.set_nick has callees %v, want the chat service", callees)
	}
}

// watcher is a client that records the events of some topics.
type watcher struct {
	c      *client.Client
	events chan topicEvent
}

type topicEvent struct {
	topic wamp.URI
	e     *client.Event
}

func join(t *testing.T, ctx context.Context, base, serializer string, topics ...wamp.URI) *watcher {
	t.Helper()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", realmName, client.Options{Serializer: serializer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &watcher{c: c, events: make(chan topicEvent, 64)}
	for _, topic := range topics {
		if _, err := c.Subscribe(ctx, topic, func(e *client.Event) { w.events <- topicEvent{topic, e} }, nil); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// next returns the next event on topic, skipping others.
func (w *watcher) next(t *testing.T, ctx context.Context, topic wamp.URI) *client.Event {
	t.Helper()
	for {
		select {
		case te := <-w.events:
			if te.topic == topic {
				return te.e
			}
		case <-ctx.Done():
			t.Fatalf("no event on %s", topic)
		}
	}
}

func call(t *testing.T, ctx context.Context, c *client.Client, proc wamp.URI, args ...any) wamp.List {
	t.Helper()
	res, err := c.Call(ctx, proc, nil, wamp.List(args), nil)
	if err != nil {
		t.Fatalf("%s%v: %v", proc, args, err)
	}
	return res.Args
}

func callErr(t *testing.T, ctx context.Context, c *client.Client, proc wamp.URI, args ...any) wamp.URI {
	t.Helper()
	_, err := c.Call(ctx, proc, nil, wamp.List(args), nil)
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("%s%v: expected an application error, got %v", proc, args, err)
	}
	return ae.URI
}

// The page's protocol, driven by Go clients: the online list from the session meta API,
// nicknames over RPC, rooms as topics with the publisher disclosed.
func TestChatProtocol(t *testing.T) {
	base := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := join(t, ctx, base, "json", "wamp.session.on_join", "wamp.session.on_leave", onNick, "chat.room.lobby")
	b := join(t, ctx, base, "msgpack")

	// Who is online: a sees b join, and the list of anonymous sessions has both, not the service.
	joined := a.next(t, ctx, "wamp.session.on_join")
	details, _ := joined.Args[0].(wamp.Dict)
	if id, _ := wamp.AsID(details["session"]); id != b.c.ID() || details["authrole"] != "anonymous" {
		t.Fatalf("on_join %v", joined.Args)
	}
	ids, _ := call(t, ctx, a.c, "wamp.session.list", wamp.List{"anonymous"})[0].(wamp.List)
	var online []wamp.ID
	for _, v := range ids {
		id, _ := wamp.AsID(v)
		online = append(online, id)
	}
	slices.Sort(online)
	want := []wamp.ID{a.c.ID(), b.c.ID()}
	slices.Sort(want)
	if !slices.Equal(online, want) {
		t.Fatalf("wamp.session.list = %v, want %v", online, want)
	}
	got, _ := call(t, ctx, a.c, "wamp.session.get", b.c.ID())[0].(wamp.Dict)
	if id, _ := wamp.AsID(got["session"]); id != b.c.ID() {
		t.Fatalf("wamp.session.get = %v", got)
	}

	// Nicknames: set, announced, listed, unique regardless of case, validated.
	if nick := call(t, ctx, b.c, setNick, "  bob ")[0]; nick != "bob" {
		t.Fatalf("set_nick answered %v", nick)
	}
	announced := a.next(t, ctx, onNick)
	if id, _ := wamp.AsID(announced.Args[0]); id != b.c.ID() || announced.Args[1] != "bob" {
		t.Fatalf("on_nick %v", announced.Args)
	}
	if uri := callErr(t, ctx, a.c, setNick, "BOB"); uri != errNickTaken {
		t.Fatalf("a taken nickname: %s", uri)
	}
	for _, bad := range []any{"", "a-very-long-nickname-indeed", "<script>", 42} {
		if uri := callErr(t, ctx, a.c, setNick, bad); uri != errNickInvalid {
			t.Fatalf("set_nick(%v): %s", bad, uri)
		}
	}
	call(t, ctx, a.c, setNick, "alice")
	a.next(t, ctx, onNick)
	pairs, _ := call(t, ctx, b.c, listNicks)[0].(wamp.List)
	if len(pairs) != 2 || pairs[0].(wamp.List)[1] != "alice" || pairs[1].(wamp.List)[1] != "bob" {
		t.Fatalf("chat.nicks = %v", pairs)
	}

	// Rooms are topics; the receiver learns the sender's session from disclose_me.
	err := b.c.Publish(ctx, "chat.room.lobby", wamp.Dict{"acknowledge": true, "disclose_me": true}, wamp.List{"hi all"}, wamp.Dict{"nick": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	msg := a.next(t, ctx, "chat.room.lobby")
	if pub, _ := wamp.AsID(msg.Details["publisher"]); pub != b.c.ID() || msg.Args[0] != "hi all" {
		t.Fatalf("room event %v %v", msg.Args, msg.Details)
	}

	// b leaves: a sees on_leave, and the nickname is freed.
	bID := b.c.ID()
	b.c.Close()
	// The two come from different publishers (the router, the chat service): either may be first.
	for seen := map[wamp.URI]bool{}; len(seen) < 2; {
		select {
		case te := <-a.events:
			id, _ := wamp.AsID(te.e.Args[0])
			switch {
			case te.topic == "wamp.session.on_leave" && id == bID:
			case te.topic == onNick && id == bID && len(te.e.Args) == 2 && te.e.Args[1] == nil:
			default:
				t.Fatalf("after bob left: %s %v", te.topic, te.e.Args)
			}
			seen[te.topic] = true
		case <-ctx.Done():
			t.Fatal("no on_leave and nickname freed")
		}
	}
	if nick := call(t, ctx, a.c, setNick, "Bob")[0]; nick != "Bob" {
		t.Fatalf("set_nick(Bob) after bob left: %v", nick)
	}
}

// The page and its assets are served by the program.
func TestPageServed(t *testing.T) {
	base := start(t)
	for path, want := range map[string]string{
		"/":          `<script src="vendor/autobahn.min.js"></script>`,
		"/app.js":    `"wamp.session.on_join"`,
		"/style.css": "#users",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: HTTP %d, %d bytes, missing %q", path, resp.StatusCode, len(body), want)
		}
	}
}
