package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets (8 per power of two, about 9% wide), with
// atomic counters so many goroutines record without a lock.
type histogram struct {
	buckets [64 * 8]atomic.Int64
	count   atomic.Int64
}

func (h *histogram) record(d time.Duration) {
	ns := uint64(max(d.Nanoseconds(), 1))
	exp := 63 - bits.LeadingZeros64(ns)
	sub := 0
	if exp >= 3 {
		sub = int(ns>>(exp-3)) & 7
	}
	h.buckets[exp*8+sub].Add(1)
	h.count.Add(1)
}

// quantile returns the duration below which a fraction q of the samples fall.
func (h *histogram) quantile(q float64) time.Duration {
	total := h.count.Load()
	if total == 0 {
		return 0
	}
	target := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= target {
			exp, sub := i/8, i%8
			// Upper edge of the bucket.
			v := (uint64(8+sub+1) << exp) >> 3
			if exp < 3 {
				v = uint64(1) << (exp + 1)
			}
			return time.Duration(v)
		}
	}
	return 0
}
