package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pawl-wamp/pawl/internal/exampletest"
)

// start runs the example on a free loopback port until the test ends.
func start(t *testing.T) string {
	t.Helper()
	return exampletest.Start(t, run)
}

func TestEcho(t *testing.T) {
	base := start(t)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, m := range []struct {
		kind int
		data string
	}{{websocket.TextMessage, "hello"}, {websocket.BinaryMessage, "\x00\x01bytes"}, {websocket.TextMessage, "ünïcode ✓"}} {
		if err := ws.WriteMessage(m.kind, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		kind, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if kind != m.kind || string(data) != m.data {
			t.Fatalf("sent %d %q, got %d %q", m.kind, m.data, kind, data)
		}
	}
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"/echo"`) {
		t.Fatalf("page: HTTP %d %.80q", resp.StatusCode, body)
	}
}
