//go:build !unix

package websocket

import (
	"net"
	"syscall"
)

// rawConnOf: elsewhere reads always go through the net.Conn, holding their buffer.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func rawRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

type iovecs = []struct{}

func appendIovecs(dst iovecs, _ [][]byte, _ int) iovecs { return dst }

func writevIovecs(uintptr, iovecs) (int, error) { return 0, syscall.EINVAL }
