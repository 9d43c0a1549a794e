//go:build unix

package transport

import (
	"net"
	"syscall"
)

// rawConnOf returns the socket's raw connection when reads may go straight to the file
// descriptor (plain TCP or Unix sockets), or nil (TLS and wrapped connections read through
// their net.Conn).
func rawConnOf(nc net.Conn) syscall.RawConn {
	var rc syscall.RawConn
	var err error
	switch c := nc.(type) {
	case *net.TCPConn:
		rc, err = c.SyscallConn()
	case *net.UnixConn:
		rc, err = c.SyscallConn()
	}
	if err != nil {
		return nil
	}
	return rc
}

func rawRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
