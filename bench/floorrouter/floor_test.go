//go:build linux

package main

import (
	"net"
	"reflect"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// startFloor serves on a free loopback port until the test ends.
func startFloor(t *testing.T) string {
	t.Helper()
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReactor()
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go r.acceptLoop(ln)
	go func() { ran <- r.run() }()
	t.Cleanup(func() {
		ln.Close()
		r.stop()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})
	return "ws://" + ln.Addr().String() + "/ws"
}

type floorPeer struct {
	t *testing.T
	c *gorilla.Conn
}

func dialFloor(t *testing.T, url string) *floorPeer {
	t.Helper()
	d := gorilla.Dialer{Subprotocols: []string{"wamp.2.json"}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &floorPeer{t, c}
	p.send(&wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": wamp.Dict{"caller": wamp.Dict{}}}})
	if _, ok := p.recv().(*wamp.Welcome); !ok {
		t.Fatal("no WELCOME")
	}
	return p
}

func (p *floorPeer) send(m wamp.Message) {
	p.t.Helper()
	data, err := wamp.JSON.Encode(nil, m)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.c.WriteMessage(gorilla.TextMessage, data); err != nil {
		p.t.Fatal(err)
	}
}

func (p *floorPeer) recv() wamp.Message {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := p.c.ReadMessage()
	if err != nil {
		p.t.Fatal(err)
	}
	m, err := wamp.JSON.Decode(data)
	if err != nil {
		p.t.Fatalf("%s: %v", data, err)
	}
	return m
}

// The floor router must carry a call's arguments both ways unchanged — including strings
// that hold brackets, quotes and commas — or its figure would be for less than a call.
func TestFloorRouterCarriesCalls(t *testing.T) {
	url := startFloor(t)
	callee := dialFloor(t, url)
	callee.send(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "bench.echo"})
	if _, ok := callee.recv().(*wamp.Registered); !ok {
		t.Fatal("no REGISTERED")
	}
	callers := []*floorPeer{dialFloor(t, url), dialFloor(t, url)}
	args := wamp.List{`a "quoted", [bracketed] {braced} \ string`, 42.5, wamp.List{1.0, wamp.Dict{"x": "]"}}}
	kwargs := wamp.Dict{"k": wamp.List{"v", true, nil}}
	for i, caller := range callers {
		req := wamp.ID(100 + i)
		caller.send(&wamp.Call{Request: req, Options: wamp.Dict{"timeout": 0.0}, Procedure: "bench.echo",
			Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
		inv, ok := callee.recv().(*wamp.Invocation)
		if !ok {
			t.Fatal("no INVOCATION")
		}
		if gotArgs, gotKwargs, err := inv.Values(); err != nil || !reflect.DeepEqual(gotArgs, args) || !reflect.DeepEqual(gotKwargs, kwargs) {
			t.Fatalf("INVOCATION carried %v %v (%v), want %v %v", gotArgs, gotKwargs, err, args, kwargs)
		}
		callee.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Payload{Args: wamp.List{"done", float64(i)}}})
		res, ok := caller.recv().(*wamp.Result)
		if !ok {
			t.Fatal("no RESULT")
		}
		if gotArgs, _, err := res.Values(); err != nil || res.Request != req || !reflect.DeepEqual(gotArgs, wamp.List{"done", float64(i)}) {
			t.Fatalf("RESULT %d %v (%v), want %d [done %d]", res.Request, gotArgs, err, req, i)
		}
	}
}

func TestScannerFindsTheArguments(t *testing.T) {
	for _, tc := range []struct{ in, rest string }{
		{`[48,7,{},"p"]`, `]`},
		{`[48, 7 , {"a":"}],"} , "p\"]" ,["x"],{"y":[1]}]`, ` ,["x"],{"y":[1]}]`},
		{`[48,7,{"n":[{"m":[]}]},"p",[1,2.5e3,null,true]]`, `,[1,2.5e3,null,true]]`},
	} {
		s := scanner{b: []byte(tc.in)}
		if !s.open() {
			t.Fatalf("%s: no array", tc.in)
		}
		if typ, ok := s.uint(); !ok || typ != 48 {
			t.Fatalf("%s: type %d %v", tc.in, typ, ok)
		}
		if req, ok := s.uint(); !ok || req != 7 {
			t.Fatalf("%s: request %d %v", tc.in, req, ok)
		}
		if !s.skipN(2) {
			t.Fatalf("%s: could not skip options and procedure", tc.in)
		}
		if got := string(s.rest()); got != tc.rest {
			t.Errorf("%s: rest %q, want %q", tc.in, got, tc.rest)
		}
	}
}
