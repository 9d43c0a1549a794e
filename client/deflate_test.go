package client_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/internal/wstest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// The Go client negotiates permessage-deflate when Transport.Deflate.Enabled says so (it is
// off by default): a large event goes to the router compressed and comes back compressed, the
// router's meta API lists the extension, and a client that does not ask gets neither.
func TestClientDeflate(t *testing.T) {
	leakcheck.Check(t)
	router := realm.NewRouter(nil, realm.New(realm.Config{Name: "realm1"}, nil))
	srv := httptest.NewServer(router.WebSocketHandler(realm.EndpointOptions{
		Transport: websocket.Options{Deflate: websocket.DeflateOptions{Enabled: true}}}))
	t.Cleanup(func() {
		router.Shutdown(5 * time.Second)
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	text := strings.Repeat("the quick brown fox jumps over the lazy dog; ", 400) // 18 KiB

	for _, deflate := range []bool{true, false} {
		wire := &wstest.Wire{}
		opts := client.Options{Serializer: "msgpack", Transport: websocket.Options{
			Deflate: websocket.DeflateOptions{Enabled: deflate}, NetDialContext: wire.Dial}}
		c, err := client.Dial(ctx, url, "realm1", opts)
		if err != nil {
			t.Fatal(err)
		}
		events := make(chan string, 1)
		if _, err := c.Subscribe(ctx, "com.example.big", func(e *client.Event) { events <- e.Args[0].(string) }, nil); err != nil {
			t.Fatal(err)
		}
		sent, got := wire.Written.Load(), wire.Read.Load()
		if err := c.Publish(ctx, "com.example.big", wamp.Dict{"acknowledge": true, "exclude_me": false},
			wamp.List{text}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-events:
			if e != text {
				t.Fatalf("deflate %v: the event came back as %d bytes that differ", deflate, len(e))
			}
		case <-ctx.Done():
			t.Fatalf("deflate %v: no event", deflate)
		}
		sent, got = wire.Written.Load()-sent, wire.Read.Load()-got
		if compressed := sent < int64(len(text))/4; compressed != deflate {
			t.Errorf("deflate %v: the client wrote %d bytes for a %d-byte payload", deflate, sent, len(text))
		}
		if compressed := got < int64(len(text))/4; compressed != deflate {
			t.Errorf("deflate %v: the client read %d bytes for a %d-byte payload (event and acknowledgement)", deflate, got, len(text))
		}

		res, err := c.Call(ctx, "wamp.session.get", nil, wamp.List{c.ID()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		transport, _ := res.Args[0].(wamp.Dict)["transport"].(wamp.Dict)
		exts, _ := transport["websocket_extensions_in_use"].(wamp.List)
		if listed := len(exts) == 1 && exts[0] == "permessage-deflate"; listed != deflate {
			t.Errorf("deflate %v: the router's meta API lists extensions %v", deflate, transport["websocket_extensions_in_use"])
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
