//go:build !unix

package transport

import (
	"net"
	"syscall"
)

// rawConnOf: elsewhere reads always go through the net.Conn, holding their buffer.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func rawRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

func writev2(uintptr, []byte, []byte) (int, error) { return 0, syscall.EINVAL }
