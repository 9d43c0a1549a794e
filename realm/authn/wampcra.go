package authn

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// craAuth is WAMP-CRA: the CHALLENGE carries a JSON challenge (fresh nonce, timestamp, the
// session ID and the identity the peer will get), and the peer answers with
// base64(HMAC-SHA256(key, challenge)), where key is the shared secret or, when the principal's
// secret is salted, the key derived from it (the CHALLENGE then says salt, keylen, iterations).
type craAuth struct{}

// craChallenge is the challenge string's object, in the spec's field order.
type craChallenge struct {
	AuthID       string  `json:"authid"`
	AuthRole     string  `json:"authrole"`
	AuthMethod   string  `json:"authmethod"`
	AuthProvider string  `json:"authprovider"`
	Nonce        string  `json:"nonce"`
	Timestamp    string  `json:"timestamp"`
	Session      wamp.ID `json:"session"`
}

func (craAuth) authenticate(q *authRequest) (*identity, error) {
	var id *identity
	var cred *CRACredential
	if p := q.a.principals[q.authID]; q.authID != "" && p != nil && p.cra != nil {
		id, cred = &identity{authID: p.authID, role: p.role, provider: "static"}, p.cra
	} else if q.a.dynamicFor("wampcra") {
		ans, err := q.a.callAuthenticator(q, nil)
		if err != nil {
			return nil, err
		}
		if ans.cra == nil {
			return nil, authFailed("the dynamic authenticator gave no wampcra secret for %q", q.authID)
		}
		id, cred = &ans.identity, ans.cra
	} else {
		return nil, errNoPrincipal
	}
	key, err := cred.key()
	if err != nil {
		q.a.log.Error("wampcra credential unusable", "authid", id.authID, "err", err)
		return nil, authFailed("wampcra is not available for %q", q.authID)
	}
	nonce := make([]byte, 24)
	rand.Read(nonce)
	text, _ := json.Marshal(craChallenge{AuthID: id.authID, AuthRole: id.role, AuthMethod: "wampcra",
		AuthProvider: id.provider, Nonce: base64.StdEncoding.EncodeToString(nonce),
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), Session: q.s.ID})
	extra := wamp.Dict{"challenge": string(text)}
	cred.challengeExtra(extra)
	a, err := q.challenge(extra)
	if err != nil {
		return nil, err
	}
	if !auth.CRAVerify(key, string(text), a.Signature) {
		return nil, authFailed("wrong wampcra signature for %q", q.authID)
	}
	return id, nil
}
