//go:build !unix

package sockio

import (
	"net"
	"syscall"
)

// RawConnOf: elsewhere reads and writes always go through the net.Conn.
func RawConnOf(net.Conn) syscall.RawConn { return nil }

// RawRead is never called without a raw connection.
func RawRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

// RawPeek is never called without a raw connection.
func RawPeek(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

type iovecs = []struct{}

func appendIovecs(dst iovecs, _ [][]byte, _ int) iovecs { return dst }

func writev(uintptr, iovecs) (int, error) { return 0, syscall.EINVAL }
