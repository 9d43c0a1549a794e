package wsapp_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/wsapp"
	"github.com/pawl-wamp/pawl/wamp"
)

// A plain WebSocket route and the WAMP router share one App, so one port: a plain client on
// /chat and WAMP clients on /ws, each unaware of the other.
func TestWAMPAndPlainRoutesShareOnePort(t *testing.T) {
	leakcheck.Check(t)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	router := realm.NewRouter(log)
	router.AddRealm(realm.New(realm.Config{Name: "realm1"}, log))
	app := wsapp.NewApp(log)
	if err := app.Route("/chat", wsapp.Echo{}, wsapp.RouteOptions{}); err != nil {
		t.Fatal(err)
	}
	app.Handle("/ws", router.WebSocketHandler(realm.EndpointOptions{}))
	srv := httptest.NewServer(app)
	defer func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		app.Shutdown(ctx)
		router.Shutdown(2 * time.Second)
	}()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	callee, err := client.Dial(ctx, base+"/ws", "realm1", client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	caller, err := client.Dial(ctx, base+"/ws", "realm1", client.Options{Serializer: "msgpack", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	if _, err := callee.Register(ctx, "com.example.add2", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := wamp.AsInt64(inv.Args[0])
		b, _ := wamp.AsInt64(inv.Args[1])
		return &client.Result{Args: wamp.List{a + b}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	plain := dialWS(t, base+"/chat", nil)
	plain.WriteMessage(gorilla.TextMessage, []byte("plain hello"))
	res, err := caller.Call(ctx, "com.example.add2", nil, wamp.List{2, 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt64(res.Args[0]); n != 5 {
		t.Fatalf("add2 = %v", res.Args)
	}
	if _, data := readMsg(t, plain); data != "plain hello" {
		t.Fatalf("echo got %q", data)
	}
	// A WAMP client on the plain route is not a WAMP session; a plain client on /ws is refused.
	refusedWith(t, 400, base+"/ws", nil)
	if app.Connections() != 1 || router.Sessions() != 2 {
		t.Fatalf("%d plain connections, %d WAMP sessions", app.Connections(), router.Sessions())
	}
}
