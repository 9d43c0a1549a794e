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
