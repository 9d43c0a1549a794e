package authn

import (
	"runtime"

	"github.com/pawl-wamp/pawl/wamp/auth"
)

// ticketAuth is WAMP ticket authentication: CHALLENGE "ticket" {}, and the AUTHENTICATE's
// signature is the ticket, checked against the principal's stored hash or by the dynamic
// authenticator (which gets it as details.ticket).
type ticketAuth struct{}

func (ticketAuth) authenticate(q *authRequest) (*identity, error) {
	p := q.a.principals[q.authID]
	static := q.authID != "" && p != nil && p.ticket != ""
	if !static && !q.a.dynamicFor("ticket") {
		return nil, errNoPrincipal
	}
	a, err := q.challenge(nil)
	if err != nil {
		return nil, err
	}
	if !static {
		ans, err := q.a.callAuthenticator(q, map[string]any{"ticket": a.Signature})
		if err != nil {
			return nil, err
		}
		return &ans.identity, nil
	}
	type result struct {
		ok  bool
		err error
	}
	res := withVerifySlot(func() result {
		ok, err := auth.VerifySecret(p.ticket, a.Signature)
		return result{ok, err}
	})
	if res.err != nil {
		q.a.log.Error("stored ticket hash unusable", "authid", p.authID, "err", res.err)
	}
	if !res.ok {
		return nil, authFailed("wrong ticket for %q", q.authID)
	}
	return &identity{authID: p.authID, role: p.role}, nil
}

// verifySlots bounds the password hashes computed at once (each takes memory and CPU), so a
// flood of logins cannot exhaust the router.
var verifySlots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// withVerifySlot runs f while holding one of the verification slots.
func withVerifySlot[T any](f func() T) T {
	verifySlots <- struct{}{}
	defer func() { <-verifySlots }()
	return f()
}
