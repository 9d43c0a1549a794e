package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pawl-wamp/pawl/internal/exampletest"
)

func start(t *testing.T) string {
	t.Helper()
	return "ws" + strings.TrimPrefix(exampletest.Start(t, run), "http")
}

func read(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Everyone but the sender gets each message, in the order it was sent; a client that left
// gets nothing more, and the others carry on.
func TestChat(t *testing.T) {
	base := start(t)
	clients := make([]*websocket.Conn, 3)
	for i := range clients {
		ws, _, err := websocket.DefaultDialer.Dial(base+"/chat", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		clients[i] = ws
		// The welcome says the client is in the room (and how many were there before).
		if m, want := read(t, ws), fmt.Sprintf("welcome! %d others here", i); m != want {
			t.Fatalf("client %d got %q, want %q", i, m, want)
		}
	}
	say := func(from int, text string) {
		if err := clients[from].WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	say(0, "first")
	say(0, "second")
	say(1, "from 1")
	// Client 0 hears only client 1; clients 1 and 2 hear client 0's messages in order.
	if m := read(t, clients[0]); m != "from 1" {
		t.Fatalf("client 0 got %q", m)
	}
	if a, b := read(t, clients[1]), read(t, clients[1]); a != "first" || b != "second" {
		t.Fatalf("client 1 got %q, %q", a, b)
	}
	heard := []string{read(t, clients[2]), read(t, clients[2]), read(t, clients[2])}
	if strings.Join(heard, ",") != "first,second,from 1" && strings.Join(heard, ",") != "first,from 1,second" &&
		strings.Join(heard, ",") != "from 1,first,second" {
		t.Fatalf("client 2 got %v", heard)
	}

	// Client 2 leaves with a close frame; the others still chat, and the sender of the next
	// message gets nothing back.
	clients[2].WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
	for {
		if _, _, err := clients[2].ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("expected the server's close answer, got %v", err)
			}
			break
		}
	}
	say(1, "still here?")
	say(0, "yes")
	if m := read(t, clients[0]); m != "still here?" {
		t.Fatalf("client 0 got %q", m)
	}
	if m := read(t, clients[1]); m != "yes" {
		t.Fatalf("client 1 got %q", m)
	}
}
