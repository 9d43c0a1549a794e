package conformance

import (
	"context"
	"os/exec"
	"testing"
)

// Checks of the dealer's advanced RPC profile that js/advanced_rpc.js and
// python/advanced_rpc.py both print; README.md says what each covers.
var (
	advancedRPCHead = []string{
		"join",
		"dealer_features",
		"progressive_results",
		"progressive_results_not_requested",
	}
	advancedRPCTail = []string{
		"caller_disclosure",
		"caller_not_disclosed",
		"caller_disclosure_registration",
		"pattern_prefix",
		"pattern_wildcard",
		"pattern_precedence",
		"shared_roundrobin",
		"shared_policy_conflict",
		"meta_events_register",
		"meta_list",
		"meta_lookup",
		"meta_match",
		"meta_get",
		"meta_list_callees",
		"meta_count_callees",
		"meta_events_unregister",
		"leave",
	}
)

// advancedRPCChecksJS are the checks of js/advanced_rpc.js, in order. The
// autobahn.js callee announces no call_canceling and cannot take INTERRUPT,
// so its timeout and cancel checks assert that the dealer does not interrupt
// it; it alone can ask for forward_timeout.
var advancedRPCChecksJS = advancedRPCChecks([]string{
	"call_timeout",
	"call_timeout_no_interrupt",
	"call_timeout_forwarded",
	"slow_callee",
	"cancel_skip",
	"cancel_killnowait",
	"cancel_kill",
	"cancel_default",
})

// advancedRPCChecksPython are the checks of python/advanced_rpc.py, in
// order. The Autobahn|Python callee announces call_canceling, so its timeout
// and cancel checks assert the INTERRUPTs and where the callee's answer goes.
var advancedRPCChecksPython = advancedRPCChecks([]string{
	"slow_callee",
	"call_timeout",
	"call_timeout_interrupt",
	"cancel_skip",
	"cancel_killnowait",
	"cancel_kill",
	"cancel_kill_result",
	"cancel_default",
})

// advancedRPCChecks puts a driver's own timeout and cancel checks between
// the shared ones.
func advancedRPCChecks(own []string) []string {
	out := append([]string{}, advancedRPCHead...)
	out = append(out, own...)
	return append(out, advancedRPCTail...)
}

// TestAdvancedRPCAutobahnJS runs js/advanced_rpc.js (autobahn.js) against
// the router, once per serializer.
func TestAdvancedRPCAutobahnJS(t *testing.T) {
	requireNode(t)
	for _, serializer := range []string{"json", "msgpack"} {
		t.Run(serializer, func(t *testing.T) {
			url := startRouter(t)
			run := startScript(t, "autobahn.js advanced_rpc.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "advanced_rpc.js", url, serializer)
			})
			run.finish(t, advancedRPCChecksJS)
		})
	}
}

// TestAdvancedRPCAutobahnPython runs python/advanced_rpc.py (Debian's
// Autobahn|Python) against the router, once per serializer.
func TestAdvancedRPCAutobahnPython(t *testing.T) {
	requirePython(t)
	for _, serializer := range []string{"json", "msgpack"} {
		t.Run(serializer, func(t *testing.T) {
			url := startRouter(t)
			run := startScript(t, "Autobahn|Python advanced_rpc.py", func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "advanced_rpc.py", url, serializer)
			})
			run.finish(t, advancedRPCChecksPython)
		})
	}
}
