package admin_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/admin"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
)

// The HTTP bridge's counters are on /metrics: requests, refusals by reason and events
// forwarded move with what the bridge did, and promtool finds nothing wrong.
func TestMetricsFollowTheHTTPBridge(t *testing.T) {
	rt := routertest.Start(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", Roles: []authz.Role{
		{Name: "backend", Permissions: []authz.Permission{{URI: "com.example.", Match: "prefix", Publish: true, Subscribe: true}}},
	}}}})
	bridge := httpbridge.New(rt.Router, httpbridge.Options{})
	t.Cleanup(bridge.Close)
	adminSrv := httptest.NewServer(admin.Handler(rt.Router, admin.Options{Bridge: bridge}))
	t.Cleanup(adminSrv.Close)
	r := &adminRouter{Router: rt, Admin: adminSrv.URL}

	received := make(chan struct{}, 10)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		received <- struct{}{}
	}))
	t.Cleanup(endpoint.Close)
	fwd, err := bridge.Forwarder(httpbridge.SubscriberConfig{Realm: "realm1", Role: "backend",
		Topic: "com.example.news", URL: endpoint.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := bridge.Handler(httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "backend"})
	if err != nil {
		t.Fatal(err)
	}
	bridgeSrv := httptest.NewServer(svc)
	t.Cleanup(bridgeSrv.Close)
	for _, joined := range []<-chan struct{}{fwd.Joined(), svc.Joined()} {
		select {
		case <-joined:
		case <-time.After(10 * time.Second):
			t.Fatal("the bridge's sessions did not join")
		}
	}
	before := scrapeMetrics(t, r)

	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(bridgeSrv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post(`{"topic": "com.example.news", "args": ["hello"]}`); s != http.StatusOK {
		t.Fatalf("publish: %d", s)
	}
	if s := post(`{"topic":`); s != http.StatusBadRequest {
		t.Fatalf("a malformed body: %d, want 400", s)
	}
	select {
	case <-received:
	case <-time.After(10 * time.Second):
		t.Fatal("the event was not forwarded")
	}
	// The forwarder counts a delivery once the endpoint's answer is read.
	deadline := time.Now().Add(10 * time.Second)
	for fwd.Stats().Delivered == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	after := scrapeMetrics(t, r)
	promtoolCheck(t, after.raw)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pawl_bridge_requests_total", nil, 2},
		{"pawl_bridge_refusals_total", []string{"reason", string(httpbridge.ErrInvalidJSON)}, 1},
		{"pawl_bridge_events_forwarded_total", nil, 1},
		{"pawl_bridge_forward_failures_total", nil, 0},
		{"pawl_bridge_events_dropped_total", nil, 0},
	} {
		a := after.value(c.name, c.labels...)
		b := before.value(c.name, c.labels...)
		if b < 0 {
			b = 0 // a reason appears with its first refusal
		}
		if a < 0 || a-b != c.want {
			t.Errorf("%s%v moved by %v (now %v), want %v", c.name, c.labels, a-b, a, c.want)
		}
	}
}
