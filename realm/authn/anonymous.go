package authn

import (
	"math/rand/v2"
)

// anonymousAuth admits anyone, with the realm's anonymous role, or asks the dynamic
// authenticator (which sees the cookies and headers) when it handles "anonymous".
type anonymousAuth struct{}

func (anonymousAuth) authenticate(q *authRequest) (*identity, error) {
	if q.a.dynamicFor("anonymous") {
		ans, err := q.a.callAuthenticator(q, nil)
		if err != nil {
			return nil, err
		}
		if ans.authID == "" {
			ans.authID = anonymousAuthID()
		}
		return &ans.identity, nil
	}
	return &identity{authID: anonymousAuthID(), role: q.a.opts.AnonymousRole}, nil
}

// anonymousAuthID makes an authid for an anonymous peer, in Crossbar.io's style (XXXX-XXXX-XXXX).
func anonymousAuthID() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	id := rand.Uint64()
	var b [14]byte
	for i := range b {
		if i == 4 || i == 9 {
			b[i] = '-'
			continue
		}
		b[i] = alphabet[id%uint64(len(alphabet))]
		id /= uint64(len(alphabet))
	}
	return string(b[:])
}
