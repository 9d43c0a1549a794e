package session_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// slowRouter has small outbound queues so that a peer that stops reading is cut off quickly.
func slowRouter(t *testing.T) *routertest.Router {
	return routertest.Start(t, routertest.Options{
		Endpoint: realm.EndpointOptions{Transport: websocket.Options{QueueBytes: 256 << 10, WriteTimeout: time.Second}},
	})
}

// leaveReasons records the reason of every wamp.session.on_leave, by session ID.
func leaveReasons(t *testing.T, observer *client.Client) func(id wamp.ID) string {
	var mu sync.Mutex
	reasons := map[wamp.ID]string{}
	_, err := observer.Subscribe(ctxT(t), "wamp.session.on_leave", func(e *client.Event) {
		id, _ := wamp.AsID(e.Args[0])
		reason, _ := e.Kwargs.String("reason")
		mu.Lock()
		reasons[id] = reason
		mu.Unlock()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(id wamp.ID) string {
		mu.Lock()
		defer mu.Unlock()
		return reasons[id]
	}
}

func welcomeID(t *testing.T, p *rawPeer, hello string) wamp.ID {
	t.Helper()
	p.sendText(hello)
	m, err := p.next()
	if err != nil {
		t.Fatal(err)
	}
	w, ok := m.(*wamp.Welcome)
	if !ok {
		t.Fatalf("expected WELCOME, got %#v", m)
	}
	return w.Session
}

// A callee that stops reading cannot wedge the dealer: its INVOCATIONs fill its queue, it is cut
// off with the slow-consumer reason (visible in on_leave), its callers get an error, and calls
// to other callees go on throughout.
func TestCalleeThatStopsReading(t *testing.T) {
	r := slowRouter(t)
	observer, caller, other := join(t, r, "json"), join(t, r, "json"), join(t, r, "msgpack")
	reasonOf := leaveReasons(t, observer)
	if _, err := other.Register(ctxT(t), "com.example.fine", echo, nil); err != nil {
		t.Fatal(err)
	}
	stuck := dialRaw(t, r.URL, "wamp.2.json")
	id := welcomeID(t, stuck, `[1,"realm1",{"roles":{"callee":{}}}]`)
	stuck.sendText(`[64,1,{},"com.example.stuck"]`)
	if m, err := stuck.next(); err != nil || m.Type() != wamp.TypeRegistered {
		t.Fatalf("register: %v %v", m, err)
	}
	// From here on the callee reads nothing.
	// 12 MiB in all: past the socket buffers and the 256 KiB queue.
	big := wamp.List{strings.Repeat("x", 64<<10)}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := caller.Call(ctxT(t), "com.example.stuck", nil, big, nil)
			errs <- err
		}()
	}
	// Meanwhile another callee answers at once.
	for i := 0; i < 20; i++ {
		if _, err := caller.Call(ctxT(t), "com.example.fine", nil, wamp.List{i}, nil); err != nil {
			t.Fatalf("call to a healthy callee: %v", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var ae *wamp.ApplicationError
		if !errors.As(err, &ae) || (ae.URI != wamp.ErrCanceled && ae.URI != wamp.ErrNoSuchProcedure) {
			t.Fatalf("a call to the stuck callee ended with %v, want canceled or no_such_procedure", err)
		}
	}
	waitFor(t, "on_leave with the slow-consumer reason", func() bool { return reasonOf(id) == string(wamp.CloseSlowConsumer) })
	dealerIdle(t, r)
}

// A caller that stops reading is cut off once its RESULTs fill its queue; the callee and other
// callers carry on.
func TestCallerThatStopsReading(t *testing.T) {
	r := slowRouter(t)
	observer, callee, other := join(t, r, "json"), join(t, r, "json"), join(t, r, "json")
	reasonOf := leaveReasons(t, observer)
	big := strings.Repeat("y", 64<<10) // 400 answers: 25 MiB, past the socket buffers and queue
	if _, err := callee.Register(ctxT(t), "com.example.big", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: wamp.List{big}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	stuck := dialRaw(t, r.URL, "wamp.2.json")
	id := welcomeID(t, stuck, `[1,"realm1",{"roles":{"caller":{}}}]`)
	// Many calls, and never a read: the answers pile up in the router for this caller.
	for i := 1; i <= 400; i++ {
		stuck.sendText(`[48,` + strconv.Itoa(i) + `,{},"com.example.big"]`)
	}
	waitFor(t, "the stuck caller to be cut off", func() bool { return reasonOf(id) == string(wamp.CloseSlowConsumer) })
	if res, err := other.Call(ctxT(t), "com.example.big", nil, nil, nil); err != nil || res.Args[0] != big {
		t.Fatalf("another caller after the cut-off: %v", err)
	}
	dealerIdle(t, r)
}
