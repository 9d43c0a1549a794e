package wsapp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
)

// wait bounds every wait in these tests; nothing asserts on how long anything takes.
const wait = 10 * time.Second

// event is one component callback, as the recorder saw it.
type event struct {
	kind   string // "open", "message", "close", "error"
	peer   *wsapp.Peer
	msg    wsapp.Message
	code   int
	reason string
	err    error
}

// recorder is a component that reports every callback on a channel; the optional hooks run
// inside the callbacks.
type recorder struct {
	events    chan event
	onOpen    func(p *wsapp.Peer)
	onMessage func(p *wsapp.Peer, m wsapp.Message)
}

func newRecorder() *recorder { return &recorder{events: make(chan event, 1024)} }

func (r *recorder) OnOpen(p *wsapp.Peer) {
	r.events <- event{kind: "open", peer: p}
	if r.onOpen != nil {
		r.onOpen(p)
	}
}

func (r *recorder) OnMessage(p *wsapp.Peer, m wsapp.Message) {
	r.events <- event{kind: "message", peer: p, msg: m}
	if r.onMessage != nil {
		r.onMessage(p, m)
	}
}

func (r *recorder) OnClose(p *wsapp.Peer, code int, reason string) {
	r.events <- event{kind: "close", peer: p, code: code, reason: reason}
}

func (r *recorder) OnError(p *wsapp.Peer, err error) {
	r.events <- event{kind: "error", peer: p, err: err}
}

// next returns the next event of kind, skipping the others.
func (r *recorder) next(t *testing.T, kind string) event {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case e := <-r.events:
			if e.kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event within %v", kind, wait)
		}
	}
}

// startApp serves one route on a loopback port and checks at cleanup that the app shuts down
// and leaves no goroutine behind.
func startApp(t *testing.T, path string, c wsapp.Component, opts wsapp.RouteOptions) (*wsapp.App, string) {
	t.Helper()
	leakcheck.Check(t)
	app := wsapp.NewApp(nil)
	if err := app.Route(path, c, opts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := app.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return app, "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

// dialWS connects a gorilla client; the connection is closed at cleanup.
func dialWS(t *testing.T, url string, header http.Header, subprotocols ...string) *gorilla.Conn {
	t.Helper()
	ws, resp, err := refusedOr(url, header, subprotocols...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func refusedOr(url string, header http.Header, subprotocols ...string) (*gorilla.Conn, *http.Response, error) {
	d := gorilla.Dialer{Subprotocols: subprotocols, HandshakeTimeout: wait}
	ws, resp, err := d.Dial(url, header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return ws, resp, err
}

// refusedWith dials and expects the handshake to be refused with status.
func refusedWith(t *testing.T, status int, url string, header http.Header, subprotocols ...string) {
	t.Helper()
	ws, resp, err := refusedOr(url, header, subprotocols...)
	if err == nil {
		ws.Close()
		t.Fatalf("connection accepted; expected HTTP %d", status)
	}
	if resp == nil || resp.StatusCode != status {
		t.Fatalf("expected HTTP %d, got %v (%v)", status, resp, err)
	}
}

// readUntilClose reads until the server's close frame and returns it.
func readUntilClose(t *testing.T, ws *gorilla.Conn) *gorilla.CloseError {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *gorilla.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("expected a close frame, got %v", err)
		}
		return ce
	}
}

func readMsg(t *testing.T, ws *gorilla.Conn) (int, string) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(wait))
	kind, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return kind, string(data)
}

// Echo answers text with text and binary with binary, in order, also when they alternate
// faster than the writer drains the queue.
func TestEchoTextAndBinary(t *testing.T) {
	_, url := startApp(t, "/echo", wsapp.Echo{}, wsapp.RouteOptions{})
	ws := dialWS(t, url, nil)
	const n = 200
	for i := range n {
		kind := gorilla.TextMessage
		if i%3 == 0 {
			kind = gorilla.BinaryMessage
		}
		if err := ws.WriteMessage(kind, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		want := gorilla.TextMessage
		if i%3 == 0 {
			want = gorilla.BinaryMessage
		}
		kind, data := readMsg(t, ws)
		if kind != want || data != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d: got kind %d %q, want kind %d %q", i, kind, data, want, fmt.Sprintf("m%d", i))
		}
	}
}

// The close code and reason the peer sends reach OnClose; a close frame without a code is 1005.
func TestPeerCloseCodeReachesOnClose(t *testing.T) {
	rec := newRecorder()
	_, url := startApp(t, "/c", rec, wsapp.RouteOptions{})
	for _, tc := range []struct {
		frame      []byte
		code       int
		reasonText string
	}{
		{gorilla.FormatCloseMessage(4001, "bye now"), 4001, "bye now"},
		{gorilla.FormatCloseMessage(gorilla.CloseGoingAway, "tab closed"), 1001, "tab closed"},
		{[]byte{}, wsapp.CloseNoStatus, ""},
	} {
		ws := dialWS(t, url, nil)
		open := rec.next(t, "open")
		if err := ws.WriteControl(gorilla.CloseMessage, tc.frame, time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		closed := rec.next(t, "close")
		if closed.peer != open.peer || closed.code != tc.code || closed.reason != tc.reasonText {
			t.Fatalf("OnClose(%d, %q) for peer %d, want (%d, %q) for peer %d", closed.code, closed.reason,
				closed.peer.ID(), tc.code, tc.reasonText, open.peer.ID())
		}
		readUntilClose(t, ws) // the server answered the close
	}
}

// Peer.Close sends the code and reason to the peer, and OnClose reports them (not the peer's
// echo). Messages after the close are not delivered.
func TestServerCloseReachesPeerAndOnClose(t *testing.T) {
	rec := newRecorder()
	rec.onMessage = func(p *wsapp.Peer, m wsapp.Message) {
		if m.String() == "kick me" {
			p.Send("goodbye")
			p.Close(4002, "kicked")
		}
	}
	_, url := startApp(t, "/c", rec, wsapp.RouteOptions{})
	ws := dialWS(t, url, nil)
	ws.WriteMessage(gorilla.TextMessage, []byte("kick me"))
	if _, data := readMsg(t, ws); data != "goodbye" {
		t.Fatalf("got %q before the close", data)
	}
	ce := readUntilClose(t, ws)
	if ce.Code != 4002 || ce.Text != "kicked" {
		t.Fatalf("peer got close %d %q, want 4002 kicked", ce.Code, ce.Text)
	}
	closed := rec.next(t, "close")
	if closed.code != 4002 || closed.reason != "kicked" {
		t.Fatalf("OnClose(%d, %q), want (4002, kicked)", closed.code, closed.reason)
	}
}

// A peer that answers no ping is closed; OnClose says it was the keepalive.
func TestKeepaliveTimeoutReachesOnClose(t *testing.T) {
	rec := newRecorder()
	_, url := startApp(t, "/k", rec, wsapp.RouteOptions{KeepAlive: 50 * time.Millisecond, PongTimeout: 50 * time.Millisecond})
	dialWS(t, url, nil) // never reads, so never answers a ping
	closed := rec.next(t, "close")
	if closed.code != wsapp.CloseAbnormal || !strings.HasPrefix(closed.reason, websocket.ReasonKeepaliveTimeout+": ") {
		t.Fatalf("OnClose(%d, %q), want 1006 and a keepalive timeout reason", closed.code, closed.reason)
	}
}

// A peer that answers pings stays open across many keepalive intervals: twice as long as an
// unanswered ping would keep it. The pong timeout is loose so that a loaded machine (race
// detector, CI) delaying one pong does not read as a dead peer.
func TestKeepaliveKeepsLivePeers(t *testing.T) {
	const keepAlive, pongTimeout = 25 * time.Millisecond, 250 * time.Millisecond
	const minPings = int(2 * (keepAlive + pongTimeout) / keepAlive)
	rec := newRecorder()
	ticks := make(chan struct{}, 16)
	rec.onOpen = func(p *wsapp.Peer) {
		go func() { // a server-side clock: several keepalive intervals pass before it answers
			for range minPings {
				<-ticks
			}
			p.Send("still here")
		}()
	}
	_, url := startApp(t, "/k", rec, wsapp.RouteOptions{KeepAlive: keepAlive, PongTimeout: pongTimeout})
	ws := dialWS(t, url, nil)
	pings := 0
	ws.SetPingHandler(func(data string) error {
		pings++
		select {
		case ticks <- struct{}{}:
		default:
		}
		return ws.WriteControl(gorilla.PongMessage, []byte(data), time.Now().Add(wait))
	})
	if _, data := readMsg(t, ws); data != "still here" {
		t.Fatalf("got %q", data)
	}
	if pings < minPings {
		t.Fatalf("only %d pings", pings)
	}
	select {
	case e := <-rec.events:
		if e.kind == "close" || e.kind == "error" {
			t.Fatalf("live peer got %s: %d %q %v", e.kind, e.code, e.reason, e.err)
		}
	default:
	}
}

func TestOrigins(t *testing.T) {
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }
	t.Run("listed", func(t *testing.T) {
		_, url := startApp(t, "/o", wsapp.Echo{}, wsapp.RouteOptions{
			AllowedOrigins: []string{"https://app.example.com", "*.trusted.example"}})
		refusedWith(t, http.StatusForbidden, url, origin("https://evil.example"))
		dialWS(t, url, origin("https://app.example.com"))
		dialWS(t, url, origin("https://chat.trusted.example"))
		dialWS(t, url, nil) // not a browser
	})
	t.Run("any", func(t *testing.T) {
		_, url := startApp(t, "/o", wsapp.Echo{}, wsapp.RouteOptions{AllowedOrigins: []string{"*"}})
		dialWS(t, url, origin("https://anywhere.example"))
	})
	t.Run("same host by default", func(t *testing.T) {
		_, url := startApp(t, "/o", wsapp.Echo{}, wsapp.RouteOptions{})
		refusedWith(t, http.StatusForbidden, url, origin("https://evil.example"))
		host := strings.TrimPrefix(strings.TrimSuffix(url, "/o"), "ws://")
		dialWS(t, url, origin("http://"+host))
	})
}

func TestSubprotocols(t *testing.T) {
	t.Run("strict", func(t *testing.T) {
		rec := newRecorder()
		_, url := startApp(t, "/s", rec, wsapp.RouteOptions{Subprotocols: []string{"chat.v2", "chat.v1"}})
		refusedWith(t, http.StatusBadRequest, url, nil)
		refusedWith(t, http.StatusBadRequest, url, nil, "other")
		ws := dialWS(t, url, nil, "chat.v1", "chat.v2")
		if ws.Subprotocol() != "chat.v2" {
			t.Fatalf("negotiated %q, want the server's preference chat.v2", ws.Subprotocol())
		}
		if p := rec.next(t, "open").peer; p.Subprotocol() != "chat.v2" {
			t.Fatalf("Peer.Subprotocol() = %q", p.Subprotocol())
		}
	})
	t.Run("lax", func(t *testing.T) {
		rec := newRecorder()
		_, url := startApp(t, "/s", rec, wsapp.RouteOptions{Subprotocols: []string{"chat.v1"}, LaxSubprotocols: true})
		dialWS(t, url, nil)
		if p := rec.next(t, "open").peer; p.Subprotocol() != "" {
			t.Fatalf("Peer.Subprotocol() = %q, want none", p.Subprotocol())
		}
		if ws := dialWS(t, url, nil, "chat.v1"); ws.Subprotocol() != "chat.v1" {
			t.Fatalf("negotiated %q", ws.Subprotocol())
		}
	})
}

func TestBlockedIPs(t *testing.T) {
	t.Run("blocked", func(t *testing.T) {
		rec := newRecorder()
		_, url := startApp(t, "/b", rec, wsapp.RouteOptions{BlockedIPs: []string{"10.0.0.0/8", "127.0.0.0/8"}})
		refusedWith(t, http.StatusForbidden, url, nil)
		select {
		case e := <-rec.events:
			t.Fatalf("a blocked client reached the component: %s", e.kind)
		default:
		}
	})
	t.Run("single address", func(t *testing.T) {
		_, url := startApp(t, "/b", wsapp.Echo{}, wsapp.RouteOptions{BlockedIPs: []string{"127.0.0.1"}})
		refusedWith(t, http.StatusForbidden, url, nil)
	})
	t.Run("others pass", func(t *testing.T) {
		_, url := startApp(t, "/b", wsapp.Echo{}, wsapp.RouteOptions{BlockedIPs: []string{"10.0.0.0/8", "::1/128"}})
		dialWS(t, url, nil)
	})
	t.Run("invalid", func(t *testing.T) {
		app := wsapp.NewApp(nil)
		if err := app.Route("/b", wsapp.Echo{}, wsapp.RouteOptions{BlockedIPs: []string{"10.0.0.0/33"}}); err == nil {
			t.Fatal("invalid prefix accepted")
		}
		if _, err := wsapp.BlockIPs([]string{"not-an-ip"}, http.NotFoundHandler(), nil); err == nil {
			t.Fatal("invalid address accepted")
		}
	})
}

// A message over MaxMessageSize closes the connection with 1009; OnClose says why.
func TestMaxMessageSize(t *testing.T) {
	rec := newRecorder()
	_, url := startApp(t, "/m", rec, wsapp.RouteOptions{MaxMessageSize: 1024})
	ws := dialWS(t, url, nil)
	ws.WriteMessage(gorilla.TextMessage, []byte(strings.Repeat("a", 1024)))
	if m := rec.next(t, "message").msg; len(m.Data) != 1024 {
		t.Fatalf("got %d bytes", len(m.Data))
	}
	ws.WriteMessage(gorilla.BinaryMessage, make([]byte, 1025))
	if ce := readUntilClose(t, ws); ce.Code != gorilla.CloseMessageTooBig {
		t.Fatalf("peer got close %d, want 1009", ce.Code)
	}
	closed := rec.next(t, "close")
	if closed.code != websocket.CloseMessageTooBig || !strings.HasPrefix(closed.reason, websocket.ReasonMessageTooBig) {
		t.Fatalf("OnClose(%d, %q)", closed.code, closed.reason)
	}
}

// A panic in a callback reaches OnError and closes that connection only (1011).
func TestPanicClosesOnlyThatConnection(t *testing.T) {
	rec := newRecorder()
	rec.onOpen = func(p *wsapp.Peer) {
		if p.Request().URL.Query().Get("panic") == "open" {
			panic("cannot open")
		}
	}
	rec.onMessage = func(p *wsapp.Peer, m wsapp.Message) {
		if m.String() == "boom" {
			panic(fmt.Errorf("boom: %w", context.Canceled))
		}
		p.SendMessage(m)
	}
	_, url := startApp(t, "/p", rec, wsapp.RouteOptions{})
	good := dialWS(t, url, nil)
	bad := dialWS(t, url, nil)
	rec.next(t, "open")
	rec.next(t, "open")
	bad.WriteMessage(gorilla.TextMessage, []byte("boom"))
	bad.WriteMessage(gorilla.TextMessage, []byte("after the panic")) // not delivered
	failed := rec.next(t, "error")
	var pe *wsapp.PanicError
	if !errors.As(failed.err, &pe) || pe.Callback != "OnMessage" || !errors.Is(failed.err, context.Canceled) || len(pe.Stack) == 0 {
		t.Fatalf("OnError got %#v", failed.err)
	}
	if ce := readUntilClose(t, bad); ce.Code != gorilla.CloseInternalServerErr {
		t.Fatalf("panicking peer got close %d", ce.Code)
	}
	closed := rec.next(t, "close")
	if closed.peer != failed.peer || closed.code != websocket.CloseInternalError {
		t.Fatalf("OnClose(%d, %q) for peer %d", closed.code, closed.reason, closed.peer.ID())
	}
	good.WriteMessage(gorilla.TextMessage, []byte("still fine"))
	if _, data := readMsg(t, good); data != "still fine" {
		t.Fatalf("other peer got %q", data)
	}
	for {
		select {
		case e := <-rec.events:
			if e.kind == "message" && e.msg.String() == "after the panic" {
				t.Fatal("a message after the panic was delivered")
			}
			continue
		default:
		}
		break
	}

	ws := dialWS(t, url+"?panic=open", nil)
	if e := rec.next(t, "error"); !errors.As(e.err, &pe) || pe.Callback != "OnOpen" || pe.Value != "cannot open" {
		t.Fatalf("OnError got %v", e.err)
	}
	if ce := readUntilClose(t, ws); ce.Code != gorilla.CloseInternalServerErr {
		t.Fatalf("peer got close %d", ce.Code)
	}
	rec.next(t, "close")
}

// A peer that does not read is cut off once its queue is full; the sender never blocks.
func TestSlowPeerIsCutOff(t *testing.T) {
	rec := newRecorder()
	sendErr := make(chan error, 1)
	rec.onMessage = func(p *wsapp.Peer, m wsapp.Message) {
		big := make([]byte, 64<<10)
		for range 100000 { // far more than any socket buffers
			if err := p.SendBinary(big); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}
	_, url := startApp(t, "/slow", rec, wsapp.RouteOptions{QueueMessages: 4})
	ws := dialWS(t, url, nil)
	ws.WriteMessage(gorilla.TextMessage, []byte("flood me")) // and never read
	select {
	case err := <-sendErr:
		if !errors.Is(err, websocket.ErrQueueFull) {
			t.Fatalf("send ended with %v, want ErrQueueFull", err)
		}
	case <-time.After(wait):
		t.Fatal("sending did not stop")
	}
	closed := rec.next(t, "close")
	if closed.code != websocket.CloseTryAgainLater || !strings.HasPrefix(closed.reason, websocket.ReasonSlowConsumer+": ") {
		t.Fatalf("OnClose(%d, %q)", closed.code, closed.reason)
	}
}

// The upgrade request, a stable ID and values set on the peer are available to the component.
func TestPeerIdentity(t *testing.T) {
	rec := newRecorder()
	rec.onOpen = func(p *wsapp.Peer) {
		r := p.Request()
		user, _ := r.Cookie("user")
		p.Set("name", r.URL.Query().Get("nick")+"/"+user.Value+"/"+r.Header.Get("X-Team"))
	}
	rec.onMessage = func(p *wsapp.Peer, _ wsapp.Message) {
		p.Send(fmt.Sprintf("%d %s %v", p.ID(), p.Get("name"), p.RemoteAddr() != nil))
	}
	_, url := startApp(t, "/id", rec, wsapp.RouteOptions{})
	a := dialWS(t, url+"?nick=ann", http.Header{"Cookie": {"user=u1"}, "X-Team": {"red"}})
	b := dialWS(t, url+"?nick=bob", http.Header{"Cookie": {"user=u2"}, "X-Team": {"blue"}})
	pa, pb := rec.next(t, "open").peer, rec.next(t, "open").peer
	if pa.ID() == pb.ID() || pa.ID() == 0 || pa.Route() != "/id" {
		t.Fatalf("IDs %d and %d, route %q", pa.ID(), pb.ID(), pa.Route())
	}
	for _, c := range []struct {
		ws   *gorilla.Conn
		want string
	}{{a, "ann/u1/red"}, {b, "bob/u2/blue"}} {
		c.ws.WriteMessage(gorilla.TextMessage, []byte("who am I"))
		_, first := readMsg(t, c.ws)
		if !strings.HasSuffix(first, " "+c.want+" true") {
			t.Fatalf("got %q, want ... %s true", first, c.want)
		}
		// The ID is the same in every callback.
		c.ws.WriteMessage(gorilla.TextMessage, []byte("again"))
		if _, again := readMsg(t, c.ws); again != first {
			t.Fatalf("got %q, then %q", first, again)
		}
	}
}

// Group.Broadcast reaches everyone but the excepted peer; members leave on close.
func TestGroupBroadcast(t *testing.T) {
	var room wsapp.Group
	joined := make(chan struct{}, 8)
	chat := wsapp.ComponentFuncs{
		Open: func(p *wsapp.Peer) { room.Add(p); joined <- struct{}{} },
		Message: func(p *wsapp.Peer, m wsapp.Message) {
			room.Broadcast(m, p)
		},
		Close: func(p *wsapp.Peer, _ int, _ string) { room.Remove(p); joined <- struct{}{} },
	}
	_, url := startApp(t, "/chat", chat, wsapp.RouteOptions{})
	clients := make([]*gorilla.Conn, 3)
	for i := range clients {
		clients[i] = dialWS(t, url, nil)
		<-joined
	}
	if room.Len() != 3 || len(room.Peers()) != 3 || room.Peers()[0].ID() > room.Peers()[2].ID() {
		t.Fatalf("room has %d", room.Len())
	}
	clients[0].WriteMessage(gorilla.TextMessage, []byte("hello from 0"))
	clients[1].WriteMessage(gorilla.BinaryMessage, []byte("bytes from 1"))
	for i, ws := range clients {
		var got []string
		for range 2 - btoi(i < 2) {
			_, data := readMsg(t, ws)
			got = append(got, data)
		}
		for _, g := range got {
			if g == fmt.Sprintf("hello from %d", i) || g == fmt.Sprintf("bytes from %d", i) {
				t.Fatalf("client %d got its own message", i)
			}
		}
	}
	clients[2].Close()
	<-joined
	if room.Len() != 2 {
		t.Fatalf("room has %d after a close", room.Len())
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Shutdown closes every connection with 1001 and waits for OnClose; later clients are refused.
func TestAppShutdown(t *testing.T) {
	leakcheck.Check(t)
	rec := newRecorder()
	app := wsapp.NewApp(nil)
	app.Route("/s", rec, wsapp.RouteOptions{})
	srv := httptest.NewServer(app)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/s"
	a, b := dialWS(t, url, nil), dialWS(t, url, nil)
	rec.next(t, "open")
	rec.next(t, "open")
	if app.Connections() != 2 {
		t.Fatalf("%d connections", app.Connections())
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		done <- app.Shutdown(ctx)
	}()
	for _, ws := range []*gorilla.Conn{a, b} {
		if ce := readUntilClose(t, ws); ce.Code != gorilla.CloseGoingAway || !strings.HasPrefix(ce.Text, websocket.ReasonShutdown) {
			t.Fatalf("got close %d %q", ce.Code, ce.Text)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec.next(t, "close")
	rec.next(t, "close")
	if app.Connections() != 0 {
		t.Fatalf("%d connections after shutdown", app.Connections())
	}
	late := dialWS(t, url, nil)
	if ce := readUntilClose(t, late); ce.Code != gorilla.CloseGoingAway {
		t.Fatalf("late client got %d", ce.Code)
	}
}
