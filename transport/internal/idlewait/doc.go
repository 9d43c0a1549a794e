// Package idlewait watches quiet sockets for readability without a goroutine per socket.
//
// A connection whose peer has gone quiet need not keep a goroutine parked in a read: its
// reader registers the socket here (Watch) and returns, and the connection's Wake runs once
// the socket has something to read, was hung up, or failed. One goroutine waits for all
// watched sockets (epoll on Linux), and only while at least one is watched, so an idle
// connection costs its state and no goroutine stack.
//
// Each watch is one-shot: Wake runs at most once per Watch, and the waker calls Unwatch
// (before the socket is closed) whether or not the poller woke it. Elsewhere than on Linux,
// Supported is false and Watch always declines.
package idlewait
