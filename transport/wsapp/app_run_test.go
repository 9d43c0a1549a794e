package wsapp_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/wsapp"
)

// Run serves until its context ends, then runs the shutdown functions newest first and closes
// the plain WebSocket connections with 1001.
func TestAppRun(t *testing.T) {
	leakcheck.Check(t)
	app := wsapp.NewApp(nil)
	if err := app.Route("/echo", wsapp.Echo{}, wsapp.RouteOptions{}); err != nil {
		t.Fatal(err)
	}
	var order []string
	app.OnShutdown(func() { order = append(order, "first registered") })
	app.OnShutdown(func() { order = append(order, "last registered") })
	ctx, cancel := context.WithCancel(context.Background())
	addrs, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() { done <- app.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrs <- a }) }()
	addr := <-addrs
	ws, _, err := gorilla.DefaultDialer.Dial("ws://"+addr.String()+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(gorilla.TextMessage, []byte("ping"))
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "ping" {
		t.Fatalf("echo: %q %v", m, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	var ce *gorilla.CloseError
	if _, _, err := ws.ReadMessage(); !errors.As(err, &ce) || ce.Code != gorilla.CloseGoingAway {
		t.Errorf("connection ended with %v, want 1001", err)
	}
	if strings.Join(order, ",") != "last registered,first registered" {
		t.Errorf("shutdown functions ran as %v, want newest first", order)
	}
	if _, err := net.Dial("tcp", addr.String()); err == nil {
		t.Error("the listener still accepts after Run returned")
	}
}

func TestAppRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = wsapp.NewApp(nil).Run(context.Background(), ln.Addr().String(), nil)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Run on a taken address: %v", err)
	}
}
