package admin_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// stuckSubscriber joins realm1 over a raw WebSocket, subscribes to topic, and then reads
// nothing more: its outbound queue fills up. It returns the session ID.
func stuckSubscriber(t *testing.T, url, topic string) wamp.ID {
	t.Helper()
	// A small receive buffer keeps the kernel from absorbing megabytes for the stuck reader
	// (receive-buffer autotuning), so the router's queue fills after a few events even when a
	// loaded machine publishes slowly.
	d := gorilla.Dialer{Subprotocols: []string{"wamp.2.json"},
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4 << 10)
			}
			return c, err
		}}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	read := func() wamp.Message {
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		m, err := wamp.JSON.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ws.WriteMessage(gorilla.TextMessage, []byte(`[1,"realm1",{"roles":{"subscriber":{}}}]`))
	welcome, ok := read().(*wamp.Welcome)
	if !ok {
		t.Fatal("no WELCOME")
	}
	ws.WriteMessage(gorilla.TextMessage, []byte(`[32,1,{},"`+topic+`"]`))
	if _, ok := read().(*wamp.Subscribed); !ok {
		t.Fatal("no SUBSCRIBED")
	}
	return welcome.Session
}

// A subscriber that stops reading is cut off: the cut-off is counted in
// pawl_slow_consumer_disconnects_total and listed, with its authid, in /status.json.
func TestSlowConsumerCounted(t *testing.T) {
	r := startAdmin(t, routertest.Options{Endpoint: realm.EndpointOptions{
		Transport: websocket.Options{QueueBytes: 256 << 10, WriteTimeout: time.Second}}})
	stuck := stuckSubscriber(t, r.URL, "com.example.flood")
	pub := dial(t, r, client.Options{})
	big := wamp.List{strings.Repeat("x", 64<<10)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := pub.Publish(ctxT(t), "com.example.flood", wamp.Dict{"acknowledge": true}, big, nil); err != nil {
			t.Fatal(err)
		}
		if scrapeMetrics(t, r).value("pawl_slow_consumer_disconnects_total", "realm", "realm1") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stuck subscriber was not cut off within 30s")
		}
	}
	_, _, body := get(t, r.Admin+"/status.json")
	var st struct {
		Realms []struct {
			SlowConsumers []struct {
				Session    wamp.ID
				AuthRole   string
				Serializer string
				Remote     string
			} `json:"slow_consumers"`
		}
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	cut := st.Realms[0].SlowConsumers
	if len(cut) != 1 || cut[0].Session != stuck || cut[0].AuthRole != "anonymous" || cut[0].Serializer != "json" || cut[0].Remote == "" {
		t.Errorf("slow consumers in /status.json: %+v, want session %d", cut, stuck)
	}
}
