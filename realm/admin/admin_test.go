package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/admin"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

const ticketSecret = "metrics-ticket"

// adminRouter is a router on a free port with realm1 (anonymous, and principal "joe" with a
// ticket) and its admin handler on another.
type adminRouter struct {
	*routertest.Router
	Admin string // http://127.0.0.1:PORT
}

func startAdmin(t *testing.T, opts routertest.Options, checks ...admin.Check) *adminRouter {
	t.Helper()
	if len(opts.Realms) == 0 {
		hash, err := auth.HashSecret(ticketSecret, auth.HashParams{Algorithm: auth.HashPBKDF2, Iterations: 1000})
		if err != nil {
			t.Fatal(err)
		}
		anonymous := true
		opts.Realms = []realm.Config{{Name: "realm1", Anonymous: &anonymous, Auth: authn.Config{Principals: []authn.Principal{
			{AuthID: "joe", Role: "user", Ticket: hash}}}}}
	}
	r := routertest.Start(t, opts)
	srv := httptest.NewServer(admin.Handler(r.Router, admin.Options{Checks: checks}))
	t.Cleanup(srv.Close)
	return &adminRouter{Router: r, Admin: srv.URL}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, r *adminRouter, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t), r.URL, "realm1", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func get(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// scrape is one /metrics exposition, parsed.
type scrape struct {
	raw      []byte
	families map[string]*dto.MetricFamily
}

func scrapeMetrics(t *testing.T, r *adminRouter) scrape {
	t.Helper()
	status, ctype, body := get(t, r.Admin+"/metrics")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("/metrics: %d %s\n%s", status, ctype, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return scrape{raw: body, families: fams}
}

// value is the metric of a family whose labels include all of labels (name=value pairs): a
// counter's or gauge's value, or a histogram's count. Missing: -1.
func (s scrape) value(name string, labels ...string) float64 {
	fam := s.families[name]
	if fam == nil {
		return -1
	}
next:
	for _, m := range fam.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// promtoolCheck runs Debian prometheus's `promtool check metrics` on an exposition: it
// must find nothing to complain about.
func promtoolCheck(t *testing.T, exposition []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run .ci/install-deps (Debian package prometheus)", err)
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Args: inv.Args}, nil
}

// A router that has served pub/sub, RPC and authentications exposes it all in Prometheus
// format: promtool finds nothing wrong, and every counter moved by what the clients did.
func TestMetricsFollowTraffic(t *testing.T) {
	r := startAdmin(t, routertest.Options{})
	subJSON := dial(t, r, client.Options{})
	subMsgpack := dial(t, r, client.Options{Serializer: "msgpack"})
	pub := dial(t, r, client.Options{})
	callee := dial(t, r, client.Options{Serializer: "msgpack"})
	caller := dial(t, r, client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: ticketSecret}})
	if _, err := client.Dial(ctxT(t), r.URL, "realm1", client.Options{AuthID: "joe",
		Credentials: client.Credentials{Ticket: "wrong"}}); err == nil {
		t.Fatal("a wrong ticket was accepted")
	}
	for _, c := range []*client.Client{subJSON, subMsgpack} {
		if _, err := c.Subscribe(ctxT(t), "com.example.topic", func(*client.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := callee.Register(ctxT(t), "com.example.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	before := scrapeMetrics(t, r)

	const pubs, calls = 5, 3
	for i := range pubs {
		if err := pub.Publish(ctxT(t), "com.example.topic", wamp.Dict{"acknowledge": true}, wamp.List{i, "hello"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range calls {
		if _, err := caller.Call(ctxT(t), "com.example.echo", nil, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := caller.Call(ctxT(t), "com.example.missing", nil, nil, nil)
	if ae := (*wamp.ApplicationError)(nil); !errors.As(err, &ae) || ae.URI != wamp.ErrNoSuchProcedure {
		t.Fatalf("call to a missing procedure: %v", err)
	}
	realm1 := []string{"realm", "realm1"}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pawl_publications_total", realm1, pubs},
		{"pawl_events_delivered_total", realm1, 2 * pubs},
		{"pawl_messages_received_total", append(realm1, "type", "PUBLISH"), pubs},
		{"pawl_messages_sent_total", append(realm1, "type", "PUBLISHED"), pubs},
		{"pawl_messages_sent_total", append(realm1, "type", "EVENT"), 2 * pubs},
		{"pawl_messages_received_total", append(realm1, "type", "CALL"), calls + 1},
		{"pawl_messages_sent_total", append(realm1, "type", "INVOCATION"), calls},
		{"pawl_messages_received_total", append(realm1, "type", "YIELD"), calls},
		{"pawl_messages_sent_total", append(realm1, "type", "RESULT"), calls},
		{"pawl_messages_sent_total", append(realm1, "type", "ERROR"), 1},
		{"pawl_errors_sent_total", append(realm1, "uri", string(wamp.ErrNoSuchProcedure)), 1},
		{"pawl_calls_total", realm1, calls + 1},
		{"pawl_call_duration_seconds", realm1, calls},
	}
	var after scrape
	delta := func(name string, labels ...string) float64 {
		a, b := after.value(name, labels...), before.value(name, labels...)
		if b < 0 {
			b = 0 // a labelled series appears with its first count
		}
		return a - b
	}
	// The router counts a sent message once the socket has taken it, which may be just after
	// the client saw it (the ERROR of the missing procedure, or events still queued for the
	// subscribers): wait, a bounded time, until every count this test expects has been made
	// and the queues have drained. A count that never arrives fails below.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		after = scrapeMetrics(t, r)
		settled := after.value("pawl_queued_messages", realm1...) == 0
		for _, c := range checks {
			settled = settled && delta(c.name, c.labels...) >= c.want
		}
		if settled || time.Now().After(deadline) {
			break
		}
	}
	promtoolCheck(t, after.raw)

	for _, c := range checks {
		if after.value(c.name, c.labels...) < 0 {
			t.Errorf("%s%v missing from /metrics", c.name, c.labels)
		} else if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := delta("pawl_sent_bytes_total", append(realm1, "type", "EVENT")...); got < float64(2*pubs*len(`[36,1,1,{},[0,"hello"]]`)) {
		t.Errorf("pawl_sent_bytes_total{type=EVENT} moved by %v bytes for %d events", got, 2*pubs)
	}
	if got := delta("pawl_received_bytes_total", append(realm1, "type", "PUBLISH")...); got < float64(pubs*len(`[16,1,{},"com.example.topic"]`)) {
		t.Errorf("pawl_received_bytes_total{type=PUBLISH} moved by %v bytes for %d publications", got, pubs)
	}
	// Sessions by serializer: subJSON, pub and caller speak JSON, subMsgpack and callee MessagePack.
	for ser, want := range map[string]float64{"json": 3, "msgpack": 2} {
		if got := after.value("pawl_sessions", append(realm1, "transport", "websocket", "serializer", ser)...); got != want {
			t.Errorf("pawl_sessions{serializer=%s} = %v, want %v", ser, got, want)
		}
	}
	for _, c := range []struct {
		method, result string
		want           float64
	}{{"anonymous", "success", 4}, {"ticket", "success", 1}, {"ticket", "failure", 1}, {"wampcra", "failure", 0}} {
		if got := after.value("pawl_authentications_total", append(realm1, "method", c.method, "result", c.result)...); got != c.want {
			t.Errorf("pawl_authentications_total{method=%s,result=%s} = %v, want %v", c.method, c.result, got, c.want)
		}
	}
	for _, name := range []string{"pawl_slow_consumer_disconnects_total", "pawl_queued_messages", "pawl_queued_bytes"} {
		if got := after.value(name, realm1...); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "go_build_info"} {
		if after.value(name) <= 0 {
			t.Errorf("runtime metric %s missing", name)
		}
	}
	// No history on this realm: no history series.
	if _, ok := after.families["pawl_history_events_written_total"]; ok {
		t.Error("history metrics exported for a realm without history")
	}
}

// A realm with an event history counts what its store wrote.
func TestMetricsCountHistoryWrites(t *testing.T) {
	store, err := pubsub.OpenBoltStore(filepath.Join(t.TempDir(), pubsub.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the router's shutdown, which flushes its history
	r := startAdmin(t, routertest.Options{Realms: []realm.Config{{Name: "realm1", HistoryStore: store,
		History: pubsub.HistoryConfig{Topics: []pubsub.HistoryRule{{Topic: "com.example.kept", Limit: 100}}}}}})
	pub := dial(t, r, client.Options{})
	for i := range 3 {
		if err := pub.Publish(ctxT(t), "com.example.kept", wamp.Dict{"acknowledge": true}, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Reading the history waits for the writer: afterwards the three are written.
	if _, err := pub.Call(ctxT(t), "pawl.topic.get_events", nil, wamp.List{"com.example.kept"}, nil); err != nil {
		t.Fatal(err)
	}
	m := scrapeMetrics(t, r)
	if got := m.value("pawl_history_events_written_total", "realm", "realm1"); got != 3 {
		t.Errorf("pawl_history_events_written_total = %v, want 3", got)
	}
	for _, reason := range []string{"writer_behind", "store_failed"} {
		if got := m.value("pawl_history_events_not_kept_total", "realm", "realm1", "reason", reason); got != 0 {
			t.Errorf("pawl_history_events_not_kept_total{reason=%s} = %v, want 0", reason, got)
		}
	}
	promtoolCheck(t, m.raw)
}

// /healthz says the process is alive; /readyz runs the checks: 200 while all pass, 503 with
// a JSON body naming the failing ones otherwise.
func TestHealthAndReadiness(t *testing.T) {
	var storeErr error
	r := startAdmin(t, routertest.Options{},
		admin.Check{Name: "listeners", Check: func(context.Context) error { return nil }},
		admin.Check{Name: "history_store", Check: func(context.Context) error { return storeErr }},
	)
	if status, ctype, body := get(t, r.Admin+"/healthz"); status != 200 || ctype != "application/json" || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("/healthz: %d %s %s", status, ctype, body)
	}
	var ready struct {
		Ready    bool
		Checks   map[string]string
		NotReady []string `json:"not_ready"`
	}
	status, _, body := get(t, r.Admin+"/readyz")
	if err := json.Unmarshal(body, &ready); err != nil || status != 200 || !ready.Ready ||
		ready.Checks["listeners"] != "ok" || ready.Checks["history_store"] != "ok" {
		t.Errorf("/readyz while ready: %d %s", status, body)
	}
	storeErr = errors.New("redis: connection refused")
	ready.Checks, ready.NotReady = nil, nil
	status, _, body = get(t, r.Admin+"/readyz")
	if err := json.Unmarshal(body, &ready); err != nil || status != http.StatusServiceUnavailable || ready.Ready ||
		len(ready.NotReady) != 1 || ready.NotReady[0] != "history_store" ||
		ready.Checks["history_store"] != "redis: connection refused" || ready.Checks["listeners"] != "ok" {
		t.Errorf("/readyz with the store down: %d %s", status, body)
	}
}

// /status.json lists realms, sessions (transport, serializer, authid, authrole, queue depth),
// subscriptions and registrations.
func TestStatusJSON(t *testing.T) {
	r := startAdmin(t, routertest.Options{})
	sub := dial(t, r, client.Options{Serializer: "msgpack"})
	callee := dial(t, r, client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: ticketSecret}})
	if _, err := sub.Subscribe(ctxT(t), "com.example.news", func(*client.Event) {}, wamp.Dict{"match": "prefix"}); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register(ctxT(t), "com.example.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	status, ctype, body := get(t, r.Admin+"/status.json")
	if status != 200 || ctype != "application/json" {
		t.Fatalf("/status.json: %d %s %s", status, ctype, body)
	}
	var st admin.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Realms) != 1 || st.Realms[0].Name != "realm1" {
		t.Fatalf("realms: %s", body)
	}
	rs := st.Realms[0]
	if rs.SessionCount != 2 || rs.SubscriptionCount != 1 || rs.RegistrationCount != 1 {
		t.Errorf("counts: %d sessions, %d subscriptions, %d registrations", rs.SessionCount, rs.SubscriptionCount, rs.RegistrationCount)
	}
	byID := map[wamp.ID]admin.SessionStatus{}
	for _, s := range rs.Sessions {
		byID[s.ID] = s
	}
	s, ok := byID[sub.ID()]
	if !ok || s.Serializer != "msgpack" || s.Transport != "websocket" || s.AuthRole != "anonymous" || s.Remote == "" ||
		s.QueuedMessages != 0 {
		t.Errorf("subscriber's session: %+v (listed %v)", s, ok)
	}
	c, ok := byID[callee.ID()]
	if !ok || c.AuthID != "joe" || c.AuthRole != "user" || c.AuthMethod != "ticket" || c.Serializer != "json" {
		t.Errorf("callee's session: %+v (listed %v)", c, ok)
	}
	if len(rs.Subscriptions) != 1 || rs.Subscriptions[0].Topic != "com.example.news" || rs.Subscriptions[0].Match != "prefix" ||
		len(rs.Subscriptions[0].Subscribers) != 1 || rs.Subscriptions[0].Subscribers[0] != sub.ID() {
		t.Errorf("subscriptions: %+v", rs.Subscriptions)
	}
	if len(rs.Registrations) != 1 || rs.Registrations[0].Procedure != "com.example.echo" ||
		len(rs.Registrations[0].Callees) != 1 || rs.Registrations[0].Callees[0] != callee.ID() {
		t.Errorf("registrations: %+v", rs.Registrations)
	}
	if len(rs.SlowConsumers) != 0 {
		t.Errorf("slow consumers: %+v", rs.SlowConsumers)
	}
	// The page itself: HTML that reads status.json, behind a restrictive content policy.
	status, ctype, page := get(t, r.Admin+"/status")
	if status != 200 || !strings.HasPrefix(ctype, "text/html") || !bytes.Contains(page, []byte(`fetch("status.json"`)) {
		t.Errorf("/status: %d %s", status, ctype)
	}
	// The admin root leads to it.
	resp, err := http.Get(r.Admin + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/status" {
		t.Errorf("GET / ends at %s with %d, want /status", resp.Request.URL.Path, resp.StatusCode)
	}
	if status, _, _ := get(t, r.Admin+"/nothing-here"); status != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d, want 404", status)
	}
}

// An in-process client (Router.LocalClient) is a session over the "memory" transport,
// authenticated as "trusted".
func TestMetricsLabelLocalSessions(t *testing.T) {
	r := startAdmin(t, routertest.Options{})
	c, err := r.LocalClient(ctxT(t), "realm1", client.Options{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := scrapeMetrics(t, r)
	if got := m.value("pawl_sessions", "realm", "realm1", "transport", "memory", "serializer", "msgpack"); got != 1 {
		t.Errorf("pawl_sessions{transport=memory,serializer=msgpack} = %v, want 1", got)
	}
	if got := m.value("pawl_authentications_total", "realm", "realm1", "method", "trusted", "result", "success"); got != 1 {
		t.Errorf("pawl_authentications_total{method=trusted,result=success} = %v, want 1", got)
	}
}

// A client that hits a limit shows in pawl_limit_refusals_total under that limit's name.
func TestMetricsCountLimitRefusals(t *testing.T) {
	r := startAdmin(t, routertest.Options{})
	c := dial(t, r, client.Options{})
	before := scrapeMetrics(t, r)

	if _, err := c.Register(ctxT(t), "wamp.session.count", echo, nil); err == nil {
		t.Fatal("a client registered a procedure in the router's namespace")
	}
	long := wamp.URI("com.example." + strings.Repeat("a", 2000))
	if _, err := c.Subscribe(ctxT(t), long, func(*client.Event) {}, nil); err == nil {
		t.Fatal("a 2 KB topic URI was accepted")
	}
	after := scrapeMetrics(t, r)
	promtoolCheck(t, after.raw)
	for _, limit := range []string{"reserved_procedure", "max_uri_length"} {
		if got := after.value("pawl_limit_refusals_total", "limit", limit) - before.value("pawl_limit_refusals_total", "limit", limit); got != 1 {
			t.Errorf("pawl_limit_refusals_total{limit=%s} moved by %v, want 1", limit, got)
		}
	}
	if got := after.value("pawl_limit_refusals_total", "limit", "call_queue_limit") - before.value("pawl_limit_refusals_total", "limit", "call_queue_limit"); got != 0 {
		t.Errorf("pawl_limit_refusals_total{limit=call_queue_limit} moved by %v with no call made", got)
	}
}
