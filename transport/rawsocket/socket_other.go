//go:build !unix

package rawsocket

import (
	"net"
	"syscall"
)

// rawConnOf: elsewhere reads and writes always go through the net.Conn.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func rawRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

func rawPeek(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

type iovecs = []struct{}

func appendIovecs(dst iovecs, _ [][]byte, _ int) iovecs { return dst }

func writevIovecs(uintptr, iovecs) (int, error) { return 0, syscall.EINVAL }
