package session_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// rawPeer speaks WAMP by hand, to send what a well-behaved client never would.
type rawPeer struct {
	t  *testing.T
	ws *gorilla.Conn
}

func dialRaw(t *testing.T, url, subprotocol string) *rawPeer {
	t.Helper()
	d := gorilla.Dialer{Subprotocols: []string{subprotocol}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &rawPeer{t: t, ws: ws}
}

func (p *rawPeer) sendText(s string) {
	p.t.Helper()
	if err := p.ws.WriteMessage(gorilla.TextMessage, []byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// next reads and decodes one JSON message.
func (p *rawPeer) next() (wamp.Message, error) {
	p.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := p.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return wamp.JSON.Decode(data)
}

func (p *rawPeer) join() {
	p.t.Helper()
	p.sendText(`[1,"realm1",{"roles":{"publisher":{},"subscriber":{}}}]`)
	m, err := p.next()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, ok := m.(*wamp.Welcome); !ok {
		p.t.Fatalf("expected WELCOME, got %#v", m)
	}
}

// expectAbort asserts the router aborts the session with reason and then closes the socket.
func (p *rawPeer) expectAbort(reason wamp.URI, mentions string) {
	p.t.Helper()
	m, err := p.next()
	if err != nil {
		p.t.Fatalf("expected ABORT %s, got %v", reason, err)
	}
	a, ok := m.(*wamp.Abort)
	if !ok || a.Reason != reason {
		p.t.Fatalf("expected ABORT %s, got %#v", reason, m)
	}
	if msg, _ := a.Details.String("message"); !strings.Contains(strings.ToLower(msg), strings.ToLower(mentions)) {
		p.t.Errorf("ABORT message %q does not mention %q", msg, mentions)
	}
	p.expectClosed()
}

func (p *rawPeer) expectClosed() {
	p.t.Helper()
	for {
		if _, err := p.next(); err != nil {
			return
		}
	}
}

// bystanderWorks proves other sessions are unharmed: a pub/sub round trip still succeeds.
func bystanderWorks(t *testing.T, r *routertest.Router, pub, sub *client.Client) {
	t.Helper()
	got := make(collector, 1)
	s, err := sub.Subscribe(ctxT(t), "com.example.bystander", got.handler, nil)
	if err != nil {
		t.Fatalf("bystander subscribe: %v", err)
	}
	defer sub.Unsubscribe(ctxT(t), s)
	if err := pub.Publish(ctxT(t), "com.example.bystander", nil, wamp.List{"still here"}, nil); err != nil {
		t.Fatalf("bystander publish: %v", err)
	}
	got.next(t)
}

func TestProtocolViolations(t *testing.T) {
	r := routertest.Start(t, routertest.Options{
		Endpoint: realm.EndpointOptions{Transport: websocket.Options{MaxMessageSize: 4096}},
	})
	pub, sub := join(t, r, "json"), join(t, r, "msgpack")
	cases := []struct {
		name     string
		joined   bool
		send     string
		mentions string
	}{
		{"hello twice", true, `[1,"realm1",{"roles":{"caller":{}}}]`, "HELLO"},
		{"unknown message type", true, `[999,1,{}]`, "999"},
		{"wrong field type", true, `[16,"not-an-id",{},"com.example.topic"]`, "request"},
		{"bad option type", true, `[16,1,{"acknowledge":"yes"},"com.example.topic"]`, "acknowledge"},
		{"args not a list", true, `[16,1,{},"com.example.topic",{"a":1}]`, "argument"},
		{"router-only message", true, `[36,1,2,{}]`, "EVENT"},
		{"not WAMP at all", true, `hello there`, "malformed"},
		{"not HELLO first", false, `[32,1,{},"com.example.topic"]`, "HELLO"},
		{"truncated", false, `[1,"realm1",{"roles":`, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw(t, r.URL, "wamp.2.json")
			if tc.joined {
				p.join()
			}
			p.sendText(tc.send)
			p.expectAbort(wamp.ErrProtocolViolation, tc.mentions)
			bystanderWorks(t, r, pub, sub)
		})
	}
	t.Run("message too big", func(t *testing.T) {
		p := dialRaw(t, r.URL, "wamp.2.json")
		p.join()
		p.sendText(`[16,1,{},"com.example.topic",["` + strings.Repeat("x", 5000) + `"]]`)
		_, err := p.next()
		var ce *gorilla.CloseError
		if !errors.As(err, &ce) || ce.Code != gorilla.CloseMessageTooBig {
			t.Fatalf("expected close 1009, got %v", err)
		}
		bystanderWorks(t, r, pub, sub)
	})
}

func TestNoSuchRealm(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	_, err := client.Dial(ctxT(t), r.URL, "com.example.nowhere", client.Options{})
	if ae := appError(t, err); ae.URI != wamp.ErrNoSuchRealm {
		t.Errorf("got %s, want %s", ae.URI, wamp.ErrNoSuchRealm)
	}
}

func TestRefusesUnknownSubprotocol(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	d := gorilla.Dialer{Subprotocols: []string{"wamp.2.ubjson", "chat"}}
	ws, resp, err := d.Dial(r.URL, nil)
	if err == nil {
		ws.Close()
		t.Fatal("router accepted a connection offering no supported subprotocol")
	}
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("got %v, want HTTP 400", resp)
	}
}

// GOODBYE from the client is answered with GOODBYE and the session's state is released.
func TestGoodbyeFromClient(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	p := dialRaw(t, r.URL, "wamp.2.json")
	p.join()
	p.sendText(`[64,1,{},"com.example.proc"]`)
	if m, err := p.next(); err != nil || m.Type() != wamp.TypeRegistered {
		t.Fatalf("register: %v %v", m, err)
	}
	p.sendText(`[6,{},"wamp.close.normal"]`)
	m, err := p.next()
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := m.(*wamp.Goodbye); !ok || g.Reason != wamp.CloseGoodbyeAndOut {
		t.Fatalf("expected GOODBYE wamp.close.goodbye_and_out, got %#v", m)
	}
	p.expectClosed()
	waitFor(t, "session to leave", func() bool { return r.Realm.SessionCount() == 0 })
	c := join(t, r, "json")
	if _, err := c.Register(ctxT(t), "com.example.proc", echo, nil); err != nil {
		t.Errorf("registration survived its session: %v", err)
	}
}

// A router shutting down closes the connection with 1001 and reason wamp.close.system_shutdown
// (no GOODBYE, so that clients reconnect), and the client sees why.
func TestShutdownSaysWhy(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	c, err := client.Dial(ctxT(t), r.URL, "realm1", client.Options{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	go r.Shutdown(2 * time.Second)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed by router shutdown")
	}
	var ae *wamp.ApplicationError
	if !errors.As(c.Err(), &ae) || ae.URI != wamp.CloseSystemShutdown {
		t.Errorf("client saw %v, want %s", c.Err(), wamp.CloseSystemShutdown)
	}
	if _, err := c.Call(context.Background(), "x.y", nil, nil, nil); !errors.Is(err, client.ErrClosed) {
		t.Errorf("call on a closed client: got %v, want ErrClosed", err)
	}
}

// A subscriber that stops reading is cut off with a reason once its queue is full; the
// publisher and the other subscribers never wait for it.
func TestSlowConsumerIsCutOff(t *testing.T) {
	r := routertest.Start(t, routertest.Options{
		Endpoint: realm.EndpointOptions{Transport: websocket.Options{QueueBytes: 1 << 20, WriteTimeout: time.Second}},
	})
	before := session.Stats.SlowConsumers.Load()
	slow := dialRaw(t, r.URL, "wamp.2.json")
	slow.join()
	slow.sendText(`[32,1,{},"com.example.flood"]`)
	if m, err := slow.next(); err != nil || m.Type() != wamp.TypeSubscribed {
		t.Fatalf("subscribe: %v %v", m, err)
	}
	// The slow peer now stops reading; its socket buffers fill, then its queue.
	pub, fast := join(t, r, "json"), join(t, r, "msgpack")
	got := make(collector, 100000)
	if _, err := fast.Subscribe(ctxT(t), "com.example.flood", got.handler, nil); err != nil {
		t.Fatal(err)
	}
	// 16 MiB in all, far beyond the slow peer's socket buffers and 1 MiB queue; batches of 32
	// acknowledged publications keep the fast subscriber within its own queue bound.
	payload := wamp.List{strings.Repeat("x", 4<<10)}
	const batches, batch = 128, 32
	start := time.Now()
	for i := 0; i < batches; i++ {
		for j := 0; j < batch; j++ {
			ack := wamp.Dict{"acknowledge": j == batch-1}
			if err := pub.Publish(ctxT(t), "com.example.flood", ack, payload, nil); err != nil {
				t.Fatal(err)
			}
		}
		for j := 0; j < batch; j++ {
			got.next(t)
		}
	}
	t.Logf("%d events of 4 KiB reached the fast subscriber in %v", batches*batch, time.Since(start))
	waitFor(t, "slow consumer to be cut off", func() bool { return session.Stats.SlowConsumers.Load() > before })
	waitFor(t, "slow consumer to leave the realm", func() bool { return r.Realm.SessionCount() == 2 })
}
