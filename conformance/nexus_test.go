package conformance

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
)

const (
	// stepTimeout bounds each single wait: join, an event, a call result.
	stepTimeout = 5 * time.Second
	// quietPeriod is how long a publisher waits, after another subscriber got
	// the event, to be sure that it did not get the event itself.
	quietPeriod = 500 * time.Millisecond
	errorURI    = "com.example.error.bad"
	maxWampID   = 1 << 53
)

type nexusSerializer struct {
	name string
	ser  serialize.Serialization
}

var nexusSerializers = []nexusSerializer{
	{"json", client.JSON},
	{"msgpack", client.MSGPACK},
}

// uniquePrefix gives topic and procedure names that cannot collide with
// another test sharing the router (PAWL_CONFORMANCE_URL).
func uniquePrefix(tag string) string {
	return fmt.Sprintf("com.example.conformance.%s.%x", tag, rand.Uint64())
}

// connectNexus joins realm1 anonymously with the nexus client. The session
// is closed when the test ends, unless the test closed it already.
func connectNexus(t *testing.T, url string, ser serialize.Serialization) *client.Client {
	t.Helper()
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	c, err := client.ConnectNet(ctx, url, client.Config{
		Realm:           realm,
		Serialization:   ser,
		ResponseTimeout: stepTimeout,
		Logger:          log.New(logs, "nexus client: ", log.Lmicroseconds),
	})
	if err != nil {
		t.Fatalf("nexus client (%v) could not join %s: %v", ser, realm, err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		if t.Failed() && logs.String() != "" {
			t.Logf("nexus client log:\n%s", logs.String())
		}
	})
	return c
}

// subscribeChan subscribes c to topic and returns the channel of its events.
func subscribeChan(t *testing.T, c *client.Client, topic string) chan *wamp.Event {
	t.Helper()
	events := make(chan *wamp.Event, 16)
	if err := c.SubscribeChan(topic, events, nil); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return events
}

func nextEvent(t *testing.T, events <-chan *wamp.Event, what string) *wamp.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(stepTimeout):
		t.Fatalf("no EVENT (%s) within %v", what, stepTimeout)
		return nil
	}
}

func echoHandler(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
	return client.InvokeResult{Args: inv.Arguments, Kwargs: inv.ArgumentsKw}
}

func failingHandler(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
	return client.InvokeResult{Err: errorURI, Args: inv.Arguments, Kwargs: inv.ArgumentsKw}
}

func register(t *testing.T, c *client.Client, procedure string, fn client.InvocationHandler) {
	t.Helper()
	if err := c.Register(procedure, fn, nil); err != nil {
		t.Fatalf("register %s: %v", procedure, err)
	}
}

func call(t *testing.T, c *client.Client, procedure string, p payload) (*wamp.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	return c.Call(ctx, procedure, nil, p.list(), p.dict(), nil)
}

// expectCallError calls procedure and requires an ERROR with wantURI and,
// unless wantPayload is nil, exactly that payload.
func expectCallError(t *testing.T, c *client.Client, procedure string, send payload, wantURI string, wantPayload *payload) {
	t.Helper()
	res, err := call(t, c, procedure, send)
	if err == nil {
		t.Fatalf("call %s succeeded with %v %v, want error %s", procedure, res.Arguments, res.ArgumentsKw, wantURI)
	}
	var rpcErr client.RPCError
	if !errors.As(err, &rpcErr) {
		t.Fatalf("call %s: %v, want a WAMP ERROR %s", procedure, err, wantURI)
	}
	if string(rpcErr.Err.Error) != wantURI {
		t.Errorf("error URI %s, want %s", rpcErr.Err.Error, wantURI)
	}
	if wantPayload != nil {
		checkPayload(t, "error payload", *wantPayload, rpcErr.Err.Arguments, rpcErr.Err.ArgumentsKw)
	}
}

func validID(id wamp.ID) bool { return id >= 1 && id <= maxWampID }

// TestNexusClient drives the router with the nexus v3 Go client, once per
// serializer, covering the same checks as the autobahn drivers.
func TestNexusClient(t *testing.T) {
	full := loadPayload(t, "full")
	for i, s := range nexusSerializers {
		other := nexusSerializers[1-i]
		t.Run(s.name, func(t *testing.T) {
			url := startRouter(t)
			prefix := uniquePrefix("nexus." + s.name)
			a := connectNexus(t, url, s.ser)
			b := connectNexus(t, url, s.ser)

			t.Run("join", func(t *testing.T) {
				for _, c := range []*client.Client{a, b} {
					if !validID(c.ID()) {
						t.Errorf("session id %d is not a WAMP id", c.ID())
					}
					roles, _ := wamp.AsDict(c.RealmDetails()["roles"])
					for _, role := range []string{"broker", "dealer"} {
						if _, ok := roles[role]; !ok {
							t.Errorf("WELCOME.Details.roles lacks %q: %v", role, c.RealmDetails())
						}
					}
				}
				if a.ID() == b.ID() {
					t.Errorf("two sessions got the same id %d", a.ID())
				}
			})

			t.Run("pubsub_all_types", func(t *testing.T) {
				topic := prefix + ".types"
				events := subscribeChan(t, b, topic)
				if err := a.Publish(topic, nil, full.list(), full.dict()); err != nil {
					t.Fatal(err)
				}
				ev := nextEvent(t, events, "subscriber")
				checkPayload(t, "event payload", full, ev.Arguments, ev.ArgumentsKw)
			})

			t.Run("publish_acknowledge", func(t *testing.T) {
				topic := prefix + ".ack"
				events := subscribeChan(t, b, topic)
				// The client API hides PUBLISHED's id, so first the client
				// path, then the same over a bare nexus peer to see the id.
				if err := a.Publish(topic, wamp.Dict{"acknowledge": true}, wamp.List{1}, nil); err != nil {
					t.Fatalf("acknowledged publish: %v", err)
				}
				nextEvent(t, events, "acknowledged publish")

				pubID := publishAcknowledgedRaw(t, url, s.ser, topic)
				ev := nextEvent(t, events, "raw acknowledged publish")
				if ev.Publication != pubID {
					t.Errorf("EVENT publication id %d differs from PUBLISHED id %d", ev.Publication, pubID)
				}
			})

			selfTopic := prefix + ".self"
			var selfA, selfB chan *wamp.Event
			t.Run("exclude_me_default", func(t *testing.T) {
				selfA = subscribeChan(t, a, selfTopic)
				selfB = subscribeChan(t, b, selfTopic)
				if err := a.Publish(selfTopic, nil, wamp.List{"default"}, nil); err != nil {
					t.Fatal(err)
				}
				// B's event proves the publication was dispatched.
				nextEvent(t, selfB, "other subscriber")
				select {
				case ev := <-selfA:
					t.Errorf("publisher received its own event without exclude_me=false: %v", ev.Arguments)
				case <-time.After(quietPeriod):
				}
			})

			t.Run("exclude_me_false", func(t *testing.T) {
				if selfA == nil || selfB == nil {
					t.Fatal("subscriptions from exclude_me_default missing")
				}
				for len(selfA) > 0 {
					<-selfA
				}
				if err := a.Publish(selfTopic, wamp.Dict{"exclude_me": false}, full.list(), full.dict()); err != nil {
					t.Fatal(err)
				}
				own := nextEvent(t, selfA, "publisher with exclude_me=false")
				checkPayload(t, "own event payload", full, own.Arguments, own.ArgumentsKw)
				ev := nextEvent(t, selfB, "other subscriber")
				checkPayload(t, "other subscriber payload", full, ev.Arguments, ev.ArgumentsKw)
			})

			t.Run("call_roundtrip", func(t *testing.T) {
				proc := prefix + ".echo"
				register(t, b, proc, echoHandler)
				res, err := call(t, a, proc, full)
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				checkPayload(t, "call result", full, res.Arguments, res.ArgumentsKw)
			})

			t.Run("call_application_error", func(t *testing.T) {
				proc := prefix + ".fail"
				register(t, b, proc, failingHandler)
				expectCallError(t, a, proc, full, errorURI, &full)
			})

			t.Run("call_no_such_procedure", func(t *testing.T) {
				expectCallError(t, a, prefix+".missing", payload{Args: []any{int64(1)}}, "wamp.error.no_such_procedure", nil)
			})

			t.Run("mixed_serializers", func(t *testing.T) {
				c := connectNexus(t, url, other.ser)
				dir := s.name + "->" + other.name
				back := other.name + "->" + s.name

				t.Run("event_to_other", func(t *testing.T) {
					topic := prefix + ".mixed.to"
					events := subscribeChan(t, c, topic)
					if err := a.Publish(topic, nil, full.list(), full.dict()); err != nil {
						t.Fatal(err)
					}
					ev := nextEvent(t, events, dir)
					checkPayload(t, "event "+dir, full, ev.Arguments, ev.ArgumentsKw)
				})
				t.Run("event_from_other", func(t *testing.T) {
					topic := prefix + ".mixed.from"
					events := subscribeChan(t, a, topic)
					if err := c.Publish(topic, nil, full.list(), full.dict()); err != nil {
						t.Fatal(err)
					}
					ev := nextEvent(t, events, back)
					checkPayload(t, "event "+back, full, ev.Arguments, ev.ArgumentsKw)
				})
				t.Run("call_to_other", func(t *testing.T) {
					proc := prefix + ".mixed.echo_other"
					register(t, c, proc, echoHandler)
					res, err := call(t, a, proc, full)
					if err != nil {
						t.Fatalf("call: %v", err)
					}
					checkPayload(t, "call "+dir, full, res.Arguments, res.ArgumentsKw)
				})
				t.Run("call_from_other", func(t *testing.T) {
					proc := prefix + ".mixed.echo_self"
					register(t, a, proc, echoHandler)
					res, err := call(t, c, proc, full)
					if err != nil {
						t.Fatalf("call: %v", err)
					}
					checkPayload(t, "call "+back, full, res.Arguments, res.ArgumentsKw)
				})
				t.Run("error_to_other", func(t *testing.T) {
					proc := prefix + ".mixed.fail"
					register(t, c, proc, failingHandler)
					expectCallError(t, a, proc, full, errorURI, &full)
				})
			})

			t.Run("leave", func(t *testing.T) {
				for _, c := range []*client.Client{a, b} {
					if err := c.Close(); err != nil {
						t.Errorf("close: %v", err)
						continue
					}
					select {
					case <-c.Done():
					case <-time.After(stepTimeout):
						t.Fatalf("client not disconnected %v after GOODBYE", stepTimeout)
					}
					if g := c.RouterGoodbye(); g == nil {
						t.Errorf("router sent no GOODBYE in reply to the client's GOODBYE")
					} else if g.Reason != wamp.CloseGoodbyeAndOut {
						t.Errorf("router's GOODBYE reason %s, want %s", g.Reason, wamp.CloseGoodbyeAndOut)
					}
				}
			})
		})
	}
}

// publishAcknowledgedRaw joins with a bare nexus websocket peer, publishes to
// topic with acknowledge=true, checks the PUBLISHED reply and returns its
// publication id.
func publishAcknowledgedRaw(t *testing.T, url string, ser serialize.Serialization, topic string) wamp.ID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	peer, err := transport.ConnectWebsocketPeer(ctx, url, ser, nil, log.New(&syncBuffer{}, "", 0), nil)
	if err != nil {
		t.Fatalf("raw peer connect: %v", err)
	}
	defer peer.Close()

	send := func(msg wamp.Message) {
		select {
		case peer.Send() <- msg:
		case <-time.After(stepTimeout):
			t.Fatalf("could not send %v", msg.MessageType())
		}
	}
	recv := func(want wamp.MessageType) wamp.Message {
		select {
		case msg, ok := <-peer.Recv():
			if !ok {
				t.Fatalf("connection closed while waiting for %v", want)
			}
			if msg.MessageType() != want {
				t.Fatalf("got %v %+v, want %v", msg.MessageType(), msg, want)
			}
			return msg
		case <-time.After(stepTimeout):
			t.Fatalf("no %v within %v", want, stepTimeout)
		}
		return nil
	}

	send(&wamp.Hello{Realm: realm, Details: wamp.Dict{"roles": wamp.Dict{"publisher": wamp.Dict{}}}})
	recv(wamp.WELCOME)
	const request = wamp.ID(7)
	send(&wamp.Publish{Request: request, Options: wamp.Dict{"acknowledge": true}, Topic: wamp.URI(topic), Arguments: wamp.List{"raw"}})
	published := recv(wamp.PUBLISHED).(*wamp.Published)
	if published.Request != request {
		t.Errorf("PUBLISHED.Request %d, want %d", published.Request, request)
	}
	if !validID(published.Publication) {
		t.Errorf("PUBLISHED.Publication %d is not a WAMP id", published.Publication)
	}
	// The GOODBYE handshake is checked by the "leave" subtests.
	return published.Publication
}
