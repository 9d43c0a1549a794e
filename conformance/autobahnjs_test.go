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
