package sockio

import "sync/atomic"

// readCounter, when set, counts the read system calls RawRead makes (CountReads).
var readCounter atomic.Pointer[atomic.Int64]

// CountReads counts the read system calls the readers of this process make on plain sockets
// from now on, until restore: for tests that pin how many reads a message costs.
func CountReads() (reads *atomic.Int64, restore func()) {
	reads = new(atomic.Int64)
	old := readCounter.Swap(reads)
	return reads, func() { readCounter.Store(old) }
}
