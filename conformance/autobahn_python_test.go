package conformance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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

// TestAutobahnPythonDeflateWindowBits: Autobahn|Python gets a small compression window from
// the router two ways: it asks for server_max_window_bits 9 (the smallest it takes), or the
// listener is set to server_max_window_bits 9 and announces it unasked. Either listener asks
// clients for client_max_window_bits 10. Autobahn inflates the router's messages with that
// small a zlib window, so an event and a call result whose text repeats 1 KiB back arrive only
// if the router kept within it (it compresses Huffman-only); the meta API lists the extension
// in the session's transport details.
func TestAutobahnPythonDeflateWindowBits(t *testing.T) {
	requirePython(t)
	if os.Getenv(urlEnv) != "" {
		t.Skipf("%s is set: this check needs a router started with its own deflate settings", urlEnv)
	}
	config := filepath.Join(t.TempDir(), "pawl.yaml")
	if err := os.WriteFile(config, []byte(`listeners:
  - listen: 127.0.0.1:0
    path: /ws
    deflate: {enabled: true, client_max_window_bits: 10}
  - listen: 127.0.0.1:0
    path: /ws
    deflate: {enabled: true, client_max_window_bits: 10, server_max_window_bits: 9}
realms:
  - name: realm1
    anonymous: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	urls := startRouterConfig(t, config, 2)
	for _, tc := range []struct{ name, url, ask string }{
		{"client asks for 9", urls[0], "9"},
		{"listener set to 9", urls[1], "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := startScript(t, "Autobahn|Python deflate_window.py", func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "deflate_window.py", tc.url, tc.ask, "9", "10")
			})
			run.finish(t, []string{"join", "negotiated", "event_far_back", "call_far_back", "meta_extensions", "leave"})
		})
	}
}
