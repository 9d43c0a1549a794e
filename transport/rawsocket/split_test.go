package rawsocket_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
)

// TestSplitQuietConnectionIsHTTPs: a connection that sends nothing within the first-octet
// timeout (a browser's preconnect) is handed to HTTP, which serves its request when it comes;
// a RawSocket connection on the same listener is answered by the RawSocket server.
func TestSplitQuietConnectionIsHTTPs(t *testing.T) {
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs := rawsocket.NewServer(rawsocket.HandlerFunc(func(c *rawsocket.Conn) {
		m, err := c.Read()
		if err == nil {
			c.SendNow(m) // echo one message
		}
	}), rawsocket.Options{})
	split := rawsocket.Split(ln, rs, 100*time.Millisecond)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello over http"))
	})}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(split) }()
	t.Cleanup(func() {
		hs.Close()
		rs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(300 * time.Millisecond) // quiet past the first-octet timeout
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP after a quiet start: %s", resp.Status)
	}

	r, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetDeadline(time.Now().Add(5 * time.Second))
	r.Write([]byte{0x7F, 0xF1, 0, 0, 0, 0, 0, 2, '[', ']'})
	want := []byte{0x7F, 0xF1, 0, 0, 0, 0, 0, 2, '[', ']'}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != string(want) {
		t.Fatalf("rawsocket on the split listener: % x %v", got, err)
	}
}
