package session

import (
	"fmt"
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

// Counting a message costs no allocation, whatever its type, and neither does counting an
// ERROR whose URI was seen before.
func TestTrafficCountsWithoutAllocating(t *testing.T) {
	var tr Traffic
	tr.Error(wamp.ErrNoSuchProcedure)
	allocs := testing.AllocsPerRun(1000, func() {
		tr.Received(wamp.TypePublish, 100)
		tr.Sent(wamp.TypeEvent, 10, 1000)
		tr.Sent(wamp.TypeResult, 1, 50)
		tr.Error(wamp.ErrNoSuchProcedure)
	})
	if allocs != 0 {
		t.Errorf("counting allocates %v times", allocs)
	}
	var publish, event TypeTraffic
	tr.EachType(func(in, out TypeTraffic) {
		if in.Type == wamp.TypePublish {
			publish = in
		}
		if out.Type == wamp.TypeEvent {
			event = out
		}
	})
	// AllocsPerRun runs the function once more than asked, to warm up.
	if publish.Messages != 1001 || publish.Bytes != 100*1001 || event.Messages != 10*1001 || event.Bytes != 1000*1001 {
		t.Errorf("PUBLISH in %+v, EVENT out %+v", publish, event)
	}
	if got := tr.Errors()[wamp.ErrNoSuchProcedure]; got != 1002 {
		t.Errorf("no_such_procedure counted %d times, want 1002", got)
	}
}

// Error URIs are client-chosen: past MaxErrorURIs distinct ones, they are counted together.
func TestTrafficBoundsErrorURIs(t *testing.T) {
	var tr Traffic
	for i := range MaxErrorURIs + 50 {
		tr.Error(wamp.URI(fmt.Sprintf("com.example.error.e%d", i)))
	}
	tr.Error("com.example.error.e0")
	errs := tr.Errors()
	if len(errs) != MaxErrorURIs+1 || errs[OtherErrors] != 50 || errs["com.example.error.e0"] != 2 {
		t.Errorf("%d URIs counted, %d as %s, e0 %d times", len(errs), errs[OtherErrors], OtherErrors, errs["com.example.error.e0"])
	}
}

// A message type outside the WAMP set is ignored rather than miscounted.
func TestTrafficIgnoresUnknownTypes(t *testing.T) {
	var tr Traffic
	tr.Received(wamp.MessageType(7), 10)
	tr.Received(wamp.MessageType(999), 10)
	tr.EachType(func(in, _ TypeTraffic) {
		if in.Messages != 0 {
			t.Errorf("%s counted %d", in.Type, in.Messages)
		}
	})
}

// BenchmarkTrafficCount is the cost counting adds to one message: what every goroutine
// reading or sending messages of one type pays, all cores at once (the worst case: they share
// that type's cache line).
func BenchmarkTrafficCount(b *testing.B) {
	var tr Traffic
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.Received(wamp.TypePublish, 64)
		}
	})
}
