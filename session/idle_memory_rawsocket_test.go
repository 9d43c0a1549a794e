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

// idleRawSocketSessionBudget is idleSessionBudget for a RawSocket session, which has no frame
// reader's closures or batch state: it measured 1,490–1,540 bytes when set (December 2026;
// about 2,300 before the keepalive wheel, the done channels and the writer's state made on
// first use; 4,800–5,400 before readers parked).
const idleRawSocketSessionBudget = 1650

// TestIdleSessionMemoryRawSocket is TestIdleSessionMemory over RawSocket (keepalive on, as
// deployed): an idle RawSocket session holds no read buffer, no goroutine, no timer and no
// writer state.
func TestIdleSessionMemoryRawSocket(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector changes what memory costs")
	}
	if testing.Short() {
		t.Skip("joins hundreds of sessions")
	}
	r := routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{}})
	addr := strings.TrimPrefix(r.RawSocketURL, "rs://")
	measureIdleSessions(t, "RawSocket", idleRawSocketSessionBudget, r, func() net.Conn { return joinRawSocket(t, addr) })
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
