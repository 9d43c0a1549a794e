package session_test

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

// quiet is how long a test waits to be sure an event does not come. Every such wait follows
// an event that proves the publication was dispatched.
const quiet = 200 * time.Millisecond

func subscribe(t *testing.T, c *client.Client, topic wamp.URI, opts client.SubscribeOptions) (collector, *client.Subscription) {
	t.Helper()
	got := make(collector, 64)
	sub, err := c.SubscribeWith(ctxT(t), topic, got.handler, opts)
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return got, sub
}

func publish(t *testing.T, c *client.Client, topic wamp.URI, opts client.PublishOptions, args ...any) {
	t.Helper()
	opts.Acknowledge = true
	if err := c.PublishWith(ctxT(t), topic, opts, wamp.List(args), nil); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

func TestWelcomeAnnouncesBrokerFeatures(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	c := join(t, r, "msgpack")
	roles, _ := c.Welcome().Dict("roles")
	broker, _ := roles.Dict("broker")
	features, _ := broker.Dict("features")
	for _, f := range []string{"pattern_based_subscription", "subscriber_blackwhite_listing", "publisher_exclusion",
		"publisher_identification", "event_retention", "payload_passthru_mode", "session_meta_api",
		"subscription_meta_api", "testament_meta_api"} {
		if v, _ := features.Bool(f); !v {
			t.Errorf("WELCOME does not announce broker feature %s", f)
		}
	}
	// Without a history configuration there is no event history to announce.
	if _, ok := features["event_history"]; ok {
		t.Error("event_history announced by a realm without history")
	}
	dealer, _ := roles.Dict("dealer")
	dealerFeatures, _ := dealer.Dict("features")
	if v, _ := dealerFeatures.Bool("session_meta_api"); !v {
		t.Error("session_meta_api not announced by the dealer role")
	}
}

// One EVENT per matching subscription, with details.topic for pattern subscriptions only.
func TestPatternSubscriptions(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	for _, ser := range serializers {
		t.Run(ser, func(t *testing.T) {
			sub, pub := join(t, r, ser), join(t, r, "json")
			exact, exactSub := subscribe(t, sub, "com.myapp.topic.emergency.11", client.SubscribeOptions{})
			prefix, prefixSub := subscribe(t, sub, "com.myapp.topic.emergency", client.SubscribeOptions{Match: wamp.MatchPrefix})
			wild, wildSub := subscribe(t, sub, "com.myapp.topic..11", client.SubscribeOptions{Match: wamp.MatchWildcard})
			ids := map[wamp.ID]bool{exactSub.ID: true, prefixSub.ID: true, wildSub.ID: true}
			if len(ids) != 3 {
				t.Fatalf("subscriptions share IDs: %v", ids)
			}

			publish(t, pub, "com.myapp.topic.emergency.11", client.PublishOptions{}, "all three")
			e1, e2, e3 := exact.next(t), prefix.next(t), wild.next(t)
			if e1.Publication != e2.Publication || e2.Publication != e3.Publication {
				t.Errorf("one publication, different IDs: %d %d %d", e1.Publication, e2.Publication, e3.Publication)
			}
			if _, ok := e1.Details["topic"]; ok {
				t.Errorf("exact subscription got details.topic: %v", e1.Details)
			}
			for _, e := range []*client.Event{e2, e3} {
				if e.Details["topic"] != "com.myapp.topic.emergency.11" || e.Topic() != "com.myapp.topic.emergency.11" {
					t.Errorf("pattern subscription %d: details %v", e.Subscription, e.Details)
				}
			}
			if e1.Subscription != exactSub.ID || e2.Subscription != prefixSub.ID || e3.Subscription != wildSub.ID {
				t.Errorf("events carry the wrong subscription IDs")
			}

			// The spec's prefix examples: emergency-low matches, emerge does not.
			publish(t, pub, "com.myapp.topic.emergency-low", client.PublishOptions{}, "prefix only")
			if e := prefix.next(t); e.Topic() != "com.myapp.topic.emergency-low" {
				t.Errorf("prefix event topic %s", e.Topic())
			}
			publish(t, pub, "com.myapp.topic.x.11", client.PublishOptions{}, "wildcard only")
			if e := wild.next(t); e.Topic() != "com.myapp.topic.x.11" {
				t.Errorf("wildcard event topic %s", e.Topic())
			}
			publish(t, pub, "com.myapp.topic.emerge", client.PublishOptions{}, "nobody")
			publish(t, pub, "com.myapp.topic.x.11.y", client.PublishOptions{}, "nobody either")
			exact.none(t, quiet)
			prefix.none(t, 0)
			wild.none(t, 0)

			for _, s := range []*client.Subscription{exactSub, prefixSub, wildSub} {
				if err := sub.Unsubscribe(ctxT(t), s); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// Two sessions subscribing to the same pattern share one subscription.
func TestPatternSubscriptionShared(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	a, b, pub := join(t, r, "json"), join(t, r, "msgpack"), join(t, r, "json")
	ga, sa := subscribe(t, a, "com.shared", client.SubscribeOptions{Match: wamp.MatchPrefix})
	gb, sb := subscribe(t, b, "com.shared", client.SubscribeOptions{Match: wamp.MatchPrefix})
	if sa.ID != sb.ID {
		t.Errorf("same pattern, different subscriptions: %d %d", sa.ID, sb.ID)
	}
	publish(t, pub, "com.shared.x", client.PublishOptions{}, 1)
	ga.next(t)
	gb.next(t)
	if err := a.Unsubscribe(ctxT(t), sa); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "com.shared.y", client.PublishOptions{}, 2)
	if e := gb.next(t); e.Topic() != "com.shared.y" {
		t.Errorf("topic %s", e.Topic())
	}
	ga.none(t, quiet)
}

func TestInvalidPatterns(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	c := join(t, r, "json")
	for _, tc := range []struct {
		topic wamp.URI
		match string
	}{{"com..x", wamp.MatchExact}, {"com.#", wamp.MatchPrefix}, {"", wamp.MatchWildcard}, {"com x", wamp.MatchWildcard}} {
		_, err := c.SubscribeWith(ctxT(t), tc.topic, func(*client.Event) {}, client.SubscribeOptions{Match: tc.match})
		if ae := appError(t, err); ae.URI != wamp.ErrInvalidURI {
			t.Errorf("%q %s: got %s", tc.topic, tc.match, ae.URI)
		}
	}
}

// Every black/white listing option, alone and combined, decides who receives the event.
func TestBlackWhiteListing(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	pub := join(t, r, "json")
	peers := []*client.Client{join(t, r, "json"), join(t, r, "msgpack"), join(t, r, "json")}
	const topic = "com.example.listing"
	var got []collector
	for _, p := range peers {
		g, _ := subscribe(t, p, topic, client.SubscribeOptions{})
		got = append(got, g)
	}
	id := func(i int) wamp.ID { return peers[i].ID() }
	authid := func(i int) string { s, _ := peers[i].Welcome().String("authid"); return s }
	cases := []struct {
		name string
		opts client.PublishOptions
		want []int // indexes of the peers that receive
	}{
		{"none", client.PublishOptions{}, []int{0, 1, 2}},
		{"exclude", client.PublishOptions{Exclude: []wamp.ID{id(0), id(2)}}, []int{1}},
		{"eligible", client.PublishOptions{Eligible: []wamp.ID{id(0), id(2)}}, []int{0, 2}},
		{"eligible minus exclude", client.PublishOptions{Eligible: []wamp.ID{id(0), id(1)}, Exclude: []wamp.ID{id(0)}}, []int{1}},
		{"exclude_authid", client.PublishOptions{ExcludeAuthID: []string{authid(1)}}, []int{0, 2}},
		{"eligible_authid", client.PublishOptions{EligibleAuthID: []string{authid(1), authid(2)}}, []int{1, 2}},
		{"exclude_authrole", client.PublishOptions{ExcludeAuthRole: []string{"anonymous"}}, nil},
		{"eligible_authrole", client.PublishOptions{EligibleAuthRole: []string{"anonymous"}}, []int{0, 1, 2}},
		{"eligible_authrole elsewhere", client.PublishOptions{EligibleAuthRole: []string{"admin"}}, nil},
		{"eligible and eligible_authid intersect", client.PublishOptions{Eligible: []wamp.ID{id(0), id(1)},
			EligibleAuthID: []string{authid(1), authid(2)}}, []int{1}},
		{"eligible_authrole minus exclude_authid", client.PublishOptions{EligibleAuthRole: []string{"anonymous"},
			ExcludeAuthID: []string{authid(0)}}, []int{1, 2}},
		{"empty eligible", client.PublishOptions{Eligible: []wamp.ID{}}, nil},
	}
	for n, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			publish(t, pub, topic, tc.opts, n)
			// A marker everyone gets proves the listed publication was dispatched before it.
			publish(t, pub, topic, client.PublishOptions{}, "marker")
			for i, g := range got {
				e := g.next(t)
				receives := false
				for _, w := range tc.want {
					receives = receives || w == i
				}
				if receives {
					if len(e.Args) != 1 || e.Args[0] != int64(n) {
						t.Fatalf("peer %d: got %v, want the listed event", i, e.Args)
					}
					e = g.next(t)
				}
				if e.Args[0] != "marker" {
					t.Fatalf("peer %d received an event it was not listed for: %v", i, e.Args)
				}
			}
		})
	}
}

func TestExcludeMeAndDiscloseMe(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	pub, other := join(t, r, "msgpack"), join(t, r, "json")
	mine, _ := subscribe(t, pub, "com.example.disclose", client.SubscribeOptions{})
	theirs, _ := subscribe(t, other, "com.example.disclose", client.SubscribeOptions{})

	publish(t, pub, "com.example.disclose", client.PublishOptions{DiscloseMe: true}, "who")
	e := theirs.next(t)
	authid, _ := pub.Welcome().String("authid")
	if e.Publisher() != pub.ID() || e.Details["publisher_authid"] != authid || e.Details["publisher_authrole"] != "anonymous" {
		t.Errorf("disclosed details %v, want publisher %d, authid %s", e.Details, pub.ID(), authid)
	}
	mine.none(t, quiet) // exclude_me defaults to true

	publish(t, pub, "com.example.disclose", client.PublishOptions{ExcludeMe: client.Bool(false)}, "anonymous")
	for _, g := range []collector{mine, theirs} {
		e := g.next(t)
		if _, ok := e.Details["publisher"]; ok {
			t.Errorf("publisher disclosed without disclose_me: %v", e.Details)
		}
	}
}

// A retained event is delivered on subscribing with get_retained, with details.retained,
// only to those who would have received it, and only the most recent one.
func TestEventRetention(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	pub := join(t, r, "json")
	const topic = "com.example.sensor.temperature"
	publish(t, pub, topic, client.PublishOptions{Retain: true}, 20)
	publish(t, pub, topic, client.PublishOptions{Retain: true, DiscloseMe: true}, 21)
	publish(t, pub, topic, client.PublishOptions{}, "not retained")

	for _, ser := range serializers {
		c := join(t, r, ser)
		got, sub := subscribe(t, c, topic, client.SubscribeOptions{GetRetained: true})
		e := got.next(t)
		if !e.Retained() || !reflect.DeepEqual(e.Args, wamp.List{int64(21)}) || e.Subscription != sub.ID || e.Publisher() != pub.ID() {
			t.Errorf("%s: retained event %+v", ser, e)
		}
		got.none(t, quiet)
	}
	// Without get_retained nothing comes.
	plain, _ := subscribe(t, join(t, r, "json"), topic, client.SubscribeOptions{})
	plain.none(t, quiet)

	// A pattern subscription gets the retained event of every topic it matches.
	publish(t, pub, "com.example.sensor.humidity", client.PublishOptions{Retain: true}, 55)
	c := join(t, r, "msgpack")
	got, _ := subscribe(t, c, "com.example.sensor", client.SubscribeOptions{Match: wamp.MatchPrefix, GetRetained: true})
	topics := []string{string(got.next(t).Topic()), string(got.next(t).Topic())}
	sort.Strings(topics)
	if !reflect.DeepEqual(topics, []string{"com.example.sensor.humidity", topic}) {
		t.Errorf("pattern subscription got retained events of %v", topics)
	}

	t.Run("listing applies", func(t *testing.T) {
		a, b := join(t, r, "json"), join(t, r, "json")
		aID, _ := a.Welcome().String("authid")
		publish(t, pub, "com.example.private", client.PublishOptions{Retain: true, EligibleAuthID: []string{aID}}, "for a")
		ga, _ := subscribe(t, a, "com.example.private", client.SubscribeOptions{GetRetained: true})
		if e := ga.next(t); e.Args[0] != "for a" || !e.Retained() {
			t.Errorf("eligible subscriber got %+v", e)
		}
		gb, _ := subscribe(t, b, "com.example.private", client.SubscribeOptions{GetRetained: true})
		gb.none(t, quiet)
	})
	t.Run("exclude_me applies", func(t *testing.T) {
		publish(t, pub, "com.example.own", client.PublishOptions{Retain: true}, "mine")
		g, _ := subscribe(t, pub, "com.example.own", client.SubscribeOptions{GetRetained: true})
		g.none(t, quiet)
	})
}

// Payload passthru: the ppt_* options and the binary payload reach subscribers of either
// serializer untouched, and also go through retention.
func TestPayloadPassthru(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	blob := []byte{0, 1, 2, 0xfe, 0xff, 'w', 'a', 'm', 'p'}
	opts := client.PublishOptions{PPTScheme: "x_custom", PPTSerializer: "native", PPTCipher: "none", PPTKeyID: "k1",
		Acknowledge: true, Retain: true}
	for _, from := range serializers {
		for _, to := range serializers {
			t.Run(from+"_to_"+to, func(t *testing.T) {
				pub, sub := join(t, r, from), join(t, r, to)
				topic := wamp.URI("com.example.ppt." + from + "." + to)
				got, _ := subscribe(t, sub, topic, client.SubscribeOptions{})
				if err := pub.PublishOpaque(ctxT(t), topic, opts, blob); err != nil {
					t.Fatal(err)
				}
				e := got.next(t)
				if !bytes.Equal(e.Opaque, blob) || len(e.Args) != 0 || len(e.Kwargs) != 0 {
					t.Errorf("payload %v / %v / %v", e.Opaque, e.Args, e.Kwargs)
				}
				for k, want := range map[string]string{"ppt_scheme": "x_custom", "ppt_serializer": "native", "ppt_cipher": "none", "ppt_keyid": "k1"} {
					if e.Details[k] != want {
						t.Errorf("details.%s = %v, want %s", k, e.Details[k], want)
					}
				}
				late, _ := subscribe(t, join(t, r, to), topic, client.SubscribeOptions{GetRetained: true})
				if e := late.next(t); !bytes.Equal(e.Opaque, blob) || e.Details["ppt_scheme"] != "x_custom" {
					t.Errorf("retained passthru event %+v", e)
				}
			})
		}
	}
	t.Run("publisher that did not announce it", func(t *testing.T) {
		p := dialRaw(t, r.URL, "wamp.2.json")
		p.join()
		p.sendText(`[16,1,{"ppt_scheme":"mqtt"},"com.example.ppt.raw",["\u0000AAEC"]]`)
		p.expectAbort(wamp.ErrProtocolViolation, "payload passthru")
	})
}

// Many pattern subscriptions: a publication reaches exactly the ones it matches. Matching is
// an index lookup, not a scan (internal/uriindex BenchmarkEachManyPatterns).
func TestManyPatternSubscriptions(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	sub, pub := join(t, r, "msgpack"), join(t, r, "json")
	const n = 2000
	var target collector
	for i := 0; i < n; i++ {
		g := make(collector, 4)
		topic := wamp.URI(fmt.Sprintf("com.load.%d.", i))
		if _, err := sub.SubscribeWith(ctxT(t), topic, g.handler, client.SubscribeOptions{Match: wamp.MatchPrefix}); err != nil {
			t.Fatal(err)
		}
		if i == 1234 {
			target = g
		}
	}
	publish(t, pub, "com.load.1234.x", client.PublishOptions{}, "hit")
	if e := target.next(t); e.Topic() != "com.load.1234.x" {
		t.Errorf("topic %s", e.Topic())
	}
}
