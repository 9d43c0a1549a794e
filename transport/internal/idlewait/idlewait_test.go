//go:build linux

package idlewait

import (
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

type waker chan struct{}

func (w waker) Wake() { w <- struct{}{} }

// pair returns both ends of a loopback TCP connection and the raw socket of the first.
func pair(t *testing.T) (net.Conn, net.Conn, syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c, peer, rc
}

// pollerRunning reports whether the poller's goroutine is alive.
func pollerRunning() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "idlewait.(*poller).loop")
}

// TestWatchWakesOnceWhenReadable: a watched socket's waker runs once its peer sends (or hangs
// up), not before; an unwatched one's never; and the poller goroutine runs only while
// something is watched.
func TestWatchWakesOnceWhenReadable(t *testing.T) {
	_, peer, rc := pair(t)
	w := make(waker, 2)
	token, ok := Watch(rc, w)
	if !ok || Watched() != 1 {
		t.Fatalf("Watch: ok %v, %d watched", ok, Watched())
	}
	select {
	case <-w:
		t.Fatal("woken before the peer sent anything")
	case <-time.After(50 * time.Millisecond):
	}
	peer.Write([]byte("x"))
	select {
	case <-w:
	case <-time.After(5 * time.Second):
		t.Fatal("not woken once the socket was readable")
	}
	peer.Write([]byte("y")) // one-shot: no second wake without a new watch
	select {
	case <-w:
		t.Fatal("woken twice by one watch")
	case <-time.After(50 * time.Millisecond):
	}
	Unwatch(rc, token)
	if Watched() != 0 {
		t.Fatalf("%d watched after Unwatch", Watched())
	}
	deadline := time.Now().Add(5 * time.Second)
	for pollerRunning() {
		if time.Now().After(deadline) {
			t.Fatal("the poller goroutine still runs with nothing watched")
		}
		time.Sleep(5 * time.Millisecond)
	}

	_, peer2, rc2 := pair(t)
	w2 := make(waker, 1)
	token2, _ := Watch(rc2, w2)
	Unwatch(rc2, token2)
	peer2.Write([]byte("z"))
	select {
	case <-w2:
		t.Fatal("an unwatched socket woke its waker")
	case <-time.After(50 * time.Millisecond):
	}

	_, peer3, rc3 := pair(t)
	w3 := make(waker, 1)
	token3, _ := Watch(rc3, w3)
	defer Unwatch(rc3, token3)
	peer3.Close() // a hang-up wakes too: the reader finds EOF
	select {
	case <-w3:
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by the peer hanging up")
	}
}
