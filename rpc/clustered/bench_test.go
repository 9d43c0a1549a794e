package clustered_test

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/fakepeer"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/wamp"
)

// serve answers every INVOCATION a callee gets until it is told to stop.
func serve(c *fakepeer.Client, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		m, err := c.TryRecv(20 * time.Millisecond)
		if err != nil {
			return
		}
		if inv, ok := m.(*wamp.Invocation); ok {
			c.Send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: inv.Payload})
		}
	}
}

// roundTrips makes b.N calls, one after the other, from caller.
func roundTrips(b *testing.B, caller *fakepeer.Client, proc wamp.URI) {
	b.Helper()
	for b.Loop() {
		req := call(caller, proc, nil, "x")
		m, err := caller.TryRecv(5 * time.Second)
		if r, ok := m.(*wamp.Result); err != nil || !ok || r.Request != req {
			b.Fatalf("call: %v %v", m, err)
		}
	}
}

// The latency one call adds when its callee is on another node: a caller and a callee on
// the same node, then on two nodes, in the same cluster.
func BenchmarkCallLatency(b *testing.B) {
	for _, where := range []string{"same-node", "cross-node"} {
		b.Run(where, func(b *testing.B) {
			nodes, _ := startCluster(b, 2)
			callee := nodes[0].join(b, "callee")
			register(b, callee, "com.bench", nil)
			caller := nodes[0].join(b, "caller")
			if where == "cross-node" {
				caller = nodes[1].join(b, "caller")
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go serve(callee, stop, &wg)
			roundTrips(b, caller, "com.bench")
			close(stop)
			wg.Wait()
		})
	}
}

// Router CPU per call with callers and callees spread over three nodes, against all of
// them on one node: 12 callers calling a roundrobin registration of 3 callees.
func BenchmarkCallCPU(b *testing.B) {
	for _, spread := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", spread), func(b *testing.B) {
			nodes, _ := startCluster(b, 3)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; i < 3; i++ {
				callee := nodes[i%spread].join(b, "callee")
				register(b, callee, "com.cpu", wamp.Dict{"invoke": rpc.InvokeRoundRobin})
				wg.Add(1)
				go serve(callee, stop, &wg)
			}
			const callers = 12
			clients := make([]*fakepeer.Client, callers)
			for i := range clients {
				clients[i] = nodes[i%spread].join(b, "caller")
			}
			per := b.N/callers + 1
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			start := time.Now()
			var cw sync.WaitGroup
			for _, c := range clients {
				cw.Add(1)
				go func(c *fakepeer.Client) {
					defer cw.Done()
					for i := 0; i < per; i++ {
						req := call(c, "com.cpu", nil, "x")
						m, err := c.TryRecv(5 * time.Second)
						if r, ok := m.(*wamp.Result); err != nil || !ok || r.Request != req {
							b.Errorf("call: %v %v", m, err)
							return
						}
					}
				}(c)
			}
			cw.Wait()
			elapsed := time.Since(start)
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			calls := float64(per * callers)
			b.ReportMetric(float64(cpu.Nanoseconds())/calls, "cpu-ns/call")
			b.ReportMetric(calls/elapsed.Seconds(), "calls/s")
			close(stop)
			wg.Wait()
		})
	}
}
