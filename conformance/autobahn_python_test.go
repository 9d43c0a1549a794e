package conformance

import (
	"context"
	"os/exec"
	"testing"
)

// TestAutobahnPython runs python/client_checks.py (Debian's Autobahn|Python)
// against the router, once per serializer; see clientChecks for what it
// covers.
func TestAutobahnPython(t *testing.T) {
	requirePython(t)
	for _, serializer := range []string{"json", "msgpack"} {
		t.Run(serializer, func(t *testing.T) {
			url := startRouter(t)
			run := startScript(t, "Autobahn|Python client_checks.py", func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "client_checks.py", url, serializer)
			})
			run.finish(t, clientChecks)
		})
	}
}
