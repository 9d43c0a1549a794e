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

// runFanout: N subscribers on one topic, one publisher. Every event carries its send time and
// sequence number; subscribers record publish→deliver latency, count what arrives, and count
// the gaps in the sequence as lost. With a rate the publisher keeps to it (an offered load);
// with rate 0 it publishes as fast as the subscribers take events in (closed loop: at most
// window publications ahead of what the average subscriber has received or lost), which
// measures the router at saturation without overrunning anyone's queue.
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

	var received, lost atomic.Int64
	var h histogram
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last int64
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
				if len(args) > 1 {
					if seq, ok := wamp.AsInt64(args[1]); ok {
						if seq > last+1 {
							lost.Add(seq - last - 1)
						}
						last = max(last, seq)
					}
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
	var interval time.Duration
	if cfg.rate > 0 {
		interval = time.Second / time.Duration(cfg.rate)
	}
	start := time.Now()
	var published int64
	n := int64(len(subs))
	wireBefore := wireRead.Load()
	for next := start; time.Since(start) < cfg.duration && ctx.Err() == nil; next = next.Add(interval) {
		if cfg.rate > 0 {
			time.Sleep(time.Until(next))
		} else {
			waitWindow(published*n, int64(cfg.window)*n, func() int64 { return received.Load() + lost.Load() })
		}
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
	wire := wireRead.Load() - wireBefore
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
	if r.Ops > 0 {
		r.WirePerOp = float64(wire) / float64(r.Ops)
	}
	return r, nil
}

// waitWindow waits until fewer than window deliveries of the sent ones are outstanding. A
// router that drops events silently leaves gaps noticed only by the next event, so after 100ms
// without progress the publisher goes on rather than stall.
func waitWindow(sent, window int64, settled func() int64) {
	last, since := settled(), time.Now()
	for sent-last > window {
		time.Sleep(50 * time.Microsecond)
		if s := settled(); s != last {
			last, since = s, time.Now()
		} else if time.Since(since) > 100*time.Millisecond {
			return
		}
	}
}
