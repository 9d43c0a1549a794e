package wsapp_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
)

// The HTTP servers Pawl starts (App.Run, the examples, pawl serve) close a keep-alive
// connection that stays idle after its answer — here the 426 a WebSocket route gives a plain
// GET — instead of holding it forever.
func TestNewHTTPServerClosesIdleConnections(t *testing.T) {
	leakcheck.Check(t)
	app := wsapp.NewApp(nil)
	if err := app.Route("/ws", wsapp.Echo{}, wsapp.RouteOptions{}); err != nil {
		t.Fatal(err)
	}
	srv := websocket.NewHTTPServer(app, websocket.HTTPTimeouts{Idle: 200 * time.Millisecond})
	if srv.ReadHeaderTimeout != websocket.DefaultReadHeaderTimeout || srv.ReadTimeout != websocket.DefaultReadTimeout {
		t.Errorf("timeouts: read header %v, read %v", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: "+ln.Addr().String()+"\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatalf("status %d closed at once; want a kept-alive answer", resp.StatusCode)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle keep-alive connection: %v, want EOF (closed by the server)", err)
	}
}
