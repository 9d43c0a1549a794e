package websocket_test

import (
	"fmt"
	"runtime"
	"testing"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// TestEachMessageCostsOneRead: a message that arrives alone costs the server's reader one read
// system call. The reader keeps its raw read open while the message is handled, so once the
// read that brought it has emptied the socket, it waits for the next without a read that finds
// the socket empty (each message cost two reads before).
func TestEachMessageCostsOneRead(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the read count is Linux's (edge-triggered epoll)")
	}
	u, _, _ := serveWith(t, websocket.Options{}, func(c *websocket.Conn) error {
		for {
			m, err := c.Read()
			if err != nil {
				return err
			}
			if err := c.Send(m); err != nil {
				return err
			}
		}
	})
	ws := dial(t, u, nil)
	roundTrip := func(i int) {
		t.Helper()
		msg := fmt.Sprintf(`[48,%d,{},"com.example.echo",["hello"]]`, i)
		if err := ws.WriteMessage(gorilla.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := ws.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo of message %d: %q, %v", i, got, err)
		}
	}
	roundTrip(0) // the connection's first read happens before it is counted
	reads, restore := websocket.CountReads()
	defer restore()
	const n = 200
	for i := 1; i <= n; i++ {
		roundTrip(i)
	}
	// A read woken spuriously (readiness reported for bytes already read) may find nothing
	// now and then; two reads a message, the cost before, fail.
	per := float64(reads.Load()) / n
	t.Logf("%.2f read system calls per message", per)
	if per > 1.2 {
		t.Fatalf("%.2f read system calls per message, want at most 1.2", per)
	}
}
