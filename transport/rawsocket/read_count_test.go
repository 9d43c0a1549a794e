package rawsocket_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
)

// TestEachCallCostsOneReadPerSocket: a call made alone costs the router one read system call
// on each socket it crosses — the caller's CALL (RawSocket) and the callee's YIELD
// (WebSocket). Each reader keeps its raw read open while it handles what a read brought, so
// after a read that emptied its socket it waits for the next message without a read that
// finds the socket empty (a call cost four reads before).
func TestEachCallCostsOneReadPerSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the read count is Linux's (edge-triggered epoll)")
	}
	r := startRS(t, rawsocket.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callee, err := client.Dial(ctx, r.URL, "realm1", client.Options{}) // reads through gorilla: not counted
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	if _, err := callee.Register(ctx, "test.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := dialRaw(t, r.RawSocketURL) // reads through net.Conn: not counted
	caller.write(0x7F, 0xF1, 0, 0)
	caller.read(4)
	caller.write(frame(0, `[1,"realm1",{"roles":{"caller":{}}}]`)...)
	if _, m := caller.readFrame(); !strings.HasPrefix(m, "[2,") {
		t.Fatalf("expected WELCOME, got %s", m)
	}
	call := func(i int) {
		t.Helper()
		caller.write(frame(0, fmt.Sprintf(`[48,%d,{},"test.echo",["hello"]]`, i))...)
		if _, m := caller.readFrame(); m != fmt.Sprintf(`[50,%d,{},["hello"]]`, i) {
			t.Fatalf("call %d: got %s", i, m)
		}
	}
	call(1) // the first call's reads wake readers that parked after the handshake
	reads, restore := rawsocket.CountReads()
	defer restore()
	const n = 200
	for i := 2; i < n+2; i++ {
		call(i)
	}
	per := float64(reads.Load()) / n
	t.Logf("%.2f read system calls per call", per)
	// A read woken spuriously (readiness reported for bytes already read) may find nothing
	// now and then; two reads per socket, the cost before, fail.
	if per > 2.4 {
		t.Fatalf("%.2f read system calls per call, want at most 2.4 (one per socket)", per)
	}
}
