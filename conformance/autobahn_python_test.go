package conformance

import (
	"context"
	"os/exec"
	"testing"
)

// TestAutobahnPython runs python/client_checks.py (Debian's Autobahn|Python)
// against the router, once per serializer (json, msgpack, cbor); see clientChecks for
// what it covers, plus binary values and 64-bit integers between two serializers.
func TestAutobahnPython(t *testing.T) {
	requirePython(t)
	for _, serializer := range []string{"json", "msgpack", "cbor"} {
		t.Run(serializer, func(t *testing.T) {
			url := startRouter(t)
			run := startScript(t, "Autobahn|Python client_checks.py", func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "client_checks.py", url, serializer)
			})
			run.finish(t, append(clientChecks[:len(clientChecks):len(clientChecks)], "mixed_binary_and_integers"))
		})
	}
}

// TestAutobahnPythonBatchedAndDeflate runs the same checks with Autobahn|Python's batched
// serializers (wamp.2.json.batched, ...: several WAMP messages per WebSocket message, which
// Autobahn offers first when asked to batch) and with permessage-deflate offered; the
// driver fails unless the subprotocol and the extension it asked for were negotiated.
func TestAutobahnPythonBatchedAndDeflate(t *testing.T) {
	requirePython(t)
	for _, serializer := range []string{"json.batched", "msgpack.batched", "cbor.batched",
		"json+deflate", "msgpack.batched+deflate", "cbor+deflate"} {
		t.Run(serializer, func(t *testing.T) {
			url := startRouter(t)
			run := startScript(t, "Autobahn|Python client_checks.py", func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "client_checks.py", url, serializer)
			})
			run.finish(t, append(clientChecks[:len(clientChecks):len(clientChecks)], "mixed_binary_and_integers"))
		})
	}
}
