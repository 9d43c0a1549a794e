package rawsocket_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// roundTrip joins over url with serializer, and checks a pub/sub and an RPC round trip
// between that client and a WebSocket client.
func roundTrip(t *testing.T, r *routertest.Router, url, serializer string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := client.Options{Serializer: serializer, TLSConfig: r.TLS}
	c, err := client.Dial(ctx, url, "realm1", opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.Close()
	ws, err := client.Dial(ctx, r.URL, "realm1", client.Options{TLSConfig: r.TLS})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	got := make(chan wamp.List, 1)
	if _, err := c.Subscribe(ctx, "test.topic", func(e *client.Event) { got <- e.Args }, nil); err != nil {
		t.Fatal(err)
	}
	if err := ws.Publish(ctx, "test.topic", wamp.Dict{"acknowledge": true}, wamp.List{"hello", 42}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case args := <-got:
		if len(args) != 2 || args[0] != "hello" {
			t.Fatalf("event args %v", args)
		}
	case <-ctx.Done():
		t.Fatal("no event over rawsocket")
	}
	if _, err := c.Register(ctx, "test.add", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := wamp.AsInt64(inv.Args[0])
		b, _ := wamp.AsInt64(inv.Args[1])
		return &client.Result{Args: wamp.List{a + b}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := ws.Call(ctx, "test.add", nil, wamp.List{2, 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt64(res.Args[0]); len(res.Args) != 1 || n != 5 {
		t.Fatalf("result %v", res.Args)
	}
}

func TestRoundTrip(t *testing.T) {
	r := routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{}})
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		t.Run("tcp/"+ser, func(t *testing.T) { roundTrip(t, r, r.RawSocketURL, ser) })
	}
}

// wsPortURL is the RawSocket URL of the router's WebSocket port.
func wsPortURL(r *routertest.Router) string {
	u := strings.TrimSuffix(r.URL, "/ws")
	u = strings.Replace(u, "wss://", "rss://", 1)
	return strings.Replace(u, "ws://", "rs://", 1)
}

func TestRoundTripOnWebSocketPort(t *testing.T) {
	r := routertest.Start(t, routertest.Options{RawSocket: &realm.RawSocketEndpointOptions{}})
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		t.Run(ser, func(t *testing.T) { roundTrip(t, r, wsPortURL(r), ser) })
	}
}

func TestRoundTripTLS(t *testing.T) {
	r := routertest.Start(t, routertest.Options{TLS: true, RawSocket: &realm.RawSocketEndpointOptions{}})
	t.Run("own port", func(t *testing.T) { roundTrip(t, r, r.RawSocketURL, "json") })
	t.Run("tcps scheme", func(t *testing.T) {
		roundTrip(t, r, strings.Replace(r.RawSocketURL, "rss://", "tcps://", 1), "msgpack")
	})
	t.Run("WebSocket port", func(t *testing.T) { roundTrip(t, r, wsPortURL(r), "json") })
}

func TestRoundTripUnixSocket(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	path := filepath.Join(t.TempDir(), "pawl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	e := r.NewRawSocketEndpoint(realm.RawSocketEndpointOptions{})
	served := make(chan error, 1)
	go func() { served <- e.Serve(ln) }()
	t.Cleanup(func() {
		e.Close()
		if err := <-served; !errors.Is(err, rawsocket.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	roundTrip(t, r, "unix://"+path, "json")
}
