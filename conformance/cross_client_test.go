package conformance

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// crossPhaseTimeout bounds each phase of the cross-client protocol on the Go
// side (all peers ready, all events in, all peers done). It covers node and
// Python start-up.
const crossPhaseTimeout = 30 * time.Second

// crossPeerChecks are the checks js/cross_peer.js and python/cross_peer.py
// print when the peers are go, js and python.
func crossPeerChecks(me string) []string {
	checks := []string{"join"}
	others := crossOthers(me)
	for _, o := range others {
		checks = append(checks, "call_"+o, "publish_to_"+o)
	}
	for _, o := range others {
		checks = append(checks, "event_from_"+o)
	}
	return append(checks, "finish", "leave")
}

var crossPeers = []string{"go", "js", "python"}

func crossOthers(me string) []string {
	var others []string
	for _, p := range crossPeers {
		if p != me {
			others = append(others, p)
		}
	}
	return others
}

// TestCrossClient has the nexus Go client (JSON), autobahn.js (MessagePack)
// and Autobahn|Python (JSON, then MessagePack, then CBOR: all three codecs in
// one run) each call every other peer's
// echo procedure and publish an event to every other peer, with the "cross"
// payload. The Go test is both a peer and the orchestrator: it announces
// "go" once all peers are ready and "finish" once all are done, so that every
// callee stays registered until all calls are through.
func TestCrossClient(t *testing.T) {
	requireNode(t)
	requirePython(t)
	cross := loadPayload(t, "cross")
	for _, pySerializer := range []string{"json", "msgpack", "cbor"} {
		t.Run("python_"+pySerializer, func(t *testing.T) {
			url := startRouter(t)
			prefix := uniquePrefix("cross." + pySerializer)
			goPeer := connectNexus(t, url, client.JSON)

			ready := subscribeChan(t, goPeer, prefix+".ready")
			done := subscribeChan(t, goPeer, prefix+".done")
			inbox := map[string]chan *wamp.Event{}
			for _, o := range crossOthers("go") {
				inbox[o] = subscribeChan(t, goPeer, fmt.Sprintf("%s.go.from.%s", prefix, o))
			}
			register(t, goPeer, prefix+".go.echo", echoHandler)

			peers := strings.Join(crossPeers, ",")
			js := startScript(t, "autobahn.js cross_peer.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "cross_peer.js", url, "msgpack", "js", prefix, peers)
			})
			py := startScript(t, "Autobahn|Python cross_peer.py", func(ctx context.Context) *exec.Cmd {
				return pythonCommand(ctx, "cross_peer.py", url, pySerializer, "python", prefix, peers)
			})
			scripts := []*scriptRun{js, py}

			// Reports the scripts' own checks whatever happens on the Go side.
			defer func() {
				t.Run("js", func(t *testing.T) { js.finish(t, crossPeerChecks("js")) })
				t.Run("python", func(t *testing.T) { py.finish(t, crossPeerChecks("python")) })
			}()

			if !awaitPeers(t, ready, scripts, "ready") {
				return
			}
			if err := goPeer.Publish(prefix+".go", wamp.Dict{"acknowledge": true}, nil, nil); err != nil {
				t.Errorf("publish go: %v", err)
				return
			}

			t.Run("go", func(t *testing.T) {
				for _, o := range crossOthers("go") {
					t.Run("call_"+o, func(t *testing.T) {
						res, err := call(t, goPeer, fmt.Sprintf("%s.%s.echo", prefix, o), cross)
						if err != nil {
							t.Fatalf("call: %v", err)
						}
						checkPayload(t, "result from "+o, cross, res.Arguments, res.ArgumentsKw)
					})
					t.Run("publish_to_"+o, func(t *testing.T) {
						topic := fmt.Sprintf("%s.%s.from.go", prefix, o)
						if err := goPeer.Publish(topic, wamp.Dict{"acknowledge": true}, cross.list(), cross.dict()); err != nil {
							t.Fatalf("publish: %v", err)
						}
					})
				}
				for _, o := range crossOthers("go") {
					t.Run("event_from_"+o, func(t *testing.T) {
						select {
						case ev := <-inbox[o]:
							checkPayload(t, "event from "+o, cross, ev.Arguments, ev.ArgumentsKw)
						case <-time.After(crossPhaseTimeout):
							t.Fatalf("no event from %s within %v", o, crossPhaseTimeout)
						}
					})
				}
			})

			if !awaitPeers(t, done, scripts, "done") {
				return
			}
			if err := goPeer.Publish(prefix+".finish", wamp.Dict{"acknowledge": true}, nil, nil); err != nil {
				t.Errorf("publish finish: %v", err)
			}
		})
	}
}

// awaitPeers waits until the js and python peers both announced themselves
// on events (ready or done). It gives up early if a script exits.
func awaitPeers(t *testing.T, events <-chan *wamp.Event, scripts []*scriptRun, phase string) bool {
	t.Helper()
	seen := map[string]bool{}
	deadline := time.After(crossPhaseTimeout)
	for !seen["js"] || !seen["python"] {
		select {
		case ev := <-events:
			if len(ev.Arguments) == 1 {
				if name, ok := ev.Arguments[0].(string); ok {
					seen[name] = true
					continue
				}
			}
			t.Errorf("unexpected %s event %v", phase, ev.Arguments)
		case <-scripts[0].done:
			t.Errorf("%s exited before all peers were %s", scripts[0].name, phase)
			return false
		case <-scripts[1].done:
			t.Errorf("%s exited before all peers were %s", scripts[1].name, phase)
			return false
		case <-deadline:
			t.Errorf("peers not %s within %v (seen: %v)", phase, crossPhaseTimeout, seen)
			return false
		}
	}
	return true
}
