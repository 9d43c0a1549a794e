//go:build unix

package sockio

import (
	"net"
	"syscall"
	"unsafe"
)

// RawConnOf returns the socket's raw connection when reads and writes may go straight to the
// file descriptor (plain TCP or Unix sockets), or nil (TLS and wrapped connections go through
// their net.Conn).
func RawConnOf(nc net.Conn) syscall.RawConn {
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

// RawRead reads from the file descriptor once.
func RawRead(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }

// RawPeek reads without consuming (MSG_PEEK).
func RawPeek(fd uintptr, p []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK)
	return n, err
}

// iovecs describe buffers to writev.
type iovecs = []syscall.Iovec

// appendIovecs appends iovecs for the non-empty buffers of bufs, at most limit in all.
func appendIovecs(dst iovecs, bufs [][]byte, limit int) iovecs {
	for _, b := range bufs {
		if len(dst) == limit {
			break
		}
		if len(b) > 0 {
			dst = append(dst, syscall.Iovec{Base: &b[0]})
			dst[len(dst)-1].SetLen(len(b))
		}
	}
	return dst
}

// writev writes the buffers iov points to with one writev system call.
func writev(fd uintptr, iov []syscall.Iovec) (int, error) {
	n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
