package session_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/routertest"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/wamp"
)

// Behind a trusted reverse proxy (here the test itself on 127.0.0.1, sending the proxy's
// X-Forwarded-For), the client address it forwards is the one the dynamic authenticator sees
// in details.transport and the one wamp.session.get reports, and the authentication rate
// limit counts it: a client that guessed wrong behind the proxy does not lock out another
// client behind the same proxy.
func TestTrustedProxyClientAddress(t *testing.T) {
	cfg := dynamicRealm()
	cfg.Auth.RateLimit = authn.RateLimit{Burst: 1, Refill: 1e12, Delay: -1}
	r := routertest.Start(t, routertest.Options{Realms: []realm.Config{cfg},
		Endpoint: realm.EndpointOptions{Transport: websocket.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}})
	ctx := ctxT(t)
	backend, err := r.LocalClient(ctx, "realm1", client.Options{AuthID: "authenticator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	peers := make(chan string, 4)
	_, err = backend.Register(ctx, "com.example.authenticate", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		details, _ := inv.Args[2].(wamp.Dict)
		tr, _ := details.Dict("transport")
		peer, _ := tr.String("peer")
		peers <- peer
		if ticket, _ := details.String("ticket"); ticket != "right" {
			return nil, wamp.NewError(wamp.ErrAuthenticationFailed, "wrong ticket")
		}
		return &client.Result{Args: wamp.List{"user"}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	behindProxy := func(from, ticket string) (*client.Client, error) {
		return client.Dial(ctx, r.URL, "realm1", client.Options{AuthID: "joe", AuthMethods: []string{"ticket"},
			Credentials: client.Credentials{Ticket: ticket}, Header: http.Header{"X-Forwarded-For": {from}}})
	}
	if _, err := behindProxy("198.51.100.7", "guess"); err == nil {
		t.Fatal("a wrong ticket was accepted")
	}
	if peer := <-peers; peer != "tcp4:198.51.100.7:0" {
		t.Errorf("the dynamic authenticator saw peer %q, want the forwarded client tcp4:198.51.100.7:0", peer)
	}
	c, err := behindProxy("203.0.113.9", "right")
	if err != nil {
		t.Fatalf("a client behind the same proxy is locked out by another's failure: %v", err)
	}
	defer c.Close()
	<-peers
	res, err := c.Call(ctx, "wamp.session.get", nil, wamp.List{c.ID()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	details, _ := res.Args[0].(wamp.Dict)
	tr, _ := details.Dict("transport")
	if peer, _ := tr.String("peer"); !strings.Contains(peer, "203.0.113.9:") {
		t.Errorf("wamp.session.get transport.peer = %q, want the forwarded client 203.0.113.9", peer)
	}
	if _, err := behindProxy("198.51.100.7", "right"); err == nil || !strings.Contains(err.Error(), "too many failed attempts") {
		t.Errorf("the guesser's own address and authid: %v, want refused by the rate limit", err)
	}
}
