package realm_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp"
)

// Reconfigure changes who may log in and what every session may do, without dropping one.
func TestReconfigure(t *testing.T) {
	yes := true
	cfg := func(canPublish bool, principals ...authn.Principal) realm.Config {
		return realm.Config{Name: "realm1", Anonymous: &yes, Auth: authn.Config{Principals: principals},
			Roles: []authz.Role{
				{Name: "anonymous", Permissions: []authz.Permission{{URI: "com.example.", Match: "prefix", Subscribe: true, Publish: canPublish}}},
				{Name: "user", Permissions: []authz.Permission{{URI: "com.example.", Match: "prefix", Publish: true}}},
			}}
	}
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{cfg(false)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old, err := client.Dial(ctx, r.URL, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	publish := func() error {
		return old.Publish(ctx, "com.example.news", wamp.Dict{"acknowledge": true}, wamp.List{1}, nil)
	}
	var ae *wamp.ApplicationError
	if err := publish(); !errors.As(err, &ae) || ae.URI != wamp.ErrNotAuthorized {
		t.Fatalf("publish before: %v, want not_authorized", err)
	}
	peter := client.Options{AuthID: "peter", Credentials: client.Credentials{Secret: "s3cret"}}
	if _, err := client.Dial(ctx, r.URL, "realm1", peter); err == nil {
		t.Fatal("peter logged in before he was configured")
	}

	restart, err := r.Realm.Reconfigure(cfg(true, authn.Principal{AuthID: "peter", Role: "user",
		WAMPCRA: &authn.CRACredential{Secret: "s3cret"}}))
	if err != nil || len(restart) > 0 {
		t.Fatalf("Reconfigure: %v, restart needed for %v", err, restart)
	}
	if err := publish(); err != nil {
		t.Errorf("publish after: %v", err)
	}
	c, err := client.Dial(ctx, r.URL, "realm1", peter)
	if err != nil {
		t.Fatalf("peter after: %v", err)
	}
	if role, _ := c.Welcome().String("authrole"); role != "user" {
		t.Errorf("peter's authrole %q, want user", role)
	}
	c.Close()

	strict := cfg(true)
	strict.StrictURIs = true
	if restart, err := r.Realm.Reconfigure(strict); err != nil || !slices.Equal(restart, []string{"strict_uris"}) {
		t.Errorf("changing strict_uris: %v %v, want a restart for strict_uris", restart, err)
	}
	if _, err := r.Realm.Reconfigure(realm.Config{Name: "realm2"}); err == nil {
		t.Error("reconfigured realm1 as realm2")
	}
	select {
	case <-old.Done():
		t.Fatalf("a session was dropped: %v", old.Err())
	default:
	}
}
