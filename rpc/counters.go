package rpc

import (
	"sync/atomic"
	"time"
)

// Counts is what a dealer has done since it started: for metrics.
type Counts struct {
	// Calls are the CALLs routed to the dealer (continuations of progressive calls not
	// counted again), whatever became of them.
	Calls uint64
	// Latency is the time from a CALL to its callee's final answer (RESULT or ERROR)
	// reaching the caller.
	Latency Histogram
}

// LatencyBuckets are the upper bounds of the call latency histogram's buckets, in seconds.
var LatencyBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram is a snapshot of a latency histogram.
type Histogram struct {
	// Buckets[i] counts the observations up to LatencyBuckets[i] (cumulative).
	Buckets [len(LatencyBuckets)]uint64
	Count   uint64
	Sum     float64 // seconds
}

// counters are a dealer's running counts: two or three atomic additions per call, no lock.
type counters struct {
	calls   atomic.Uint64
	buckets [len(LatencyBuckets) + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNs   atomic.Uint64
}

// clockBase makes call start times small monotonic offsets (8 bytes per invocation).
var clockBase = time.Now()

func now() int64 { return int64(time.Since(clockBase)) }

// observe records the latency of a call that started at start (a now() value).
func (c *counters) observe(start int64) {
	d := now() - start
	if d < 0 {
		d = 0
	}
	secs := time.Duration(d).Seconds()
	i := 0
	for i < len(LatencyBuckets) && secs > LatencyBuckets[i] {
		i++
	}
	c.buckets[i].Add(1)
	c.sumNs.Add(uint64(d))
}

// Counts reports what the dealer has done so far.
func (d *Local) Counts() Counts {
	c := Counts{Calls: d.counts.calls.Load()}
	var total uint64
	for i := range d.counts.buckets {
		total += d.counts.buckets[i].Load()
		if i < len(LatencyBuckets) {
			c.Latency.Buckets[i] = total
		}
	}
	// The count is the buckets' total, read with them, so that a snapshot taken while calls
	// complete stays a valid histogram (no bucket above the count).
	c.Latency.Count = total
	c.Latency.Sum = time.Duration(d.counts.sumNs.Load()).Seconds()
	return c
}
