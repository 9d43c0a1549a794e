// Package dynamic is what authentication (realm/authn) and authorization (realm/authz) share
// when a realm delegates a decision to a procedure: the Caller through which the router calls
// it, and the Failure a peer gets when that call goes wrong.
//
// A realm implements Caller with its own trusted in-process session (realm/local.go), so a
// dynamic authenticator or authorizer is any WAMP callee registered in the realm.
package dynamic
