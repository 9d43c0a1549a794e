package httpbridge_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

func TestPublisherPublishes(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "backend"})
	events := subscribe(t, e.client(t), "com.example.news")

	r := post(t, url, "application/json", []byte(`{"topic":"com.example.news","args":["hello",9007199254740993],"kwargs":{"from":"http"}}`))
	if r.Status != http.StatusOK {
		t.Fatalf("publish: %d %s", r.Status, r.Raw)
	}
	id, ok := r.Body["id"].(float64)
	if !ok || id <= 0 {
		t.Fatalf("publish answered %s, want {\"id\": publication}", r.Raw)
	}
	ev := nextEvent(t, events)
	if ev.Publication != wamp.ID(id) {
		t.Errorf("event publication %d, answer's id %v", ev.Publication, id)
	}
	if n, _ := wamp.AsInt64(ev.Args[1]); len(ev.Args) != 2 || ev.Args[0] != "hello" || n != 9007199254740993 || ev.Kwargs["from"] != "http" {
		t.Errorf("event args %v kwargs %v (integers must stay exact)", ev.Args, ev.Kwargs)
	}

	// No Content-Type at all is accepted too (Crossbar.io clients that omit it).
	if r := post(t, url, "", []byte(`{"topic":"com.example.news","args":[2]}`)); r.Status != http.StatusOK {
		t.Errorf("publish without Content-Type: %d %s", r.Status, r.Raw)
	}
	if ev := nextEvent(t, events); fmt.Sprint(ev.Args) != "[2]" {
		t.Errorf("second event %v", ev.Args)
	}

	// Options: eligible_authrole keeps the event from an anonymous subscriber.
	r = post(t, url, "application/json", []byte(`{"topic":"com.example.news","args":[3],"options":{"eligible_authrole":["nobody"]}}`))
	if r.Status != http.StatusOK {
		t.Fatalf("publish with options: %d %s", r.Status, r.Raw)
	}
	r = post(t, url, "application/json", []byte(`{"topic":"com.example.news","args":[4]}`))
	if ev := nextEvent(t, events); fmt.Sprint(ev.Args) != "[4]" {
		t.Errorf("the subscriber got %v, want only [4] (the eligible list left it out of [3])", ev.Args)
	}
	// A misspelt option is refused rather than ignored.
	expectError(t, post(t, url, "application/json", []byte(`{"topic":"com.example.news","options":{"eligable":[1]}}`)),
		http.StatusBadRequest, httpbridge.ErrBadRequest)
}

func TestPublisherRefusals(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "backend", MaxBody: 256})
	for _, c := range []struct {
		name, ctype, body string
		status            int
		uri               wamp.URI
	}{
		{"not JSON", "application/json", `{"topic":`, 400, httpbridge.ErrInvalidJSON},
		{"not an object", "application/json", `["com.example.x"]`, 400, httpbridge.ErrInvalidJSON},
		{"empty", "application/json", ``, 400, httpbridge.ErrInvalidJSON},
		{"no topic", "application/json", `{"args":[]}`, 400, httpbridge.ErrBadRequest},
		{"args not a list", "application/json", `{"topic":"com.example.x","args":{}}`, 400, httpbridge.ErrBadRequest},
		{"kwargs not an object", "application/json", `{"topic":"com.example.x","kwargs":[]}`, 400, httpbridge.ErrBadRequest},
		{"form type", "application/x-www-form-urlencoded", `{"topic":"com.example.x"}`, 415, httpbridge.ErrContentType},
		{"latin-1", "application/json; charset=iso-8859-1", `{"topic":"com.example.x"}`, 415, httpbridge.ErrContentType},
		{"invalid UTF-8", "application/json", "{\"topic\":\"com.example.\xff\"}", 400, httpbridge.ErrInvalidUTF8},
		{"too large", "application/json", `{"topic":"com.example.x","args":["` + strings.Repeat("x", 300) + `"]}`, 413, httpbridge.ErrTooLarge},
		{"invalid URI", "application/json", `{"topic":"com.example..x y"}`, 400, wamp.ErrInvalidURI},
		{"not authorized", "application/json", `{"topic":"org.other.news"}`, 403, wamp.ErrNotAuthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			expectError(t, post(t, url, c.ctype, []byte(c.body)), c.status, c.uri)
		})
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	r := do(t, req)
	expectError(t, r, http.StatusMethodNotAllowed, httpbridge.ErrMethod)
	if r.Header.Get("Allow") != "POST, PUT" {
		t.Errorf("405 with Allow %q", r.Header.Get("Allow"))
	}
	if n := e.bridge.Stats().Refused.Load(); n != 13 {
		t.Errorf("Stats.Refused = %d, want 13", n)
	}
}

// The service's session is authorized as its role: a role that may not publish or call gets
// 403 with wamp.error.not_authorized, like a WAMP session of that role.
func TestAuthorizationAppliesToTheServiceRole(t *testing.T) {
	e := newEnv(t)
	pub := e.mount(t, httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "reader"})
	call := e.mount(t, httpbridge.ServiceConfig{Path: "/call", Type: "caller", Realm: "realm1", Role: "reader"})
	events := subscribe(t, e.client(t), "com.example.news")
	register(t, e.client(t), "com.example.add2", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		t.Error("a call the role may not make reached the callee")
		return &client.Result{}, nil
	})
	hook := e.mount(t, httpbridge.ServiceConfig{Path: "/hook", Type: "webhook", Realm: "realm1", Role: "reader", Topic: "com.example.news"})
	expectError(t, post(t, pub, "application/json", []byte(`{"topic":"com.example.news","args":[1]}`)), 403, wamp.ErrNotAuthorized)
	expectError(t, post(t, hook, "text/plain", []byte(`ping`)), 403, wamp.ErrNotAuthorized)
	expectError(t, post(t, call, "application/json", []byte(`{"procedure":"com.example.add2","args":[1,2]}`)), 403, wamp.ErrNotAuthorized)
	select {
	case ev := <-events:
		t.Errorf("a refused publication was delivered: %v", ev.Args)
	case <-time.After(100 * time.Millisecond):
	}
	// An unknown role may do nothing at all.
	none := e.mount(t, httpbridge.ServiceConfig{Path: "/none", Type: "publisher", Realm: "realm1", Role: "stranger"})
	expectError(t, post(t, none, "application/json", []byte(`{"topic":"com.example.news"}`)), 403, wamp.ErrNotAuthorized)
}

func TestCallerCalls(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/call", Type: "caller", Realm: "realm1", Role: "backend", Timeout: 600 * time.Millisecond})
	c := e.client(t)
	register(t, c, "com.example.add2", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := wamp.AsInt64(inv.Args[0])
		b, _ := wamp.AsInt64(inv.Args[1])
		return &client.Result{Args: wamp.List{a + b}}, nil
	})
	register(t, c, "com.example.kw", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: wamp.List{"a", "b"}, Kwargs: wamp.Dict{"who": inv.Kwargs["who"]}}, nil
	})
	register(t, c, "com.example.fail", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return nil, &wamp.ApplicationError{URI: "com.example.error.bad", Args: wamp.List{"no way"}, Kwargs: wamp.Dict{"code": 7}}
	})
	register(t, c, "com.example.slow", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
		return &client.Result{}, nil
	})

	r := post(t, url, "application/json", []byte(`{"procedure":"com.example.add2","args":[2,3]}`))
	if r.Status != 200 || r.Raw != "{\"args\":[5]}\n" {
		t.Errorf("add2: %d %q, want 200 {\"args\":[5]}", r.Status, r.Raw)
	}
	r = post(t, url, "application/json", []byte(`{"procedure":"com.example.kw","kwargs":{"who":"php"}}`))
	if r.Status != 200 || fmt.Sprint(r.Body["args"]) != "[a b]" || fmt.Sprint(r.Body["kwargs"]) != "map[who:php]" {
		t.Errorf("kw: %d %s", r.Status, r.Raw)
	}
	// A callee's error is the call's answer, status 200, in Crossbar.io's format.
	r = post(t, url, "application/json", []byte(`{"procedure":"com.example.fail"}`))
	expectError(t, r, 200, "com.example.error.bad")
	if fmt.Sprint(r.Body["args"], r.Body["kwargs"]) != "[no way] map[code:7]" {
		t.Errorf("fail: %s", r.Raw)
	}
	expectError(t, post(t, url, "application/json", []byte(`{"procedure":"com.example.nobody"}`)), 200, wamp.ErrNoSuchProcedure)

	// The request's timeout (ms) is shorter than the service's: it wins.
	start := time.Now()
	expectError(t, post(t, url, "application/json", []byte(`{"procedure":"com.example.slow","options":{"timeout":100}}`)), 200, wamp.ErrTimeout)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("a call with a 100 ms timeout took %v", d)
	}
	// Without one (or with a longer one), the service's 600ms bound applies.
	start = time.Now()
	expectError(t, post(t, url, "application/json", []byte(`{"procedure":"com.example.slow","options":{"timeout":60000}}`)), 200, wamp.ErrTimeout)
	if d := time.Since(start); d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("a call bounded by the service's 600ms timeout took %v", d)
	}
	expectError(t, post(t, url, "application/json", []byte(`{"procedure":"com.example.add2","options":{"timeout":"soon"}}`)), 400, httpbridge.ErrBadRequest)
}

func TestWebhookPublishesAnyBody(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/hook", Type: "webhook", Realm: "realm1", Role: "backend", Topic: "com.example.hook"})
	events := subscribe(t, e.client(t), "com.example.hook")

	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("payment=42&state=ok"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Delivery", "abc")
	req.Header.Set("Authorization", "Bearer secret-token")
	r := do(t, req)
	if r.Status != http.StatusAccepted || r.Body["id"] == nil {
		t.Fatalf("webhook: %d %s, want 202 {\"id\": ...}", r.Status, r.Raw)
	}
	ev := nextEvent(t, events)
	msg, _ := ev.Args[0].(wamp.Dict)
	headers, _ := msg["headers"].(wamp.Dict)
	if msg["body"] != "payment=42&state=ok" || fmt.Sprint(headers["X-Delivery"]) != "[abc]" {
		t.Errorf("webhook event %v", ev.Args)
	}
	if _, leaked := headers["Authorization"]; leaked {
		t.Error("the webhook published the sender's Authorization header")
	}
	// Not UTF-8: refused, nothing published.
	expectError(t, post(t, url, "application/octet-stream", []byte{0xff, 0xfe}), 400, httpbridge.ErrInvalidUTF8)
}

func TestWebhookGitHubSignature(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/github", Type: "webhook", Realm: "realm1", Role: "backend",
		Topic: "com.example.github", GitHubSecret: "It's a Secret to Everybody"})
	events := subscribe(t, e.client(t), "com.example.github")
	body := `{"action":"opened"}`
	sign := func(secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	for _, c := range []struct{ name, sig string }{{"missing", ""}, {"wrong secret", sign("guess")}, {"garbage", "sha256=zz"}} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if c.sig != "" {
			req.Header.Set("X-Hub-Signature-256", c.sig)
		}
		expectError(t, do(t, req), http.StatusUnauthorized, httpbridge.ErrGitHubSignature)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", sign("It's a Secret to Everybody"))
	req.Header.Set("X-GitHub-Event", "issues")
	if r := do(t, req); r.Status != http.StatusAccepted {
		t.Fatalf("signed webhook: %d %s", r.Status, r.Raw)
	}
	ev := nextEvent(t, events)
	if msg, _ := ev.Args[0].(wamp.Dict); msg["body"] != body {
		t.Errorf("event %v", ev.Args)
	}
}

func TestSignedRequests(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "backend",
		Keys: map[string]string{"app1": "secret1", "app2": "secret2"}, TimestampWindow: time.Minute, MaxNonces: 3})
	events := subscribe(t, e.client(t), "com.example.signed")
	body := []byte(`{"topic":"com.example.signed","args":["ok"]}`)
	send := func(q map[string]string) reply {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		v := req.URL.Query()
		for k, x := range q {
			v.Set(k, x)
		}
		req.URL.RawQuery = v.Encode()
		return do(t, req)
	}
	signed := func(key, secret, ts, nonce string) map[string]string {
		return map[string]string{"key": key, "timestamp": ts, "seq": "1", "nonce": nonce,
			"signature": httpbridge.Sign(key, secret, ts, "1", nonce, body)}
	}
	now := func(d time.Duration) string { return time.Now().Add(d).UTC().Format("2006-01-02T15:04:05.000Z") }

	good := signed("app1", "secret1", now(0), "1001")
	if r := send(good); r.Status != 200 {
		t.Fatalf("signed publish: %d %s", r.Status, r.Raw)
	}
	nextEvent(t, events)
	expectError(t, send(good), http.StatusUnauthorized, httpbridge.ErrReplay)
	expectError(t, send(nil), http.StatusBadRequest, httpbridge.ErrSignature)
	expectError(t, send(signed("app3", "secret1", now(0), "1002")), http.StatusUnauthorized, httpbridge.ErrSignature)
	expectError(t, send(signed("app1", "secret2", now(0), "1003")), http.StatusUnauthorized, httpbridge.ErrSignature)
	expectError(t, send(signed("app1", "secret1", now(-2*time.Minute), "1004")), http.StatusBadRequest, httpbridge.ErrStale)
	expectError(t, send(signed("app1", "secret1", now(2*time.Minute), "1005")), http.StatusBadRequest, httpbridge.ErrStale)
	expectError(t, send(signed("app1", "secret1", "yesterday", "1006")), http.StatusBadRequest, httpbridge.ErrSignature)
	expectError(t, send(signed("app1", "secret1", now(0), "abc")), http.StatusBadRequest, httpbridge.ErrSignature)
	// A signature over another body does not pass.
	tampered := signed("app1", "secret1", now(0), "1007")
	tampered["signature"] = httpbridge.Sign("app1", "secret1", tampered["timestamp"], "1", "1007", []byte(`{"topic":"com.example.signed","args":["evil"]}`))
	expectError(t, send(tampered), http.StatusUnauthorized, httpbridge.ErrSignature)

	// The same nonce under another key is another request. Unpadded base64url is accepted.
	other := signed("app2", "secret2", now(0), "1001")
	other["signature"] = strings.TrimRight(other["signature"], "=")
	if r := send(other); r.Status != 200 {
		t.Fatalf("app2 with nonce 1001: %d %s", r.Status, r.Raw)
	}
	nextEvent(t, events)
	// Memory is bounded (3 nonces): the fourth within the window is refused with 503.
	if r := send(signed("app1", "secret1", now(0), "1008")); r.Status != 200 {
		t.Fatalf("third nonce: %d %s", r.Status, r.Raw)
	}
	r := send(signed("app1", "secret1", now(0), "1009"))
	expectError(t, r, http.StatusServiceUnavailable, httpbridge.ErrBusy)
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	select {
	case ev := <-events:
		if fmt.Sprint(ev.Args) != "[ok]" {
			t.Errorf("event %v", ev.Args)
		}
	case <-time.After(5 * time.Second):
		t.Error("the third signed publication was not delivered")
	}
	select {
	case ev := <-events:
		t.Errorf("a refused request published %v", ev.Args)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "backend",
		CORSOrigins: []string{"https://app.example.com"}})
	pre, _ := http.NewRequest(http.MethodOptions, url, nil)
	pre.Header.Set("Origin", "https://app.example.com")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type")
	r := do(t, pre)
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight: %d %v", r.Status, r.Header)
	}
	pre.Header.Set("Origin", "https://evil.example.com")
	expectError(t, do(t, pre), http.StatusForbidden, httpbridge.ErrOrigin)

	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"topic":"com.example.x"}`))
	req.Header.Set("Origin", "https://app.example.com")
	if r := do(t, req); r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("POST from an allowed origin: %d %v", r.Status, r.Header)
	}
}

// Killing the service's session through the meta API does not break the service: it joins
// again (a new session, announced by wamp.session.on_join) and serves the next request.
func TestServiceSessionRejoins(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/publish", Type: "publisher", Realm: "realm1", Role: "backend", AuthID: "pusher"})
	admin, err := e.router.LocalClient(context.Background(), "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	joins := subscribe(t, admin, "wamp.session.on_join")
	res, err := admin.Call(context.Background(), "wamp.session.kill_by_authid", nil, wamp.List{"pusher"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	killed, _ := res.Args[0].(wamp.List)
	if len(killed) != 1 {
		t.Fatalf("killed %v, want the service's one session", res.Args)
	}
	for {
		ev := nextEvent(t, joins)
		if d, _ := ev.Args[0].(wamp.Dict); d["authid"] == "pusher" {
			if d["authrole"] != "backend" || d["authmethod"] != "local" {
				t.Errorf("the service's session joined as %v", d)
			}
			break
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := post(t, url, "application/json", []byte(`{"topic":"com.example.x"}`))
		if r.Status == 200 {
			break
		}
		expectError(t, r, http.StatusServiceUnavailable, httpbridge.ErrUnavailable)
		if time.Now().After(deadline) {
			t.Fatal("the service did not come back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The signature does not cover the path: a request captured on one signed service is not
// accepted by another service with the same key either.
func TestReplayAcrossServices(t *testing.T) {
	e := newEnv(t)
	keys := map[string]string{"app": "secret"}
	a := e.mount(t, httpbridge.ServiceConfig{Path: "/a", Type: "publisher", Realm: "realm1", Role: "backend", Keys: keys})
	b := e.mount(t, httpbridge.ServiceConfig{Path: "/b", Type: "publisher", Realm: "realm1", Role: "backend", Keys: keys})
	body := []byte(`{"topic":"com.example.x"}`)
	q := httpbridge.SignedQuery("app", "secret", 1, 77, body).Encode()
	if r := post(t, a+"?"+q, "application/json", body); r.Status != 200 {
		t.Fatalf("first: %d %s", r.Status, r.Raw)
	}
	expectError(t, post(t, b+"?"+q, "application/json", body), http.StatusUnauthorized, httpbridge.ErrReplay)
}

// Requests beyond max_in_flight are refused at once with 503 rather than piling up.
func TestMaxInFlight(t *testing.T) {
	e := newEnv(t)
	url := e.mount(t, httpbridge.ServiceConfig{Path: "/call", Type: "caller", Realm: "realm1", Role: "backend", MaxInFlight: 2})
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	register(t, e.client(t), "com.example.block", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		<-release
		return &client.Result{Args: wamp.List{"done"}}, nil
	})
	done := make(chan string, 2)
	for range 2 {
		go func() { // not post: t.Fatal belongs to the test's goroutine
			resp, err := http.Post(url, "application/json", strings.NewReader(`{"procedure":"com.example.block"}`))
			if err != nil {
				done <- err.Error()
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			done <- fmt.Sprint(resp.StatusCode, " ", string(body))
		}()
	}
	<-started
	<-started
	r := post(t, url, "application/json", []byte(`{"procedure":"com.example.block"}`))
	expectError(t, r, http.StatusServiceUnavailable, httpbridge.ErrBusy)
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("503 without Retry-After: %v", r.Header)
	}
	close(release)
	for range 2 {
		if got := <-done; got != "200 {\"args\":[\"done\"]}\n" {
			t.Errorf("a call within the limit: %q", got)
		}
	}
	if r := post(t, url, "application/json", []byte(`{"procedure":"com.example.block"}`)); r.Status != 200 {
		t.Errorf("after the others finished: %d %s", r.Status, r.Raw)
	}
}
