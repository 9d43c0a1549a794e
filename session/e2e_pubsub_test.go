package session_test

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

func asAppError(err error, target **wamp.ApplicationError) bool { return errors.As(err, target) }

// Every JSON type survives a trip through the router, in each serializer and across them.
func TestPublishSubscribeValues(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	args := wamp.List{int64(3), int64(-7), int64(1 << 53), 1.5, "héllo ✓", true, false, nil,
		wamp.List{int64(1), "two"}, wamp.Dict{"a": int64(1)}, wamp.List{}, wamp.Dict{}}
	kwargs := wamp.Dict{"n": int64(42), "s": "x", "nested": wamp.Dict{"deep": wamp.List{int64(1), 2.25}}}
	for _, pubSer := range serializers {
		for _, subSer := range serializers {
			t.Run(pubSer+"_to_"+subSer, func(t *testing.T) {
				pub, sub := join(t, r, pubSer), join(t, r, subSer)
				got := make(collector, 1)
				if _, err := sub.Subscribe(ctxT(t), "com.example.values", got.handler, nil); err != nil {
					t.Fatal(err)
				}
				if err := pub.Publish(ctxT(t), "com.example.values", wamp.Dict{"acknowledge": true}, args, kwargs); err != nil {
					t.Fatal(err)
				}
				e := got.next(t)
				if !reflect.DeepEqual(e.Args, args) {
					t.Errorf("args:\n got %#v\nwant %#v", e.Args, args)
				}
				if !reflect.DeepEqual(e.Kwargs, kwargs) {
					t.Errorf("kwargs:\n got %#v\nwant %#v", e.Kwargs, kwargs)
				}
				if e.Publication == 0 || e.Publication > wamp.MaxID {
					t.Errorf("publication ID %d out of range", e.Publication)
				}
			})
		}
	}
}

// Binary payloads use the JSON convention ("\u0000"+base64), MessagePack bin and CBOR byte
// strings, and arrive as bytes everywhere; integers stay integers at the edges of their range.
func TestBinaryAcrossSerializers(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	blob := []byte{0, 1, 2, 255, 'x'}
	args := wamp.List{blob, uint64(math.MaxUint64), int64(1 << 53), int64(math.MinInt64), int64(-1)}
	for _, from := range serializers {
		for _, to := range serializers {
			if from == to {
				continue
			}
			pub, sub := join(t, r, from), join(t, r, to)
			got := make(collector, 1)
			s, err := sub.Subscribe(ctxT(t), "com.example.bin", got.handler, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.Publish(ctxT(t), "com.example.bin", wamp.Dict{"acknowledge": true}, args, nil); err != nil {
				t.Fatal(err)
			}
			if e := got.next(t); !reflect.DeepEqual(e.Args, args) {
				t.Errorf("%s→%s: arrived as %#v, want %#v", from, to, e.Args, args)
			}
			if err := sub.Unsubscribe(ctxT(t), s); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestExcludeMe(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	c := join(t, r, "json")
	got := make(collector, 4)
	if _, err := c.Subscribe(ctxT(t), "com.example.self", got.handler, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctxT(t), "com.example.self", wamp.Dict{"acknowledge": true}, wamp.List{"default"}, nil); err != nil {
		t.Fatal(err)
	}
	got.none(t, 200*time.Millisecond)
	if err := c.Publish(ctxT(t), "com.example.self", wamp.Dict{"exclude_me": false}, wamp.List{"included"}, nil); err != nil {
		t.Fatal(err)
	}
	if e := got.next(t); e.Args[0] != "included" {
		t.Errorf("got %v, want the exclude_me=false event", e.Args)
	}
}

func TestUnsubscribe(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	pub, sub := join(t, r, "json"), join(t, r, "msgpack")
	got := make(collector, 4)
	s, err := sub.Subscribe(ctxT(t), "com.example.unsub", got.handler, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(ctxT(t), s); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctxT(t), "com.example.unsub", wamp.Dict{"acknowledge": true}, wamp.List{1}, nil); err != nil {
		t.Fatal(err)
	}
	got.none(t, 200*time.Millisecond)
	err = sub.Unsubscribe(ctxT(t), s)
	if ae := appError(t, err); ae.URI != wamp.ErrNoSuchSubscription {
		t.Errorf("second unsubscribe: got %s, want %s", ae.URI, wamp.ErrNoSuchSubscription)
	}
}

func TestInvalidTopic(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	c := join(t, r, "json")
	_, err := c.Subscribe(ctxT(t), "com..bad topic", func(*client.Event) {}, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
		t.Errorf("subscribe: got %s, want %s", ae.URI, wamp.ErrInvalidURI)
	}
	err = c.Publish(ctxT(t), "com.#bad", wamp.Dict{"acknowledge": true}, nil, nil)
	if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
		t.Errorf("publish: got %s, want %s", ae.URI, wamp.ErrInvalidURI)
	}
}
