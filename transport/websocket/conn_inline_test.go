package websocket_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// SendNow writes from the caller's goroutine when the socket takes the frame; when the peer
// is not reading, the socket fills, the rest goes to a writer goroutine, and the messages still
// arrive whole and in order, mixed with queued ones, without the sender ever waiting.
func TestSendNowKeepsOrderWhenTheSocketFills(t *testing.T) {
	const n = 400
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = fmt.Appendf(nil, "%04d:%s", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 64<<10))
	}
	sendTook := make(chan time.Duration, 1)
	u, _, _ := serveWith(t, websocket.Options{QueueBytes: 64 << 20}, func(c *websocket.Conn) error {
		start := time.Now()
		for i, f := range frames {
			send := c.SendNow
			if i > n/2 && i%3 == 2 {
				send = c.Send
			}
			if err := send(f); err != nil {
				return err
			}
		}
		sendTook <- time.Since(start)
		for {
			if _, err := c.Read(); err != nil {
				return err
			}
		}
	})
	ws := dial(t, u, nil)
	// 26 MB cannot fit in the socket buffers of a peer that does not read yet.
	took := <-sendTook
	if took > 2*time.Second {
		t.Fatalf("sending to a peer that does not read took %v: the sender waited", took)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range frames {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(data, frames[i]) {
			t.Fatalf("message %d: got %d bytes starting %.8q, want %.8q", i, len(data), data, frames[i])
		}
	}
}
