package main

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// runIdle joins N sessions that then do nothing, and reports the router's resident memory
// per session (the growth of VmRSS from before the first join to after the last).
func runIdle(ctx context.Context, cfg config) (report, error) {
	before, err := readProc(cfg.pid)
	if err != nil {
		return report{}, err
	}
	start := time.Now()
	peers, err := dialMany(ctx, cfg, cfg.sessions)
	if err != nil {
		return report{}, err
	}
	joined := time.Since(start)
	// Each peer keeps reading, so it answers the router's keepalive pings.
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := p.ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	runtime.GC()
	time.Sleep(cfg.settle) // let the router settle
	after, err := readProc(cfg.pid)
	if err != nil {
		return report{}, err
	}
	for _, p := range peers {
		p.ws.Close()
	}
	wg.Wait()
	r := report{Ops: int64(len(peers))}
	r.finish(before, after, joined, nil)
	r.CPUPerOpUs = r.RouterCPU * 1e6 / float64(max(len(peers), 1))
	r.RSSPerOp = float64(after.rssBytes-before.rssBytes) / float64(max(len(peers), 1))
	return r, nil
}
