//go:build !linux

package idlewait

import "syscall"

// Supported reports whether Watch can watch sockets on this system.
const Supported = false

// A Waker is told that its socket became readable (or hung up, or failed).
type Waker interface {
	Wake()
}

// Watch declines: the caller keeps its reader.
func Watch(rc syscall.RawConn, w Waker) (token uint32, ok bool) { return 0, false }

// Unwatch does nothing.
func Unwatch(rc syscall.RawConn, token uint32) {}

// Watched is the number of sockets being watched.
func Watched() int { return 0 }
