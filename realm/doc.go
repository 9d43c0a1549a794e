// Package realm owns realms and wires them: each realm's sessions, broker and dealer, and the
// packages beneath it that authenticate, authorize and serve the meta API. The Router admits
// sessions to the realm HELLO names (it is the session layer's Gate) and mounts the whole
// stack on any http.ServeMux path (WebSocketHandler) or RawSocket listener.
//
// Where to look:
//
//   - router.go, endpoint.go, endpoint_rawsocket.go: the Router, admission, the endpoints,
//     Shutdown;
//   - realm.go, config.go, sessions.go: a Realm, its configuration, its dispatch table and its
//     session table;
//   - security.go: the realm's authentication (realm/authn) and authorization (realm/authz),
//     built from its configuration and swapped whole by Reconfigure (reconfigure.go), and the
//     dynamic.Caller through which both call the realm's dynamic authenticators and
//     authorizers;
//   - procedures.go: the router's own procedures — the broker's and dealer's meta API and the
//     session and testament meta API (realm/meta) — and the features WELCOME announces;
//   - limits.go: what one session may make a realm hold, and the URI checks;
//   - cluster.go: what a realm does as a node of a cluster (package cluster): session IDs
//     from the node (Membership), refusing work while the node is cut off, the session
//     directory shared with the other nodes (meta.Directory), CloseAll;
//   - observe.go: what an operator's view (realm/admin) reads: authentications, slow
//     consumers;
//   - local.go: in-process clients (Router.LocalClient, Router.ServiceClient) over
//     transport/memory, which the router also uses for its own calls to dynamic
//     authenticators and authorizers. They stay here because they are the Router's own
//     endpoint: its session host serves them and its gate admits them.
//
// The packages beneath realm never see a *Realm: authn and authz get a dynamic.Caller and
// their part of the configuration, meta gets the session table (meta.Sessions), the broker
// (meta.Publisher), a settings snapshot and the current authz.Authorizer. A feature that
// needs only the Router's exported API belongs in a package of its own beneath realm/ too
// (as the admin endpoints, realm/admin, and the HTTP bridge, realm/httpbridge, do).
package realm
