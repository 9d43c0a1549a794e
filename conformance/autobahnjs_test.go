// The file is not named autobahn_js_test.go: the _js suffix would make it a
// GOOS=js-only file, silently left out of every normal test run.

package conformance

import (
	"context"
	"os/exec"
	"testing"
)

// TestAutobahnJS runs js/client_checks.js (autobahn.js from npm) against the
// router, once per serializer; see clientChecks for what it covers.
func TestAutobahnJS(t *testing.T) {
	requireNode(t)
	for _, serializer := range []string{"json", "msgpack", "cbor"} {
		t.Run(serializer, func(t *testing.T) {
			url := startRouter(t)
			run := startScript(t, "autobahn.js client_checks.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "client_checks.js", url, serializer)
			})
			run.finish(t, clientChecks)
		})
	}
}

// TestAutobahnJSDeflate runs js/deflate_checks.js: autobahn.js in Node (whose ws socket
// offers permessage-deflate by default) negotiates it with the router's default
// configuration, as the router's meta API (the session's transport details) and ws's socket
// both report, and large messages go through compressed, once per serializer.
func TestAutobahnJSDeflate(t *testing.T) {
	requireNode(t)
	url := startRouter(t)
	for _, serializer := range []string{"json", "msgpack", "cbor"} {
		t.Run(serializer, func(t *testing.T) {
			run := startScript(t, "autobahn.js deflate_checks.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "deflate_checks.js", url, serializer)
			})
			run.finish(t, []string{"join", "deflate_router_side", "deflate_client_side", "large_event_and_result", "leave"})
		})
	}
}

// wampyChecks are the checks js/wampy_checks.js runs.
var wampyChecks = []string{"join", "deflate_negotiated", "pubsub_roundtrip", "call_roundtrip", "call_no_such_procedure", "leave"}

// TestWampy runs js/wampy_checks.js — wampy.js 8.0.2, a fourth client implementation, in
// Node with the ws package — against the router, once per serializer: joins, a publication
// and a call of large payloads both ways, an error, and leaving; over permessage-deflate,
// which ws offers and the router's default configuration accepts.
func TestWampy(t *testing.T) {
	requireNode(t)
	for _, serializer := range []string{"json", "msgpack", "cbor"} {
		t.Run(serializer, func(t *testing.T) {
			url := startRouter(t)
			run := startScript(t, "wampy.js wampy_checks.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "wampy_checks.js", url, serializer)
			})
			run.finish(t, wampyChecks)
		})
	}
}
