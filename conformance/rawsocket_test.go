package conformance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	pawlwamp "github.com/pawl-wamp/pawl/wamp"
)

// rawSocketRouter is where a pawl started by startRawSocketRouter serves RawSocket.
type rawSocketRouter struct {
	ws        string // ws://host:port/ws
	universal string // rs://host:port, the WebSocket port
	tcp       string // rs://host:port, a RawSocket listener of its own
	unix      string // unix:///path
}

var loggedRawSocketURL = regexp.MustCompile(`rawsocket=((?:rs|unix)://\S+)`)

// startRawSocketRouter starts pawl with a WebSocket listener (which serves RawSocket on its
// port too), a RawSocket TCP listener and a RawSocket Unix socket.
func startRawSocketRouter(t *testing.T) rawSocketRouter {
	t.Helper()
	if os.Getenv(urlEnv) != "" {
		t.Skip("needs a router this test configures (" + urlEnv + " is set)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "pawl.sock")
	cfg := filepath.Join(dir, "pawl.yaml")
	text := fmt.Sprintf(`listeners:
  - {listen: '127.0.0.1:0'}
  - {type: rawsocket, listen: '127.0.0.1:0'}
  - {type: rawsocket, unix: %q}
realms: [{name: realm1, anonymous: true}]
data_dir: %q
`, sock, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p, ws := startPawl(t, cfg)
	deadline := time.Now().Add(routerStartTimeout)
	for {
		m := loggedRawSocketURL.FindAllStringSubmatch(p.logs.String(), -1)
		if len(m) >= 3 {
			return rawSocketRouter{ws: ws, universal: m[0][1], tcp: m[1][1], unix: m[2][1]}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pawl logged %d rawsocket listeners, want 3:\n%s", len(m), p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cells are the RawSocket transports of the matrix: name and URL.
func (r rawSocketRouter) cells() [][2]string {
	return [][2]string{{"tcp", r.tcp}, {"unix", r.unix}, {"websocket_port", r.universal}}
}

// rawSocketChecks are what the RawSocket driver scripts print.
var rawSocketChecks = []string{"join", "pubsub", "rpc", "leave"}

// rawSocketSerializers are the serializers the matrix runs: CBOR once the router has a
// codec for it.
func rawSocketSerializers(t *testing.T) []string {
	sers := []string{"json", "msgpack"}
	if _, ok := pawlwamp.CodecNamed("cbor"); ok {
		sers = append(sers, "cbor")
	} else {
		t.Log("cbor cells skipped: this build of pawl has no cbor codec")
	}
	return sers
}

// TestRawSocketAutobahnPython runs Autobahn|Python, asyncio and Twisted, over RawSocket on
// TCP, a Unix socket and the WebSocket port, with each serializer: a pub/sub and an RPC round
// trip per cell.
func TestRawSocketAutobahnPython(t *testing.T) {
	requirePython(t)
	r := startRawSocketRouter(t)
	for _, flavor := range []string{"asyncio", "twisted"} {
		for _, cell := range r.cells() {
			for _, ser := range rawSocketSerializers(t) {
				t.Run(flavor+"/"+cell[0]+"/"+ser, func(t *testing.T) {
					run := startScript(t, "Autobahn|Python rawsocket_"+flavor+".py", func(ctx context.Context) *exec.Cmd {
						return pythonCommand(ctx, "rawsocket_"+flavor+".py", cell[1], ser)
					})
					run.finish(t, rawSocketChecks)
				})
			}
		}
	}
}

// TestRawSocketAutobahnJS runs autobahn.js in Node with its RawSocket transport (JSON only in
// autobahn.js) on TCP, a Unix socket and the WebSocket port.
func TestRawSocketAutobahnJS(t *testing.T) {
	requireNode(t)
	r := startRawSocketRouter(t)
	for _, cell := range r.cells() {
		t.Run(cell[0]+"/json", func(t *testing.T) {
			run := startScript(t, "autobahn.js rawsocket_checks.js", func(ctx context.Context) *exec.Cmd {
				return nodeCommand(ctx, "rawsocket_checks.js", cell[1])
			})
			run.finish(t, rawSocketChecks)
		})
	}
}

// TestRawSocketNexus runs the nexus client over RawSocket (its tcp:// and unix:// URLs) on
// TCP, a Unix socket and the WebSocket port, with each serializer: a subscriber and a callee,
// a publisher and a caller, all on RawSocket, and the payload checked both ways.
func TestRawSocketNexus(t *testing.T) {
	r := startRawSocketRouter(t)
	full := loadPayload(t, "full")
	for _, cell := range r.cells() {
		url := strings.Replace(cell[1], "rs://", "tcp://", 1)
		type nexusSer struct {
			name string
			s    serialize.Serialization
		}
		sers := []nexusSer{{"json", serialize.JSON}, {"msgpack", serialize.MSGPACK}}
		if _, ok := pawlwamp.CodecNamed("cbor"); ok {
			sers = append(sers, nexusSer{"cbor", serialize.CBOR})
		}
		for _, ser := range sers {
			t.Run(cell[0]+"/"+ser.name, func(t *testing.T) {
				a := connectNexus(t, url, ser.s)
				b := connectNexus(t, url, ser.s)
				prefix := uniquePrefix("rsnexus." + cell[0] + "." + ser.name)
				events := subscribeChan(t, b, prefix+".topic")
				if err := a.Publish(prefix+".topic", wamp.Dict{"acknowledge": true}, full.list(), full.dict()); err != nil {
					t.Fatal(err)
				}
				e := nextEvent(t, events, "EVENT over rawsocket")
				checkPayload(t, "event", full, e.Arguments, e.ArgumentsKw)
				register(t, b, prefix+".echo", echoHandler)
				res, err := call(t, a, prefix+".echo", full)
				if err != nil {
					t.Fatal(err)
				}
				checkPayload(t, "result", full, res.Arguments, res.ArgumentsKw)
			})
		}
	}
}
