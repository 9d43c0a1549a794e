package websocket

import (
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/race"
)

// TestWaitingWriterStack pins the stack of a writer goroutine that waits for a peer that does
// not read. Writers are made to wait for full sockets, at the deepest point of their path
// (the poller's wait under sockio.Writer.Write), with the garbage collector off (it would shrink a
// grown stack and hide the growth). Each holds 4 KiB there today: the comments used to say
// the writer fits its 2 KiB starting stack, which this test showed false for this path (the
// same before the Peer seam); it keeps the stack from growing further, and is where to
// lower the bound once the wait fits 2 KiB.
func TestWaitingWriterStack(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes stacks larger")
	}
	const n = 100
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opts := Options{PingInterval: -1, WriteTimeout: time.Minute}.withDefaults()
	conns := make([]*Conn, n)
	peers := make([]net.Conn, n)
	for i := range conns {
		p, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		// Small buffers: a few frames fill the socket.
		p.(*net.TCPConn).SetReadBuffer(4096)
		nc.(*net.TCPConn).SetWriteBuffer(4096)
		peers[i], conns[i] = p, newServerConnOn(nc, "", &opts, nil, nil)
	}
	defer func() {
		for i, c := range conns {
			c.Abort(CloseGoingAway, "")
			peers[i].Close()
			c.Done()
		}
	}()

	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	frame := make([]byte, 16<<10)
	for _, c := range conns {
		for range 16 {
			if err := c.Send(frame); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every writer is left waiting for its socket: none can write 256 KiB to a peer that
	// does not read.
	deadline := time.Now().Add(10 * time.Second)
	for waitingWriters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writers wait for their full sockets", waitingWriters(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.ReadMemStats(&after)
	per := int64(after.StackInuse-before.StackInuse) / n
	t.Logf("stack per waiting writer: %d bytes", per)
	if per > waitingWriterStack+waitingWriterStack/2 {
		t.Errorf("each waiting writer added %d bytes of stack: its stack grew past %d bytes", per, waitingWriterStack)
	}
}

// waitingWriterStack is the stack a writer waiting for its socket holds.
const waitingWriterStack = 4 << 10

// waitingWriters counts the goroutines parked in a writer's wait for its socket.
func waitingWriters() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[IO wait") && strings.Contains(g, "sockio.(*Writer).Write(") {
			n++
		}
	}
	return n
}
