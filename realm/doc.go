// Package realm owns realms: their sessions, broker, dealer, authentication, authorization and
// meta API. A realm is the only place that knows all of them; the Router admits sessions to
// the realm HELLO names (it is the session layer's Gate) and mounts the whole stack on any
// http.ServeMux path (WebSocketHandler).
//
// Where to look:
//
//   - router.go, endpoint.go: the Router, admission, the WebSocket endpoint, Shutdown;
//   - realm.go, config.go: a Realm and its configuration, its dispatch table;
//   - auth*.go: authentication, one authenticator per method (ticket, wampcra, wamp-scram,
//     cryptosign, anonymous), static principals or a dynamic authenticator, and the
//     failure rate limiter; the cryptography is in wamp/auth;
//   - authz*.go: authorization, role permissions or a dynamic authorizer, wrapped around
//     the CALL, REGISTER, PUBLISH and SUBSCRIBE handlers;
//   - session_meta.go, testament.go, meta.go: the router's own procedures and meta events
//     (wamp.session.*, testaments);
//   - local.go: in-process clients (Router.LocalClient) over transport/memory, which the
//     router also uses for its own calls to dynamic authenticators and authorizers.
//
// These ideas still share package realm because each is a set of methods on *Realm that
// reads the same state: the realm's configuration, its session table, its broker and dealer,
// and the Router's in-process client for calls made on a session's behalf. Authentication
// and authorization call the router's own procedures through that client, and the meta API
// kills and lists the realm's sessions; giving each a package means first giving each an
// interface onto that state (a session table, a caller): the next step of issue 12's "one
// idea per package". A feature that needs only the Router's exported API belongs in a package
// of its own beneath realm/ (as the admin endpoints and the HTTP bridge do).
package realm
