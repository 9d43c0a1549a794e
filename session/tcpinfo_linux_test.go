package session_test

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// dataSegmentsIn is how many TCP segments carrying data c's socket has received
// (tcpi_data_segs_in): a peer that writes small messages sends one per write.
func dataSegmentsIn(t testing.TB, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Fatal(ierr)
	}
	return info.Data_segs_in
}
