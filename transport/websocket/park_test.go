package websocket_test

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/websocket"
)

// TestParkedConnLetsGoOfWriterState: an idle connection holds no writer state, not only
// after its first write but after every keepalive ping its peer answered — otherwise each
// idle connection would grow by the writer's block after its first ping and keep it.
func TestParkedConnLetsGoOfWriterState(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("readers park on Linux")
	}
	leakcheck.Check(t)
	conns := make(chan *websocket.Conn, 1)
	h := websocket.HandlerFunc(func(c *websocket.Conn) {
		conns <- c
		c.Send([]byte(`"hello"`))
		var read func()
		read = func() {
			for {
				if _, err := c.ReadOrPark(read); err != nil {
					return // parked (read runs again when the peer sends), or the end
				}
			}
		}
		read()
	})
	srv := httptest.NewServer(websocket.NewServer(h, websocket.Options{
		PingInterval: 100 * time.Millisecond, PongTimeout: 5 * time.Second}, nil))
	defer srv.Close()
	ws := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	pings := make(chan struct{}, 64)
	ws.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return ws.WriteControl(gorilla.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	c := <-conns
	for range 2 {
		select {
		case <-pings: // written by the connection's writer, which made its state for it
		case <-time.After(5 * time.Second):
			t.Fatal("no keepalive ping")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !c.ParkedWithoutWriter() {
		if time.Now().After(deadline) {
			t.Fatal("the connection's reader parked again after its peer's pong, but kept the writer's state")
		}
		time.Sleep(time.Millisecond)
	}
	ws.Close()
}
