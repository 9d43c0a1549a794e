package websocket_test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// parseServerFrames splits unmasked server frames, returning their payloads.
func parseServerFrames(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("truncated frame header")
		}
		n, off := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, off = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, off = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if len(b) < off+n {
			return append(out, "(partial)")
		}
		out = append(out, string(b[off:off+n]))
		b = b[off+n:]
	}
	return out
}

// With a write delay, an event for a quiet connection is written at once and the events that
// follow within the delay reach the peer in one write (written at once, each would go out on
// its own); a reply sent with SendNow is not held back.
func TestWriteDelayBatchesQueuedFrames(t *testing.T) {
	const events = 20
	u, _, _ := serveWith(t, websocket.Options{WriteDelay: 300 * time.Millisecond, PingInterval: -1},
		func(c *websocket.Conn) error {
			for {
				data, err := c.Read()
				if err != nil {
					return err
				}
				switch string(data) {
				case "events":
					for i := range events { // spread over 100ms, within the delay
						c.Send(fmt.Appendf(nil, "event %d", i))
						time.Sleep(5 * time.Millisecond)
					}
				case "ping":
					c.SendNow([]byte("pong"))
				}
			}
		})
	ws := dial(t, u, nil)
	raw := ws.NetConn()
	buf := make([]byte, 64<<10)

	start := time.Now()
	ws.WriteMessage(gorilla.TextMessage, []byte("ping"))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := raw.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := parseServerFrames(t, buf[:n]); len(got) != 1 || got[0] != "pong" {
		t.Fatalf("got %q, want the reply", got)
	}
	if took := time.Since(start); took >= 300*time.Millisecond {
		t.Fatalf("the reply took %v: it waited for the write delay", took)
	}

	ws.WriteMessage(gorilla.TextMessage, []byte("events"))
	n, err = raw.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	// The connection was quiet: the first event goes out at once; the rest, arriving within
	// the delay of that write, wait and go out together.
	if got := parseServerFrames(t, buf[:n]); len(got) != 1 || got[0] != "event 0" {
		t.Fatalf("first read got %q, want event 0 alone", got)
	}
	n, err = raw.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := parseServerFrames(t, buf[:n])
	if len(got) != events-1 {
		t.Fatalf("one read got %d frames %q, want the other %d events written together", len(got), got, events-1)
	}
	for i, g := range got {
		if want := fmt.Sprintf("event %d", i+1); g != want {
			t.Fatalf("frame %d is %q, want %q", i, g, want)
		}
	}
}

// sendCollidingReplies sends each replies from each of senders goroutines at once, so that
// many find the connection busy (written by another) and go through the queue and writer.
func sendCollidingReplies(c *websocket.Conn, senders, each int) {
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.SendNow(fmt.Appendf(nil, "reply %d.%d", s, i))
			}
		}()
	}
	wg.Wait()
}

// Replies that find the connection busy (concurrent SendNow calls colliding, or events
// waiting for the delay) are queued but not held for the write delay.
func TestWriteDelayNeverHoldsReplies(t *testing.T) {
	const senders, each = 8, 50
	u, _, _ := serveWith(t, websocket.Options{WriteDelay: 2 * time.Second, PingInterval: -1},
		func(c *websocket.Conn) error {
			if _, err := c.Read(); err != nil {
				return err
			}
			c.Send([]byte("event")) // waits for the delay; replies must not
			sendCollidingReplies(c, senders, each)
			for {
				if _, err := c.Read(); err != nil {
					return err
				}
			}
		})
	ws := dial(t, u, nil)
	ws.WriteMessage(gorilla.TextMessage, []byte("go"))
	ws.SetReadDeadline(time.Now().Add(time.Second)) // well within the 2s delay
	replies := 0
	for replies < senders*each {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d replies: %v", replies, senders*each, err)
		}
		if string(data) != "event" {
			replies++
		}
	}
}

// The write delay spaces writes of events; replies do not count. After a burst of replies,
// some of which find the connection busy and go out through the writer, the next event to the
// connection, which has not been written an event for a while, goes out at once.
func TestWriteDelayIgnoresReplies(t *testing.T) {
	const senders, each = 8, 50
	const delay = 2 * time.Second
	u, _, _ := serveWith(t, websocket.Options{WriteDelay: delay, PingInterval: -1},
		func(c *websocket.Conn) error {
			if _, err := c.Read(); err != nil {
				return err
			}
			sendCollidingReplies(c, senders, each)
			time.Sleep(10 * time.Millisecond)
			c.Send([]byte("event"))
			for {
				if _, err := c.Read(); err != nil {
					return err
				}
			}
		})
	ws := dial(t, u, nil)
	ws.WriteMessage(gorilla.TextMessage, []byte("go"))
	ws.SetReadDeadline(time.Now().Add(delay / 2))
	for range senders*each + 1 {
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatalf("the event did not come at once: %v", err)
		}
	}
}
