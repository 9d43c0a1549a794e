package authz

import (
	"context"
	"time"

	"github.com/pawl-wamp/pawl/realm/internal/dynamic"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

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
	d       Decision
	expires time.Time
}

// maxCachedPerSession bounds one session's cache; when full, expired entries go first, then
// everything.
const maxCachedPerSession = 1024

// authorizeDynamic asks a role's authorizer procedure, as
//
//	authorizer(session, uri, action, options)
//
// with the session's details (session, authid, authrole, authmethod, authprovider,
// transport), and caches the answer for the session. The answer is a bool, or a dict
// {allow: bool, disclose: bool, cache: bool}. It runs on the requesting session's goroutine,
// so its requests stay in order; other sessions carry on.
func (a *Authorizer) authorizeDynamic(s *session.Session, rc *Role, action string, uri wamp.URI, match string, options wamp.Dict) Decision {
	key := authzKey{action: action, uri: uri, match: match}
	now := time.Now()
	a.cacheMu.Lock()
	if c := a.cache[s]; c != nil {
		if e, ok := c.entries[key]; ok && now.Before(e.expires) {
			a.cacheMu.Unlock()
			return e.d
		}
	}
	a.cacheMu.Unlock()

	timeout := rc.AuthorizerTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(s.Context(), timeout)
	defer cancel()
	if options == nil {
		options = wamp.Dict{}
	}
	details := session.Describe(s)
	details["realm"] = string(a.realm)
	res, err := dynamic.Call(ctx, a.caller, rc.Authorizer, wamp.List{details, string(uri), action, options})
	if err != nil {
		f := dynamic.FailureOf(a.log, dynamic.Authorizer, rc.Authorizer, err)
		return Decision{Reason: f.URI, Message: f.Message}
	}
	d := Decision{Reason: wamp.ErrNotAuthorized,
		Message: "authorizer " + string(rc.Authorizer) + " denied " + action + " " + string(uri)}
	cache := true
	var v any
	if len(res) > 0 {
		v = res[0]
	}
	switch v := v.(type) {
	case bool:
		d.Allow = v
	case wamp.Dict:
		d.Allow, _ = v.Bool("allow")
		d.Disclose, _ = v.Bool("disclose")
		if c, ok := v.Bool("cache"); ok {
			cache = c
		}
	default:
		a.log.Warn("dynamic authorizer answered nonsense", "procedure", rc.Authorizer, "answer", v)
		return Decision{Reason: wamp.ErrAuthorizationFailed, Message: "authorizer " + string(rc.Authorizer) + " gave no answer"}
	}
	ttl := rc.AuthorizerCache
	if ttl == 0 {
		ttl = time.Minute
	}
	if cache && ttl > 0 {
		a.cacheMu.Lock()
		c := a.cache[s]
		if c == nil {
			c = &authzCache{entries: map[authzKey]authzEntry{}}
			a.cache[s] = c
		}
		if len(c.entries) >= maxCachedPerSession {
			for k, e := range c.entries {
				if !now.Before(e.expires) {
					delete(c.entries, k)
				}
			}
			if len(c.entries) >= maxCachedPerSession {
				clear(c.entries)
			}
		}
		c.entries[key] = authzEntry{d: d, expires: now.Add(ttl)}
		a.cacheMu.Unlock()
	}
	return d
}
