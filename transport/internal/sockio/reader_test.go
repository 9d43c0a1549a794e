package sockio

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A reader whose read ends on its deadline (it parks, or gives up) writes what its outbox
// holds before it returns: a writer held there must not wait until this reader reads again,
// which a peer that waits for an answer never makes happen.
func TestReadThatEndsOnItsDeadlineFlushesTheOutbox(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	rc, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var out Outbox
	var b ReadBuffer
	b.Init(server, rc, 4096, &out)
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	out.Hold(heldWriters(1, &writes, &wg)[0], false)
	server.SetReadDeadline(time.Now().Add(-time.Second)) // passed; no DeadlineHandler waits on
	if err := b.Fill(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Fill: %v, want a passed deadline", err)
	}
	if writes.Load() != 1 || out.Holding() {
		t.Fatalf("the outbox still holds its writer after the read ended (%d writes)", writes.Load())
	}
}
