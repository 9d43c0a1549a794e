// Package meta is a realm's session and testament meta API: the procedures
// wamp.session.count, list, get, kill, kill_by_authid, kill_by_authrole, kill_all,
// add_testament and flush_testaments; the events wamp.session.on_join and on_leave; and the
// testaments published for a session once it has left. GuardHistory makes the broker's event
// history procedures answer only sessions that may subscribe to what they ask about.
//
// Start with API: New connects it to its realm through small interfaces — Sessions (the
// realm's session table), Publisher (its broker), Settings and the current
// authz.Authorizer — so it never holds the realm itself. The realm calls Joined, Left and
// PublishTestaments as sessions come and go, and serves Procedures among its own.
//
// Files: api.go (API, Options, the interfaces), session.go (the session procedures and
// events), testament.go (testaments), history.go (the history guard).
//
// Nothing here runs per message: only the meta procedures and session joins and leaves.
package meta
