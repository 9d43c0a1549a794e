package conformance

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// A nexus callee serves callers on many connections at once. The nexus client silently drops
// an INVOCATION whose request ID is not above the last one it received (it takes it for a
// stale duplicate), so every call must reach it in increasing ID order: a router that
// numbers invocations in one order and queues them for the callee in another leaves calls
// unanswered until the caller gives up.
func TestNexusCalleeWithConcurrentCallers(t *testing.T) {
	const callers, callsEach = 8, 150
	url := startRouter(t)
	procedure := uniquePrefix("order") + ".echo"
	callee := connectNexus(t, url, client.JSON)
	register(t, callee, procedure, echoHandler)

	var failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	for i := range callers {
		ser := nexusSerializers[i%len(nexusSerializers)]
		caller := connectNexus(t, url, ser.ser)
		wg.Go(func() {
			for n := range callsEach {
				ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
				res, err := caller.Call(ctx, procedure, nil, wamp.List{i, n}, nil, nil)
				cancel()
				if err == nil && (len(res.Arguments) != 2 || fmt.Sprint(res.Arguments...) != fmt.Sprint(i, n)) {
					err = fmt.Errorf("echoed %v, want [%d %d]", res.Arguments, i, n)
				}
				if err != nil {
					failed.Add(1)
					firstErr.Do(func() { t.Errorf("caller %d (%s), call %d: %v", i, ser.name, n, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d callers had a call go unanswered", n, callers)
	}
}
