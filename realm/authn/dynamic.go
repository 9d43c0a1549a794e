package authn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/pawl-wamp/pawl/realm/internal/dynamic"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// dynamicAnswer is what a dynamic authenticator said: the identity and, for the
// challenge-response methods, the credentials to check the peer's answer against.
type dynamicAnswer struct {
	identity
	cra     *CRACredential
	scram   *scramSecret
	pubkeys []ed25519.PublicKey
}

// callAuthenticator calls the realm's dynamic authenticator as
//
//	procedure(realm, authid, details)
//
// with details {realm, authid, authmethod, authextra, session, transport} plus more (ticket:
// the ticket the peer sent). It runs on the joining connection's goroutine and waits at most
// the configured timeout; other sessions' handshakes are not held up.
func (a *Authenticator) callAuthenticator(q *authRequest, more map[string]any) (*dynamicAnswer, error) {
	d := a.dynamic
	extra := q.extra
	if extra == nil {
		extra = wamp.Dict{}
	}
	details := wamp.Dict{"realm": string(a.opts.Realm), "authid": q.authID, "authmethod": CanonicalMethod(q.method),
		"authextra": extra, "session": q.s.ID, "transport": q.transport}
	for k, v := range more {
		details[k] = v
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(q.s.Context(), timeout)
	defer cancel()
	res, err := dynamic.Call(ctx, a.opts.Caller, d.Procedure, wamp.List{string(a.opts.Realm), q.authID, details})
	if err != nil {
		f := dynamic.FailureOf(a.log, dynamic.Authenticator, d.Procedure, err)
		return nil, &session.AbortError{Reason: f.URI, Message: f.Message}
	}
	var v any
	if len(res) > 0 {
		v = res[0]
	}
	ans, err := parseDynamicAnswer(v, q.authID)
	if err != nil {
		a.log.Warn("dynamic authenticator answered nonsense", "procedure", d.Procedure, "err", err)
		return nil, authFailed("dynamic authenticator %s: %v", d.Procedure, err)
	}
	return ans, nil
}

// parseDynamicAnswer reads an authenticator's answer: a role (string), or a dict with role
// and optionally authid, provider, extra (WELCOME's authextra), and the credentials of the
// method: secret, or key+salt+iterations+keylen (wampcra); kdf, salt, iterations, memory,
// stored_key, server_key (wamp-scram); pubkey or pubkeys (cryptosign).
func parseDynamicAnswer(v any, authID string) (*dynamicAnswer, error) {
	ans := &dynamicAnswer{identity: identity{authID: authID, provider: "dynamic"}}
	switch v := v.(type) {
	case string:
		ans.role = v
	case wamp.Dict:
		ans.role, _ = v.String("role")
		if id, ok := v.String("authid"); ok && id != "" {
			ans.authID = id
		}
		if p, ok := v.String("provider"); ok && p != "" {
			ans.provider = p
		}
		ans.extra, _ = v.Dict("extra")
		str := func(k string) string { s, _ := v.String(k); return s }
		num := func(k string) int { n, _ := v.Int(k); return int(n) }
		if _, ok := v["secret"]; ok || str("key") != "" {
			ans.cra = &CRACredential{Secret: str("secret"), Key: str("key"), Salt: str("salt"),
				Iterations: num("iterations"), KeyLen: num("keylen")}
			if _, err := ans.cra.key(); err != nil {
				return nil, err
			}
		}
		if str("stored_key") != "" {
			sc := &SCRAMCredential{KDF: str("kdf"), Salt: str("salt"), Iterations: num("iterations"),
				Memory: num("memory"), StoredKey: str("stored_key"), ServerKey: str("server_key")}
			cred, err := sc.credential()
			if err != nil {
				return nil, err
			}
			ans.scram = &scramSecret{cred: cred, salt: sc.Salt}
		}
		keys := []any{}
		if k, ok := v["pubkey"]; ok {
			keys = append(keys, k)
		}
		if list, ok := v["pubkeys"].(wamp.List); ok {
			keys = append(keys, list...)
		}
		for _, k := range keys {
			s, _ := k.(string)
			pub, err := parsePubkey(s)
			if err != nil {
				return nil, err
			}
			ans.pubkeys = append(ans.pubkeys, pub)
		}
	default:
		return nil, fmt.Errorf("answer %T: want a role (string) or a dict with role", v)
	}
	if ans.role == "" {
		return nil, errors.New("no role in the answer")
	}
	return ans, nil
}
