// Package authn authenticates the peers that join a realm: it decides who a peer is from its
// HELLO and, for the challenge-response methods, from its answer to a CHALLENGE.
//
// Start with Authenticator: New builds one from a realm's Config (its YAML "auth": static
// Principals, a Dynamic authenticator procedure, a RateLimit) and Authenticate runs one
// handshake on the joining connection's goroutine. A realm swaps in a new Authenticator
// when it is reconfigured; the rate limiter carries over while its settings stay.
//
// One file per method: anonymous.go, ticket.go, wampcra.go, scram.go (WAMP-SCRAM),
// cryptosign.go; the cryptography itself is in wamp/auth. Beside them: config.go (what the
// YAML holds, and Validate), dynamic.go (calling a dynamic authenticator and reading its
// answer), ratelimit.go (the failure limiter), transport.go (what authenticators learn about
// the peer's connection).
//
// The router's own in-process clients are not authenticated here: realm admits them before
// asking the Authenticator (realm/local.go).
package authn
