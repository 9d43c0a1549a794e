package realm

import (
	"strings"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/internal/uriindex"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// Actions that need authorization.
const (
	actionCall      = "call"
	actionRegister  = "register"
	actionPublish   = "publish"
	actionSubscribe = "subscribe"
	actionRetain    = "retain" // a publication that asks to be retained (Permission.Retain)
)

// authorizer decides what sessions may do, from the realm's roles. It is consulted by
// decorators around the realm's handlers (initAuthz), never by the broker or dealer.
type authorizer struct {
	enabled  bool // the realm lists roles: unlisted roles may do nothing
	roles    map[string]*role
	reserved []wamp.URI // procedures only trusted sessions may register

	cacheMu sync.Mutex
	cache   map[*session.Session]*authzCache // dynamic authorizer answers, per session
}

// role is a compiled RoleConfig.
type role struct {
	name    string
	trusted bool
	perms   *uriindex.Index[*Permission]
	rules   []*Permission
	dynamic *RoleConfig // with an authorizer procedure
}

// decision is the outcome of an authorization: allowed, and whether the caller's or
// publisher's identity must be disclosed.
type decision struct {
	allow    bool
	disclose bool
	reason   wamp.URI // when denied: not_authorized, or what the authorizer said
	message  string
}

func newAuthorizer(cfg Config) *authorizer {
	a := &authorizer{enabled: len(cfg.Roles) > 0, roles: map[string]*role{},
		cache: map[*session.Session]*authzCache{}}
	for i := range cfg.Roles {
		rc := &cfg.Roles[i]
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
	if d := cfg.Auth.Dynamic; d != nil {
		a.reserved = append(a.reserved, d.Procedure)
	}
	return a
}

// initAuthz wraps the realm's handlers for CALL, REGISTER, PUBLISH and SUBSCRIBE with the
// authorization check: a denied request never reaches the broker or dealer.
func (r *Realm) initAuthz() {
	h := &r.handlers
	if next, ok := h.Lookup(wamp.TypeCall); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Call) {
			d := r.authorize(s, actionCall, m.Procedure, wamp.MatchExact, m.Options)
			if !d.allow {
				s.SendError(wamp.TypeCall, m.Request, d.reason, d.message)
				return
			}
			if d.disclose {
				m.Options = withOption(m.Options, "disclose_me", true)
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypeRegister); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Register) {
			match := matchOf(m.Options)
			if !r.trusted(s) && r.sec().authz.reservedMatch(m.Procedure, match) {
				r.log.Warn("refused to let an untrusted session register a dynamic auth procedure",
					"session", s.ID, "authid", s.AuthID, "authrole", s.AuthRole, "procedure", m.Procedure)
				s.SendError(wamp.TypeRegister, m.Request, wamp.ErrNotAuthorized,
					"only trusted sessions may register "+string(m.Procedure))
				return
			}
			d := r.authorize(s, actionRegister, m.Procedure, match, m.Options)
			if !d.allow {
				s.SendError(wamp.TypeRegister, m.Request, d.reason, d.message)
				return
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypePublish); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Publish) {
			d := r.authorize(s, actionPublish, m.Topic, wamp.MatchExact, m.Options)
			if retain, _ := m.Options.Bool("retain"); retain && d.allow && !r.mayRetain(s, m.Topic) {
				d = decision{reason: wamp.ErrNotAuthorized,
					message: "authrole " + s.AuthRole + " may not retain events on " + string(m.Topic)}
			}
			if !d.allow {
				if ack, _ := m.Options.Bool("acknowledge"); ack {
					s.SendError(wamp.TypePublish, m.Request, d.reason, d.message)
				}
				return
			}
			if d.disclose {
				m.Options = withOption(m.Options, "disclose_me", true)
			}
			next(s, m)
		})
	}
	if next, ok := h.Lookup(wamp.TypeSubscribe); ok {
		dispatch.On(h, func(s *session.Session, m *wamp.Subscribe) {
			d := r.authorize(s, actionSubscribe, m.Topic, matchOf(m.Options), m.Options)
			if !d.allow {
				s.SendError(wamp.TypeSubscribe, m.Request, d.reason, d.message)
				return
			}
			next(s, m)
		})
	}
}

func matchOf(options wamp.Dict) string {
	if m, ok := options.String("match"); ok && m != "" {
		return m
	}
	return wamp.MatchExact
}

func withOption(options wamp.Dict, key string, v any) wamp.Dict {
	out := make(wamp.Dict, len(options)+1)
	for k, x := range options {
		out[k] = x
	}
	out[key] = v
	return out
}

// trusted reports whether a session bypasses authorization: an in-process session, or one
// whose role is marked trusted.
func (r *Realm) trusted(s *session.Session) bool {
	if s.AuthMethod == "trusted" { // set by the gate for local clients only
		return true
	}
	ro := r.sec().authz.roles[s.AuthRole]
	return ro != nil && ro.trusted
}

// authorize decides whether s may perform action on uri (a pattern, for subscriptions and
// registrations with match prefix or wildcard).
func (r *Realm) authorize(s *session.Session, action string, uri wamp.URI, match string, options wamp.Dict) decision {
	a := r.sec().authz
	if !a.enabled || r.trusted(s) {
		return decision{allow: true}
	}
	denied := decision{reason: wamp.ErrNotAuthorized,
		message: "authrole " + s.AuthRole + " may not " + action + " " + string(uri)}
	ro := a.roles[s.AuthRole]
	if ro == nil {
		return denied
	}
	if p, _, _, ok := ro.perms.Best(uri); ok {
		if !allows(p, action) || !ro.patternAllowed(action, uri, match) {
			return denied
		}
		return decision{allow: true, disclose: disclosure(p, action)}
	}
	if ro.dynamic != nil {
		return r.authorizeDynamic(s, ro.dynamic, action, uri, match, options)
	}
	return denied
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

// overlaps reports whether some URI could match both the pattern and the rule's pattern.
func overlaps(pattern wamp.URI, match string, rule wamp.URI, ruleMatch string) bool {
	if ruleMatch == "" {
		ruleMatch = wamp.MatchExact
	}
	p, r := string(pattern), string(rule)
	switch {
	case match == wamp.MatchPrefix && ruleMatch == wamp.MatchPrefix:
		return strings.HasPrefix(r, p) || strings.HasPrefix(p, r)
	case match == wamp.MatchPrefix && ruleMatch == wamp.MatchExact:
		return strings.HasPrefix(r, p)
	case match == wamp.MatchPrefix: // a wildcard rule
		return prefixMeetsWildcard(p, r)
	case match == wamp.MatchExact && ruleMatch == wamp.MatchPrefix:
		return strings.HasPrefix(p, r)
	case ruleMatch == wamp.MatchPrefix: // a wildcard pattern
		return prefixMeetsWildcard(r, p)
	}
	// Exact or wildcard against exact or wildcard: component by component.
	pc, rc := strings.Split(p, "."), strings.Split(r, ".")
	if len(pc) != len(rc) {
		return false
	}
	for i := range pc {
		if pc[i] != "" && rc[i] != "" && pc[i] != rc[i] {
			return false
		}
	}
	return true
}

// prefixMeetsWildcard reports whether some URI starts with prefix and matches the wildcard
// pattern (whose empty components match any one component).
func prefixMeetsWildcard(prefix, wildcard string) bool {
	pc, wc := strings.Split(prefix, "."), strings.Split(wildcard, ".")
	if len(pc) > len(wc) {
		return false
	}
	last := len(pc) - 1
	for i := 0; i < last; i++ {
		if wc[i] != "" && wc[i] != pc[i] {
			return false
		}
	}
	// The prefix's last component may be cut short.
	return wc[last] == "" || strings.HasPrefix(wc[last], pc[last])
}

// reservedMatch reports whether a registration would receive calls to one of the realm's
// dynamic auth procedures.
func (a *authorizer) reservedMatch(procedure wamp.URI, match string) bool {
	for _, u := range a.reserved {
		switch match {
		case wamp.MatchPrefix:
			if strings.HasPrefix(string(u), string(procedure)) {
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

// mayRetain reports whether s may make a publication it may send the topic's retained
// event: the rule's retain permission, which defaults to its publish permission. A dynamic
// authorizer is asked about "publish" only (Crossbar.io's authorizers know no "retain"), so
// what it lets publish may be retained.
func (r *Realm) mayRetain(s *session.Session, topic wamp.URI) bool {
	a := r.sec().authz
	if !a.enabled || r.trusted(s) {
		return true
	}
	ro := a.roles[s.AuthRole]
	if ro == nil {
		return false
	}
	if p, _, _, ok := ro.perms.Best(topic); ok {
		return allows(p, actionRetain)
	}
	return ro.dynamic != nil
}

func allows(p *Permission, action string) bool {
	switch action {
	case actionCall:
		return p.Call
	case actionRegister:
		return p.Register
	case actionPublish:
		return p.Publish
	case actionSubscribe:
		return p.Subscribe
	case actionRetain:
		if p.Retain != nil {
			return *p.Retain
		}
		return p.Publish
	}
	return false
}

func disclosure(p *Permission, action string) bool {
	switch action {
	case actionCall:
		return p.Disclose.Caller
	case actionPublish:
		return p.Disclose.Publisher
	}
	return false
}

// forgetAuthz drops what was cached about a session that left.
func (r *Realm) forgetAuthz(s *session.Session) {
	a := r.sec().authz
	a.cacheMu.Lock()
	delete(a.cache, s)
	a.cacheMu.Unlock()
}

// authzCache holds a session's dynamic authorization answers until they expire.
type authzCache struct {
	entries map[authzKey]authzEntry
}

type authzKey struct {
	action string
	uri    wamp.URI
	match  string
}

type authzEntry struct {
	d       decision
	expires time.Time
}

// maxCachedPerSession bounds one session's cache; when full, expired entries go first, then
// everything.
const maxCachedPerSession = 1024
