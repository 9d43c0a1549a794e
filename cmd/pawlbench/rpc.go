package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

const rpcProcedure = "bench.echo"

// runRPC: callees answer an echo procedure (round-robin when several), C callers call it in a
// loop, one call in flight each; calls/s and round-trip latency.
func runRPC(ctx context.Context, cfg config) (report, error) {
	callees, err := dialMany(ctx, cfg, cfg.callees)
	if err != nil {
		return report{}, err
	}
	options := wamp.Dict{}
	if cfg.callees > 1 {
		options["invoke"] = "roundrobin"
	}
	var serving sync.WaitGroup
	for _, c := range callees {
		if err := c.register(rpcProcedure, options); err != nil {
			return report{}, err
		}
		serving.Add(1)
		go func() {
			defer serving.Done()
			for {
				m, err := c.recv()
				if err != nil {
					return
				}
				if inv, ok := m.(*wamp.Invocation); ok {
					c.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: inv.Payload})
				}
			}
		}()
	}
	callers, err := dialMany(ctx, cfg, cfg.callers)
	if err != nil {
		return report{}, err
	}
	before, err := readProc(cfg.pid)
	if err != nil {
		return report{}, err
	}
	var done, failed atomic.Int64
	var h histogram
	filler := strings.Repeat("x", cfg.payload)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for _, p := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				req := p.nextReq()
				if err := p.send(&wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: rpcProcedure,
					Payload: wamp.Payload{Args: wamp.List{filler}}}); err != nil {
					failed.Add(1)
					return
				}
				if _, err := p.expect(wamp.TypeResult); err != nil {
					failed.Add(1)
					continue
				}
				h.record(time.Since(t0))
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := readProc(cfg.pid)
	if err != nil {
		return report{}, err
	}
	for _, p := range append(callers, callees...) {
		p.ws.Close()
	}
	serving.Wait()
	r := report{Ops: done.Load(), Failed: failed.Load()}
	r.finish(before, after, elapsed, &h)
	return r, nil
}
