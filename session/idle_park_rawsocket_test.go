package session_test

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// TestIdleRawSocketReadersPark is TestIdleReadersParkAndResume and TestParkedReaderKeepalive
// over RawSocket: readers park after the handshake, wake for a call, park again once the
// keepalive wheel finds them quiet, and a parked peer that answers no PING is cut off.
func TestIdleRawSocketReadersPark(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("readers park on Linux")
	}
	r := routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{
		Transport: rawsocket.Options{PingInterval: 100 * time.Millisecond, PongTimeout: 400 * time.Millisecond}}})
	dial := func() *client.Client {
		c, err := client.Dial(ctxT(t), r.RawSocketURL, "realm1", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	callee, caller := dial(), dial()
	if _, err := callee.Register(ctxT(t), "com.example.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		waitParked(t, 2)
		res, err := caller.Call(ctxT(t), "com.example.echo", nil, wamp.List{"hello", int64(round)}, nil)
		if err != nil || len(res.Args) != 2 || res.Args[0] != "hello" {
			t.Fatalf("round %d: %v %v", round, res, err)
		}
	}
	waitParked(t, 2) // after a call, once the keepalive wheel has found the readers quiet

	silent := joinRawSocket(t, strings.TrimPrefix(r.RawSocketURL, "rs://"))
	defer silent.Close()
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, silent); err != nil { // PINGs, then EOF
		t.Fatalf("the silent peer was not cut off: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Sessions() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want the two answering ones", r.Sessions())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := caller.Call(ctxT(t), "com.example.echo", nil, wamp.List{"still", "here"}, nil); err != nil {
		t.Fatalf("an answering peer lost its session: %v", err)
	}
}
