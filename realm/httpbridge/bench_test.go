package httpbridge_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// One acknowledged publication per HTTP request through the publisher service, with
// keep-alive connections (what a PHP-FPM pool with persistent curl handles does), next to the
// baseline: the same acknowledged publication from a WebSocket client.
func BenchmarkPublishHTTP(b *testing.B) {
	e := newEnv(b)
	url := e.mount(b, httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "backend"})
	body := []byte(`{"topic":"com.example.bench","args":["hello",1],"kwargs":{"k":"v"}}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkPublishWebSocket(b *testing.B) {
	e := newEnv(b)
	c := e.client(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.PublishAcknowledged(ctx, "com.example.bench", nil, wamp.List{"hello", 1}, wamp.Dict{"k": "v"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
