package session_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/internal/race"
	"github.com/pawl-wamp/pawl/internal/routertest"
)

// idleSessionBudget is what one idle WebSocket session may cost the process, in bytes of live
// heap and goroutine stacks (liveBytes): the router's side (session, connection, socket
// structures, the keepalive wheel's and the idle poller's entries — and no goroutine, no timer
// and no writer state: an idle reader is parked) and about 300 bytes of this test's own raw
// client socket. It measured 1,540–1,670 bytes when set (December 2026; about 2,300 before the
// keepalive wheel and the writer's state made on first use, 6,100 before readers parked;
// cmd/pawlbench idle, which counts the router's resident memory with the Go heap's headroom,
// gives about 3.6 KB); a change that makes idle sessions cost more — a timer per connection
// adds ~130 bytes, a goroutine kept per session at least 2 KiB — fails here.
const idleSessionBudget = 1750

// TestIdleSessionMemory joins idle WebSocket sessions (keepalive on, as deployed) and pins
// what each costs once the garbage collector has had its say.
func TestIdleSessionMemory(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector changes what memory costs")
	}
	if testing.Short() {
		t.Skip("joins hundreds of sessions")
	}
	r := routertest.Start(t, routertest.Options{})
	host := strings.TrimSuffix(strings.TrimPrefix(r.URL, "ws://"), "/ws")
	measureIdleSessions(t, "WebSocket", idleSessionBudget, r, func() net.Conn { return joinRaw(t, host) })
}

// measureIdleSessions joins 400 idle sessions through join, after one that pays for what
// every later one shares, waits until their readers have parked (on Linux), and fails when
// one costs more than budget bytes of live heap and stack.
func measureIdleSessions(t *testing.T, transport string, budget int64, r *routertest.Router, join func() net.Conn) {
	t.Helper()
	const n = 400
	warm := join()
	defer warm.Close()

	before := liveBytes()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = join()
	}
	if runtime.GOOS == "linux" {
		waitParked(t, n+1) // every reader has let go of its goroutine
	}
	after := liveBytes()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if got := r.Sessions(); got != n+1 {
		t.Fatalf("%d sessions served, want %d", got, n+1)
	}
	per := (after - before) / n
	t.Logf("idle %s session: %d bytes of heap and stack each (budget %d)", transport, per, budget)
	if per > budget {
		t.Errorf("an idle %s session costs %d bytes, more than the budget of %d", transport, per, budget)
	}
}

// liveBytes is the live heap, once the garbage collector has had its say, and the least stack
// each running goroutine holds (2 KiB; a goroutine kept per session fails the budget on its
// stack alone). The runtime's own count of stack bytes (StackInuse) is not used: it also holds
// stacks that earlier tests' goroutines left behind until the runtime gives them back, which
// moved the figure of one test by ±1 KB per session depending on what ran before it.
func liveBytes() int64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc) + int64(runtime.NumGoroutine())*minStack
}

// minStack is the smallest stack a goroutine has.
const minStack = 2048

// joinRaw joins realm1 over a WebSocket written by hand and returns the bare socket: the
// client side keeps no buffer, reader or goroutine, so what a session costs is the router's.
func joinRaw(t *testing.T, host string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	return joinOver(t, c, host)
}

// joinOver is joinRaw on a connection already made (a TLS client's, for wss://).
func joinOver(t *testing.T, c net.Conn, host string) net.Conn {
	t.Helper()
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n",
		host, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	hello := `[1,"realm1",{"roles":{"subscriber":{},"publisher":{},"caller":{},"callee":{}}}]`
	// A masked text frame with a zero mask: the payload goes as is.
	frame := append([]byte{0x81, 0x80 | byte(len(hello)), 0, 0, 0, 0}, hello...)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	var head [2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		t.Fatal(err)
	}
	size := int(head[1] & 0x7f)
	if size == 126 {
		var ext [2]byte
		io.ReadFull(br, ext[:])
		size = int(ext[0])<<8 | int(ext[1])
	}
	welcome := make([]byte, size)
	if _, err := io.ReadFull(br, welcome); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(welcome, []byte("[2,")) {
		t.Fatalf("expected WELCOME, got %s", welcome)
	}
	if br.Buffered() > 0 {
		t.Fatalf("the router sent more than WELCOME")
	}
	return c
}
