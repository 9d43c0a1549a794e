package websocket_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// relay serves a recipient (the connection dialed with ?recipient) and publishers: each
// message read from a publisher is queued for the recipient through the publisher's outbox,
// as the broker does, after work (standing for the rest of a publication's delivery); the
// publisher stops reading after stopAfter messages (0: never). sent reports each SendFanout's
// error.
func relay(t *testing.T, opts websocket.Options, work time.Duration, stopAfter int) (url string, sent chan error) {
	t.Helper()
	recipient := make(chan *websocket.Conn, 1)
	sent = make(chan error, 1024)
	u, _, _ := serveWith(t, opts, func(c *websocket.Conn) error {
		if c.Request().URL.Query().Has("recipient") {
			recipient <- c
			for {
				if _, err := c.Read(); err != nil {
					return err
				}
			}
		}
		to := <-recipient
		for i := 0; stopAfter == 0 || i < stopAfter; i++ {
			data, err := c.Read()
			if err != nil {
				return err
			}
			time.Sleep(work)
			sent <- to.SendFanout(data, c)
		}
		return nil // stops reading with writes still held back: they must go out anyway
	})
	return u, sent
}

// burst is n masked text frames "event 0", "event 1"..., to be written in one write.
func burst(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, frame(gorilla.TextMessage, fmt.Sprintf("event %d", i))...)
	}
	return b
}

// readFrames reads from the recipient's raw socket until it has n frames and reports how many
// the first read brought.
func readFrames(t *testing.T, ws *gorilla.Conn, n int) (first int, got []string) {
	t.Helper()
	raw := ws.NetConn()
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	var data []byte
	for first = -1; ; {
		k, err := raw.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(data), err)
		}
		data = append(data, buf[:k]...)
		got = parseServerFrames(t, data)
		if first < 0 {
			first = len(got)
		}
		if len(got) >= n && got[len(got)-1] != "(partial)" {
			return first, got
		}
	}
}

func wantEvents(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d frames, want %d", len(got), n)
	}
	for i, g := range got {
		if want := fmt.Sprintf("event %d", i); g != want {
			t.Fatalf("frame %d is %q, want %q", i, g, want)
		}
	}
}

// What one read of a publisher brings reaches a recipient in one write: the recipient, waiting
// in read, gets the whole burst at once. Without the outbox a writer starts at the first
// message and writes it while the next ones are being handled.
func TestOutboxWritesABurstInOneWrite(t *testing.T) {
	const n = 30
	u, sent := relay(t, websocket.Options{PingInterval: -1}, time.Millisecond, 0)
	recipient := dial(t, u+"?recipient", nil)
	publisher := dial(t, u, nil)
	done := make(chan struct{})
	var first int
	var got []string
	go func() {
		defer close(done)
		first, got = readFrames(t, recipient, n)
	}()
	time.Sleep(50 * time.Millisecond) // the recipient waits in read
	if _, err := publisher.NetConn().Write(burst(n)); err != nil {
		t.Fatal(err)
	}
	<-done
	for range n {
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	}
	wantEvents(t, got, n)
	if first != n {
		t.Fatalf("the first read brought %d of the %d frames: the burst was not written at once", first, n)
	}
}

// A queue the outbox holds back is written once half full, so a burst longer than the queue
// bound reaches a recipient that reads instead of cutting it off as too slow.
func TestOutboxFlushesHalfFullQueues(t *testing.T) {
	const n = 40
	u, sent := relay(t, websocket.Options{PingInterval: -1, QueueMessages: 8}, 0, 0)
	recipient := dial(t, u+"?recipient", nil)
	publisher := dial(t, u, nil)
	if _, err := publisher.NetConn().Write(burst(n)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := <-sent; err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	_, got := readFrames(t, recipient, n)
	wantEvents(t, got, n)
}

// A reader that stops with writes still held back (the session ended on the burst's last
// message) leaves nothing behind: they go out when the connection is released.
func TestOutboxWrittenWhenTheReaderStops(t *testing.T) {
	const n = 5
	u, sent := relay(t, websocket.Options{PingInterval: -1}, 0, n)
	recipient := dial(t, u+"?recipient", nil)
	publisher := dial(t, u, nil)
	if _, err := publisher.NetConn().Write(burst(n)); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	}
	_, got := readFrames(t, recipient, n)
	wantEvents(t, got, n)
}

// A flush of many connections is shared with helper goroutines, one per spare core, each
// taking its own part: every recipient still gets every message once, in order.
func TestOutboxSharesLargeFlushes(t *testing.T) {
	defer websocket.SetOutboxShareAbove(4)()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	const recipients, n = 21, 3
	joined := make(chan *websocket.Conn, recipients)
	u, _, _ := serveWith(t, websocket.Options{PingInterval: -1}, func(c *websocket.Conn) error {
		if c.Request().URL.Query().Has("recipient") {
			joined <- c
			for {
				if _, err := c.Read(); err != nil {
					return err
				}
			}
		}
		var to []*websocket.Conn
		for range recipients {
			to = append(to, <-joined)
		}
		for {
			data, err := c.Read()
			if err != nil {
				return err
			}
			for _, r := range to {
				if err := r.SendFanout(data, c); err != nil {
					return err
				}
			}
		}
	})
	var clients []*gorilla.Conn
	for range recipients {
		clients = append(clients, dial(t, u+"?recipient", nil))
	}
	publisher := dial(t, u, nil)
	if _, err := publisher.NetConn().Write(burst(n)); err != nil {
		t.Fatal(err)
	}
	for i, ws := range clients {
		_, got := readFrames(t, ws, n)
		if len(got) != n {
			t.Fatalf("recipient %d: %q", i, got)
		}
		wantEvents(t, got, n)
	}
}
