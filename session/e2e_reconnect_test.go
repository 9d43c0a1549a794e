package session_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/wamp"
)

// A session the router kills stays ended, policy or not: killing is not a lost connection.
func TestReconnectNotAfterKill(t *testing.T) {
	r := routertest.Start(t, routertest.Options{})
	ctx := ctxT(t)
	rejoined := make(chan struct{}, 1)
	c, err := client.Dial(ctx, r.URL, "realm1", client.Options{Reconnect: &client.ReconnectPolicy{
		InitialDelay: 10 * time.Millisecond, OnRejoin: func(*client.Client) { rejoined <- struct{}{} }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	admin, err := r.LocalClient(ctx, "realm1", client.Options{AuthID: "admin"}) // trusted: may kill
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Call(ctx, "wamp.session.kill", nil, wamp.List{c.ID()}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the killed session did not end")
	}
	var ae *wamp.ApplicationError
	if !errors.As(c.Err(), &ae) || ae.URI != wamp.CloseKilled {
		t.Errorf("Err() = %v, want %s", c.Err(), wamp.CloseKilled)
	}
	select {
	case <-rejoined:
		t.Error("a killed session rejoined")
	case <-time.After(100 * time.Millisecond):
	}
}
