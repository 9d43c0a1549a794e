package realm

import "github.com/pawl-wamp/pawl/wamp/auth"

// ticketAuth is WAMP ticket authentication: CHALLENGE "ticket" {}, and the AUTHENTICATE's
// signature is the ticket, checked against the principal's stored hash or by the dynamic
// authenticator (which gets it as details.ticket).
type ticketAuth struct{}

func (ticketAuth) authenticate(q *authRequest) (*identity, error) {
	p := q.sec.principals[q.authID]
	static := q.authID != "" && p != nil && p.ticket != ""
	if !static && !q.sec.dynamicFor("ticket") {
		return nil, errNoPrincipal
	}
	a, err := q.challenge(nil)
	if err != nil {
		return nil, err
	}
	if !static {
		ans, err := q.r.callAuthenticator(q, map[string]any{"ticket": a.Signature})
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
		q.r.log.Error("stored ticket hash unusable", "authid", p.authID, "err", res.err)
	}
	if !res.ok {
		return nil, authFailed("wrong ticket for %q", q.authID)
	}
	return &identity{authID: p.authID, role: p.role}, nil
}
