package realm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// A router with no endpoint at all: local clients join, call each other across serializers and
// see themselves as trusted in-memory sessions; Shutdown ends them.
func TestLocalClientNeedsNoSocket(t *testing.T) {
	leakcheck.Check(t)
	rt := realm.NewRouter(nil, realm.New(realm.Config{Name: "realm1"}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	backend, err := rt.LocalClient(ctx, "realm1", client.Options{AuthID: "backend"})
	if err != nil {
		t.Fatal(err)
	}
	w := backend.Welcome()
	if id, _ := w.String("authid"); id != "backend" {
		t.Errorf("authid %q, want backend", id)
	}
	if role, _ := w.String("authrole"); role != realm.TrustedRole {
		t.Errorf("authrole %q, want %q", role, realm.TrustedRole)
	}
	if method, _ := w.String("authmethod"); method != "trusted" {
		t.Errorf("authmethod %q, want trusted", method)
	}
	echo := func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}
	if _, err := backend.Register(ctx, "com.example.echo", echo, nil); err != nil {
		t.Fatal(err)
	}

	caller, err := rt.LocalClient(ctx, "realm1", client.Options{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := caller.Welcome().String("authid"); id != "local" {
		t.Errorf("default authid %q, want local", id)
	}
	res, err := caller.Call(ctx, "com.example.echo", nil, wamp.List{"hi", int64(7)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Args) != 2 || res.Args[0] != "hi" {
		t.Errorf("echo returned %v", res.Args)
	}
	res, err = caller.Call(ctx, "wamp.session.get", nil, wamp.List{backend.ID()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	details, _ := res.Args[0].(wamp.Dict)
	tr, _ := details.Dict("transport")
	if typ, _ := tr.String("type"); typ != "memory" {
		t.Errorf("backend's transport %v, want type memory", tr)
	}

	if _, err := rt.LocalClient(ctx, "realm1", client.Options{Serializer: "yaml"}); err == nil {
		t.Error("an unknown serializer was accepted")
	}

	rt.Shutdown(5 * time.Second)
	for _, c := range []*client.Client{backend, caller} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a local client outlived Shutdown")
		}
	}
	if _, err := rt.LocalClient(ctx, "realm1", client.Options{}); err == nil {
		t.Error("LocalClient after Shutdown succeeded")
	}
}

// An in-memory peer's queue is bounded like a socket's: a local client that stops reading is
// cut off as a slow consumer, and says why it ended.
func TestLocalClientSlowConsumerIsCutOff(t *testing.T) {
	leakcheck.Check(t)
	rt := realm.NewRouter(nil, realm.New(realm.Config{Name: "realm1"}, nil))
	defer rt.Shutdown(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	slow, err := rt.LocalClient(ctx, "realm1", client.Options{EventQueue: 1,
		Transport: websocket.Options{QueueMessages: 4}})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	if _, err := slow.Subscribe(ctx, "com.example.flood", func(*client.Event) { <-release }, nil); err != nil {
		t.Fatal(err)
	}
	pub, err := rt.LocalClient(ctx, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	cutBefore := session.Stats.SlowConsumers.Load()
	for i := 0; i < 100 && session.Stats.SlowConsumers.Load() == cutBefore; i++ {
		if err := pub.Publish(ctx, "com.example.flood", wamp.Dict{"acknowledge": true}, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if session.Stats.SlowConsumers.Load() == cutBefore {
		t.Fatal("a local client that reads nothing was never cut off")
	}
	// The session leaves once its connection's reader sees the cut-off: a moment later.
	gone := false
	for deadline := time.Now().Add(2 * time.Second); !gone && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		_, err := pub.Call(ctx, "wamp.session.get", nil, wamp.List{slow.ID()}, nil)
		gone = err != nil
	}
	if !gone {
		t.Error("the slow consumer's session is still there")
	}
	close(release)
	select {
	case <-slow.Done():
	case <-ctx.Done():
		t.Fatal("the slow consumer's client did not end")
	}
	if err := slow.Err(); err == nil || !strings.Contains(err.Error(), string(wamp.CloseSlowConsumer)) {
		t.Errorf("the slow consumer ended with %v, want a reason naming %s", err, wamp.CloseSlowConsumer)
	}
}
