package realm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp"
)

// A service client joins with the role it is given and is authorized like any session of
// that role: it is not trusted, unlike a LocalClient.
func TestServiceClientIsAuthorizedAsItsRole(t *testing.T) {
	leakcheck.Check(t)
	cfg := realm.Config{Name: "realm1", Auth: authn.Config{Dynamic: &authn.Dynamic{Procedure: "com.example.authenticate", Methods: []string{"ticket"}}},
		Roles: []authz.Role{{Name: "reader", Permissions: []authz.Permission{{URI: "com.example.", Match: "prefix", Subscribe: true, Register: true}}}}}
	rt := realm.NewRouter(nil, realm.New(cfg, nil))
	defer rt.Shutdown(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := rt.ServiceClient(ctx, "realm1", "", client.Options{}); err == nil {
		t.Error("a service client without a role joined")
	}
	c, err := rt.ServiceClient(ctx, "realm1", "reader", client.Options{AuthID: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := c.Welcome()
	if w["authid"] != "svc" || w["authrole"] != "reader" || w["authmethod"] != "local" {
		t.Errorf("WELCOME %v, want authid svc, authrole reader, authmethod local", w)
	}
	var ae *wamp.ApplicationError
	err = c.Publish(ctx, "com.example.news", wamp.Dict{"acknowledge": true}, nil, nil)
	if !errors.As(err, &ae) || ae.URI != wamp.ErrNotAuthorized {
		t.Errorf("publish: %v, want not_authorized", err)
	}
	if _, err := c.Subscribe(ctx, "com.example.news", func(*client.Event) {}, nil); err != nil {
		t.Errorf("subscribe: %v", err)
	}
	// Only trusted sessions may register the dynamic authenticator.
	_, err = c.Register(ctx, "com.example.authenticate", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{}, nil
	}, nil)
	if !errors.As(err, &ae) || ae.URI != wamp.ErrNotAuthorized {
		t.Errorf("register the authenticator: %v, want not_authorized", err)
	}
	// A LocalClient is trusted, and may.
	local, err := rt.LocalClient(ctx, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if _, err := local.Register(ctx, "com.example.authenticate", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Errorf("a trusted LocalClient registering the authenticator: %v", err)
	}
}
