// Package dispatch is the typed dispatch table both sides of a WAMP session use: a table from
// message type to handler, filled with On, so that each message reaches its handler as its own
// Go type instead of going through a switch on the wire.
//
// The router side's table (session.Handlers, a Table[*session.Session]) is built by each realm;
// the Go client's (a Table[*client.Client]) by package client. It lives in a package of its
// own so that both can import it: client does not import the router side.
package dispatch
