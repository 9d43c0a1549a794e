package session_test

import (
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// waitParked waits until n connections' readers are parked (no goroutine reads them).
func waitParked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for websocket.ParkedReaders() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d readers parked, want %d", websocket.ParkedReaders(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIdleReadersParkAndResume: a quiet session's reader lets go of its goroutine, and the
// session goes on as if nothing happened once its peer speaks — a call crosses two parked
// sessions (the caller's CALL and the callee's YIELD each wake their reader) — after which
// both park again.
func TestIdleReadersParkAndResume(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("readers park on Linux")
	}
	r := routertest.Start(t, routertest.Options{Endpoint: realm.EndpointOptions{
		Transport: websocket.Options{IdleAfter: 50 * time.Millisecond}}})
	callee, caller := join(t, r, "json"), join(t, r, "msgpack")
	if _, err := callee.Register(ctxT(t), "com.example.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		waitParked(t, 2)
		res, err := caller.Call(ctxT(t), "com.example.echo", nil, wamp.List{"hello", int64(round)}, nil)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(res.Args) != 2 || res.Args[0] != "hello" {
			t.Fatalf("round %d: result %v", round, res.Args)
		}
	}
	waitParked(t, 2)
	if got := r.Sessions(); got != 2 {
		t.Fatalf("%d sessions, want 2", got)
	}
}

// TestParkedReaderKeepalive: a parked session whose peer answers pings stays; one whose peer
// answers nothing is cut off once PingInterval+PongTimeout have passed, as a reader waiting
// on its read deadline would have been.
func TestParkedReaderKeepalive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("readers park on Linux")
	}
	r := routertest.Start(t, routertest.Options{Endpoint: realm.EndpointOptions{
		Transport: websocket.Options{IdleAfter: 20 * time.Millisecond,
			PingInterval: 100 * time.Millisecond, PongTimeout: 400 * time.Millisecond}}})
	alive := join(t, r, "json") // the client answers pings
	host := strings.TrimSuffix(strings.TrimPrefix(r.URL, "ws://"), "/ws")
	joined := time.Now()       // before its HELLO, the last thing it sends
	silent := joinRaw(t, host) // never answers
	defer silent.Close()
	waitParked(t, 2)

	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, silent); err != nil { // pings, then the close frame, then EOF
		t.Fatalf("the silent peer was not cut off: %v", err)
	}
	if took := time.Since(joined); took < 500*time.Millisecond {
		t.Errorf("the silent peer was cut off after %v, before its keepalive ran out", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Sessions() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want the answering one only", r.Sessions())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Second) // several pings, answered from parked and resumed readers
	if _, err := alive.Call(ctxT(t), "wamp.session.count", nil, nil, nil); err != nil {
		t.Fatalf("the answering peer lost its session: %v", err)
	}
}

// TestSlowMessageOutlastsIdleAfter: a message whose frames arrive further apart than
// IdleAfter is read whole; IdleAfter only parks readers between messages.
func TestSlowMessageOutlastsIdleAfter(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Endpoint: realm.EndpointOptions{
		Transport: websocket.Options{IdleAfter: 20 * time.Millisecond}}})
	host := strings.TrimSuffix(strings.TrimPrefix(r.URL, "ws://"), "/ws")
	c := joinRaw(t, host)
	defer c.Close()
	call := `[48,7,{},"wamp.session.count"]`
	first, rest := call[:10], call[10:]
	// A text frame without FIN, then its continuation 200 ms later (zero masks).
	writeFrame(t, c, 0x01, first)
	time.Sleep(200 * time.Millisecond)
	writeFrame(t, c, 0x80, rest)
	reply := readFrame(t, c)
	if !strings.HasPrefix(reply, "[50,7,") {
		t.Fatalf("expected RESULT of request 7, got %s", reply)
	}
}

// writeFrame writes a masked client frame with a zero mask.
func writeFrame(t *testing.T, c net.Conn, head byte, payload string) {
	t.Helper()
	if len(payload) > 125 {
		t.Fatal("writeFrame: payload too long")
	}
	if _, err := c.Write(append([]byte{head, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)); err != nil {
		t.Fatal(err)
	}
}

// readFrame reads one unfragmented server frame of less than 64 KiB and returns its payload.
func readFrame(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var head [2]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		t.Fatal(err)
	}
	size := int(head[1] & 0x7f)
	if size == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(c, ext[:]); err != nil {
			t.Fatal(err)
		}
		size = int(ext[0])<<8 | int(ext[1])
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatal(err)
	}
	return string(payload)
}
