// Package session is the router side of the WAMP session layer: the handshake and state
// machine of each session, and typed dispatch of each message to a handler registered for its
// type. The Go client, the same machine seen from the other side, is package client.
//
// A Host serves sessions over any transport (Host.ServePeer takes a peer.Peer): it waits for
// HELLO, lets a Gate (realm.Router) admit the session, possibly after CHALLENGE/AUTHENTICATE
// rounds (Session.Challenge), answers WELCOME or ABORT, and then hands every message to the
// dispatch table of the Domain the session joined (a realm.Realm). GOODBYE, ABORT and
// protocol violations are handled here, in one place.
//
// A Session reaches its connection only through peer.Peer (session/peer), whatever the
// transport: the broker and dealer, which address sessions (Send, SendFrame), never see a
// transport. Each session has a context (Session.Context) that ends with it.
package session
