package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

const fanoutTopic = "bench.fanout"

// runFanout: N subscribers on one topic, one publisher at a fixed rate. Every event carries its
// send time; subscribers record publish→deliver latency and count what arrives.
func runFanout(ctx context.Context, cfg config) (report, error) {
	subs, err := dialMany(ctx, cfg, cfg.subscribers)
	if err != nil {
		return report{}, err
	}
	for _, s := range subs {
		if err := s.subscribe(fanoutTopic); err != nil {
			return report{}, err
		}
	}
	pub, err := dialPeer(ctx, cfg.url, cfg.realm, cfg.codec, "")
	if err != nil {
		return report{}, err
	}
	defer pub.close()

	var received atomic.Int64
	var h histogram
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := s.recv()
				if err != nil {
					return
				}
				ev, ok := m.(*wamp.Event)
				if !ok {
					continue
				}
				args, _, err := ev.Payload.Values()
				if err != nil || len(args) == 0 {
					continue
				}
				if sent, ok := wamp.AsInt64(args[0]); ok {
					h.record(time.Duration(time.Now().UnixNano() - sent))
				}
				received.Add(1)
			}
		}()
	}

	before, err := readProc(cfg.pid)
	if err != nil {
		return report{}, err
	}
	filler := strings.Repeat("x", cfg.payload)
	interval := time.Second / time.Duration(max(cfg.rate, 1))
	start := time.Now()
	var published int64
	for next := start; time.Since(start) < cfg.duration && ctx.Err() == nil; next = next.Add(interval) {
		time.Sleep(time.Until(next))
		published++
		err := pub.send(&wamp.Publish{Request: pub.nextReq(), Options: wamp.Dict{}, Topic: fanoutTopic,
			Payload: wamp.Payload{Args: wamp.List{time.Now().UnixNano(), published, filler}}})
		if err != nil {
			return report{}, err
		}
	}
	expected := published * int64(len(subs))
	// Let the last events arrive: stop when all did, or nothing moved for a second.
	last, lastChange := received.Load(), time.Now()
	for received.Load() < expected && time.Since(lastChange) < time.Second {
		time.Sleep(20 * time.Millisecond)
		if n := received.Load(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	elapsed := time.Since(start)
	after, err := readProc(cfg.pid)
	if err != nil {
		return report{}, err
	}
	for _, s := range subs {
		s.ws.Close()
	}
	wg.Wait()
	r := report{Ops: received.Load(), Dropped: expected - received.Load()}
	r.finish(before, after, elapsed, &h)
	return r, nil
}
