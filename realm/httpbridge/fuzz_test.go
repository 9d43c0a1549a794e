package httpbridge_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/realm/httpbridge"
)

// FuzzRequest: whatever body, query and Content-Type a client sends to a signed caller or
// publisher, the answer is a JSON object with a known status — never a panic or a hang.
func FuzzRequest(f *testing.F) {
	f.Add("publish", `{"topic":"com.example.x","args":[1],"kwargs":{"a":null},"options":{"exclude":[1]}}`, "", "application/json")
	f.Add("call", `{"procedure":"com.example.nobody","options":{"timeout":1}}`, "", "application/json; charset=utf-8")
	f.Add("publish", `{"topic":`, "key=k&timestamp=2026-01-01T00:00:00Z&seq=1&nonce=1&signature=AAAA", "application/json")
	f.Add("call", "\xff\xfe", "key=k&key=k", "text/plain")
	f.Add("signed", `{"topic":"com.example.x"}`, "key=k&timestamp=x&seq=a&nonce=-&signature=%%", "application/json;;")
	f.Add("publish", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, "", "")
	// With -fuzz, the fuzzing engine starts os/signal's goroutine (for its interrupts) inside
	// this function; start it first so that the router's leak check does not count it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	signal.Stop(sig)
	e := newEnv(f)
	services := map[string]http.Handler{}
	for name, cfg := range map[string]httpbridge.ServiceConfig{
		"publish": {Path: "/publish", Type: "publisher"},
		"call":    {Path: "/call", Type: "caller", Timeout: 50 * time.Millisecond},
		"signed":  {Path: "/signed", Type: "publisher", Keys: map[string]string{"k": "s"}},
		"hook":    {Path: "/hook", Type: "webhook", Topic: "com.example.hook", GitHubSecret: "g"},
	} {
		cfg.Realm, cfg.Role, cfg.MaxBody = "realm1", "backend", 4096
		s, err := e.bridge.Handler(cfg)
		if err != nil {
			f.Fatal(err)
		}
		waitJoined(f, s.Joined())
		services[name] = s
	}
	known := map[int]bool{200: true, 202: true, 400: true, 401: true, 403: true, 405: true, 413: true, 415: true, 503: true, 504: true}
	f.Fuzz(func(t *testing.T, service, body, query, contentType string) {
		h, ok := services[service]
		if !ok {
			h = services["hook"]
		}
		req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
		req.URL.RawQuery = query
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !known[w.Code] {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d, answer not a JSON object: %q", w.Code, w.Body)
		}
		if _, isErr := answer["error"]; !isErr && answer["id"] == nil && answer["args"] == nil {
			t.Fatalf("status %d, answer %s", w.Code, w.Body)
		}
	})
}
