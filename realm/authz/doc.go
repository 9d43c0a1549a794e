// Package authz decides what a realm's sessions may do: call, register, publish (and
// retain), subscribe. A realm's roles (Role, from its YAML "roles") grant Permissions by URI —
// exact, prefix or wildcard — and a role may name an authorizer procedure, asked (and its
// answers cached per session) about what no rule covers.
//
// Start with Authorizer: New builds one from a realm's roles; Guard wraps a realm's dispatch
// table so that CALL, REGISTER, PUBLISH and SUBSCRIBE reach the broker and dealer only when
// Authorize allows them. A realm swaps in a new Authorizer when it is reconfigured; Guard
// asks for the current one on every request, so the swap needs no lock.
//
// Files: config.go (Role, Permission, Validate), authorizer.go (rules and decisions),
// guard.go (the handler wrappers), overlap.go (URI pattern overlap), dynamic.go (authorizer
// procedures and their cache).
//
// Authorize runs on every CALL, REGISTER, PUBLISH and SUBSCRIBE: a rule lookup allocates
// nothing and takes no lock; only a dynamic authorizer's answer (cached) does.
package authz
