//go:build !linux

package main

import (
	"errors"
	"net"
)

// The floor is measured with Linux's epoll; elsewhere floorrouter only says so.

type reactor struct{}

func newReactor() (*reactor, error) { return nil, errors.New("floorrouter needs Linux (epoll)") }
func (*reactor) acceptLoop(net.Listener) {}
func (*reactor) stop()                    {}
func (*reactor) run() error               { return nil }
