//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "net"

// listenReusePort listens on a TCP address. This system has no SO_REUSEPORT: a new router
// can listen on the port only once the old one has closed it.
func listenReusePort(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}
