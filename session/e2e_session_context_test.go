package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// The router's own call to a dynamic authorizer runs in the requesting session's context: a
// session killed while its authorizer is still thinking has that call canceled (the
// authorizer's handler sees its context end) instead of left to run out its 10s timeout.
func TestDynamicAuthorizerCallEndsWithTheSession(t *testing.T) {
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{authzRealm(t)}})
	ctx := ctxT(t)
	backend, err := r.LocalClient(ctx, "realm1", client.Options{AuthID: "authorizer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	asked := make(chan struct{}, 1)
	ended := make(chan error, 1)
	if _, err := backend.Register(ctx, "com.example.authorize", func(hctx context.Context, _ *client.Invocation) (*client.Result, error) {
		asked <- struct{}{}
		select {
		case <-hctx.Done():
			ended <- hctx.Err()
		case <-time.After(20 * time.Second):
			ended <- nil
		}
		return &client.Result{Args: wamp.List{false}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	dyn := ticketLogin(t, r, "dyn")
	go dyn.Call(ctx, "com.dyn.anything", nil, nil, nil) // waits for the authorizer
	select {
	case <-asked:
	case <-ctx.Done():
		t.Fatal("the authorizer was never asked")
	}
	if _, err := backend.Call(ctx, "wamp.session.kill", nil, wamp.List{dyn.ID()}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the authorizer's call ran on after its session was killed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the authorizer's call was not canceled when its session was killed")
	}
}
