package authz

import (
	"log/slog"
	"sync"

	"github.com/pawl-wamp/pawl/internal/uriindex"
	"github.com/pawl-wamp/pawl/realm/internal/dynamic"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Actions that need authorization.
const (
	ActionCall      = "call"
	ActionRegister  = "register"
	ActionPublish   = "publish"
	ActionSubscribe = "subscribe"
	ActionRetain    = "retain" // a publication that asks to be retained (Permission.Retain)
)

// TrustedMethod is the authmethod of the router's trusted in-process sessions
// (realm.Router.LocalClient): they bypass authorization. Only the router's gate sets it.
const TrustedMethod = "trusted"

// Options configure an Authorizer.
type Options struct {
	// Realm is the realm's URI, given to authorizer procedures as details.realm.
	Realm wamp.URI
	// Roles are the realm's roles. Without roles every session may do everything; with roles,
	// a session whose role is not listed may do nothing.
	Roles []Role
	// Reserved are procedures only trusted sessions may register (beside the roles'
	// authorizers): the realm's dynamic authenticator.
	Reserved []wamp.URI
	// Caller calls authorizer procedures; without it, they fail.
	Caller dynamic.Caller
	// Logger logs refusals to register reserved procedures and authorizer failures.
	Logger *slog.Logger
}

// Authorizer decides what sessions may do, from the realm's roles. It is consulted by Guard's
// wrappers around the realm's handlers, never by the broker or dealer. It is never changed
// once built, except for its cache of authorizer answers.
type Authorizer struct {
	realm    wamp.URI
	caller   dynamic.Caller
	log      *slog.Logger
	enabled  bool // the realm lists roles: unlisted roles may do nothing
	roles    map[string]*role
	reserved []wamp.URI // procedures only trusted sessions may register

	cacheMu sync.Mutex
	cache   map[*session.Session]*authzCache // dynamic authorizer answers, per session
}

// role is a compiled Role.
type role struct {
	name    string
	trusted bool
	perms   *uriindex.Index[*Permission]
	rules   []*Permission
	dynamic *Role // with an authorizer procedure
}

// Decision is the outcome of an authorization: allowed, and whether the caller's or
// publisher's identity must be disclosed.
type Decision struct {
	Allow    bool
	Disclose bool
	Reason   wamp.URI // when denied: not_authorized, or what the authorizer said
	Message  string
}

// New compiles a realm's roles.
func New(opts Options) *Authorizer {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &Authorizer{realm: opts.Realm, caller: opts.Caller, log: log, enabled: len(opts.Roles) > 0,
		roles: map[string]*role{}, cache: map[*session.Session]*authzCache{}}
	for i := range opts.Roles {
		rc := &opts.Roles[i]
		ro := &role{name: rc.Name, trusted: rc.Trusted, perms: uriindex.New[*Permission]()}
		for j := range rc.Permissions {
			p := &rc.Permissions[j]
			match := p.Match
			if match == "" {
				match = wamp.MatchExact
			}
			ro.perms.Put(p.URI, match, p)
			ro.rules = append(ro.rules, p)
		}
		if rc.Authorizer != "" {
			ro.dynamic = rc
			a.reserved = append(a.reserved, rc.Authorizer)
		}
		a.roles[rc.Name] = ro
	}
	a.reserved = append(a.reserved, opts.Reserved...)
	return a
}

// Trusted reports whether a session bypasses authorization: an in-process session, or one
// whose role is marked trusted.
func (a *Authorizer) Trusted(s *session.Session) bool {
	if s.AuthMethod == TrustedMethod { // set by the gate for local clients only
		return true
	}
	ro := a.roles[s.AuthRole]
	return ro != nil && ro.trusted
}

// Authorize decides whether s may perform action on uri (a pattern, for subscriptions and
// registrations with match prefix or wildcard). options are the request's, which an
// authorizer procedure gets.
func (a *Authorizer) Authorize(s *session.Session, action string, uri wamp.URI, match string, options wamp.Dict) Decision {
	if !a.enabled || a.Trusted(s) {
		return Decision{Allow: true}
	}
	ro := a.roles[s.AuthRole]
	if ro == nil {
		return denied(s, action, uri)
	}
	if p, _, _, ok := ro.perms.Best(uri); ok {
		if !allows(p, action) || !ro.patternAllowed(action, uri, match) {
			return denied(s, action, uri)
		}
		return Decision{Allow: true, Disclose: disclosure(p, action)}
	}
	if ro.dynamic != nil {
		return a.authorizeDynamic(s, ro.dynamic, action, uri, match, options)
	}
	return denied(s, action, uri)
}

// denied is the refusal of a request no rule allows. Its message is built only then: an
// allowed request allocates nothing (TestAuthorizeAllocatesNothing).
func denied(s *session.Session, action string, uri wamp.URI) Decision {
	return Decision{Reason: wamp.ErrNotAuthorized,
		Message: "authrole " + s.AuthRole + " may not " + action + " " + string(uri)}
}

// patternAllowed checks, for a prefix or wildcard subscription or registration, that no rule
// for a narrower part of the pattern denies the action: subscribing to "com.example." must
// not deliver the events of a "com.example.secret." the role may not subscribe to.
func (ro *role) patternAllowed(action string, pattern wamp.URI, match string) bool {
	if match == wamp.MatchExact {
		return true
	}
	for _, p := range ro.rules {
		if !allows(p, action) && overlaps(pattern, match, p.URI, p.Match) {
			return false
		}
	}
	return true
}

// Reserved reports whether a registration would receive calls to one of the realm's
// dynamic auth procedures.
func (a *Authorizer) Reserved(procedure wamp.URI, match string) bool {
	for _, u := range a.reserved {
		switch match {
		case wamp.MatchPrefix:
			if hasPrefix(u, procedure) {
				return true
			}
		case wamp.MatchWildcard:
			if overlaps(procedure, wamp.MatchWildcard, u, wamp.MatchExact) {
				return true
			}
		default:
			if u == procedure {
				return true
			}
		}
	}
	return false
}

// MayRetain reports whether s may make a publication it may send the topic's retained
// event: the rule's retain permission, which defaults to its publish permission. A dynamic
// authorizer is asked about "publish" only (Crossbar.io's authorizers know no "retain"), so
// what it lets publish may be retained.
func (a *Authorizer) MayRetain(s *session.Session, topic wamp.URI) bool {
	if !a.enabled || a.Trusted(s) {
		return true
	}
	ro := a.roles[s.AuthRole]
	if ro == nil {
		return false
	}
	if p, _, _, ok := ro.perms.Best(topic); ok {
		return allows(p, ActionRetain)
	}
	return ro.dynamic != nil
}

func allows(p *Permission, action string) bool {
	switch action {
	case ActionCall:
		return p.Call
	case ActionRegister:
		return p.Register
	case ActionPublish:
		return p.Publish
	case ActionSubscribe:
		return p.Subscribe
	case ActionRetain:
		if p.Retain != nil {
			return *p.Retain
		}
		return p.Publish
	}
	return false
}

func disclosure(p *Permission, action string) bool {
	switch action {
	case ActionCall:
		return p.Disclose.Caller
	case ActionPublish:
		return p.Disclose.Publisher
	}
	return false
}

// Forget drops what was cached about a session that left.
func (a *Authorizer) Forget(s *session.Session) {
	a.cacheMu.Lock()
	delete(a.cache, s)
	a.cacheMu.Unlock()
}
