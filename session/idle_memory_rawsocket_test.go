package session_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/internal/race"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
)

// TestIdleSessionMemoryRawSocket is TestIdleSessionMemory over RawSocket (keepalive on, as
// deployed): an idle RawSocket session holds no read buffer and no goroutine, and fits the
// same budget (it measured 2,340–2,430 bytes when set, 4,800–5,400 before readers parked).
func TestIdleSessionMemoryRawSocket(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector changes what memory costs")
	}
	if testing.Short() {
		t.Skip("joins hundreds of sessions")
	}
	r := routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{}})
	addr := strings.TrimPrefix(r.RawSocketURL, "rs://")
	measureIdleSessions(t, "RawSocket", r, func() net.Conn { return joinRawSocket(t, addr) })
}

// joinRawSocket joins realm1 over a RawSocket written by hand and returns the bare socket.
func joinRawSocket(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hello := `[1,"realm1",{"roles":{"subscriber":{},"publisher":{},"caller":{},"callee":{}}}]`
	n := len(hello)
	if _, err := c.Write(append([]byte{0x7F, 0xF1, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n)}, hello...)); err != nil {
		t.Fatal(err)
	}
	var head [8]byte // the handshake reply, then WELCOME's frame header
	if _, err := io.ReadFull(c, head[:]); err != nil {
		t.Fatal(err)
	}
	welcome := make([]byte, int(head[5])<<16|int(head[6])<<8|int(head[7]))
	if _, err := io.ReadFull(c, welcome); err != nil {
		t.Fatal(err)
	}
	if head[1]&0x0F != 1 || !bytes.HasPrefix(welcome, []byte("[2,")) {
		t.Fatalf("expected the handshake reply and WELCOME, got % x %s", head, welcome)
	}
	return c
}
