package authn

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"

	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// scramAuth is WAMP-SCRAM (RFC 5802 with SHA-256, argon2id or pbkdf2 as the KDF). HELLO
// brings the client nonce; the CHALLENGE extends it with a fresh server nonce and tells the
// salt and KDF parameters; the AUTHENTICATE's signature is the ClientProof, checked against
// the StoredKey; WELCOME's authextra.verifier is the ServerSignature. The AuthMessage of the
// spec is checked first, then (without channel binding) the one Autobahn|Python computes.
type scramAuth struct{}

// scramSecret is a principal's SCRAM credential and its salt as configured (base64 text,
// which goes into the CHALLENGE and the AuthMessage as is).
type scramSecret struct {
	cred *auth.ScramCredential
	salt string
}

func (scramAuth) authenticate(q *authRequest) (*identity, error) {
	clientNonce, _ := q.extra.String("nonce")
	if raw, err := base64.StdEncoding.DecodeString(clientNonce); err != nil || len(raw) < 8 {
		return nil, skipMethod("wamp-scram needs HELLO.Details.authextra.nonce: at least 8 random bytes, base64")
	}
	binding, _ := q.extra.String("channel_binding")
	var cbData []byte
	if binding != "" {
		var err error
		if cbData, err = auth.ChannelBinding(q.s.Peer().Details().TLS, binding); err != nil {
			return nil, authFailed("wamp-scram: %v", err)
		}
	}
	var id *identity
	var secret *scramSecret
	if p := q.a.principals[q.authID]; q.authID != "" && p != nil && p.scram != nil {
		id, secret = &identity{authID: p.authID, role: p.role}, p.scram
	} else if q.a.dynamicFor("wamp-scram") {
		ans, err := q.a.callAuthenticator(q, nil)
		if err != nil {
			return nil, err
		}
		if ans.scram == nil {
			return nil, authFailed("the dynamic authenticator gave no wamp-scram credential for %q", q.authID)
		}
		id, secret = &ans.identity, ans.scram
	} else {
		return nil, errNoPrincipal
	}
	serverNonce := make([]byte, 18)
	rand.Read(serverNonce)
	nonce := clientNonce + base64.StdEncoding.EncodeToString(serverNonce)
	p := secret.cred.ScramParams
	extra := wamp.Dict{"nonce": nonce, "salt": secret.salt, "kdf": p.KDF, "iterations": p.Iterations}
	if p.KDF != auth.KDFPBKDF2 {
		extra["memory"] = p.Memory
	}
	if binding != "" {
		extra["channel_binding"] = binding
	}
	a, err := q.challenge(extra)
	if err != nil {
		return nil, err
	}
	if err := checkScramAnswer(a.Extra, nonce, binding, cbData); err != nil {
		return nil, authFailed("wamp-scram: %v", err)
	}
	proof, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil {
		return nil, authFailed("wamp-scram: the proof is not base64")
	}
	x := auth.ScramExchange{AuthID: q.authID, ClientNonce: clientNonce, Nonce: nonce, Salt: secret.salt,
		Iterations: p.Iterations, ChannelBinding: binding, CBindData: cbData}
	msg, err := x.AuthMessage()
	if err != nil {
		return nil, authFailed("wamp-scram: %v", err)
	}
	ok := auth.ScramVerifyProof(secret.cred.StoredKey, msg, proof)
	if !ok && binding == "" {
		msg, _ = x.AutobahnAuthMessage()
		ok = auth.ScramVerifyProof(secret.cred.StoredKey, msg, proof)
	}
	if !ok {
		return nil, authFailed("wrong wamp-scram proof for %q", q.authID)
	}
	sig := auth.ScramServerSignature(secret.cred.ServerKey, msg)
	id.extra = wamp.Dict{"verifier": auth.ScramVerifier(sig),
		"scram_server_signature": base64.StdEncoding.EncodeToString(sig)}
	return id, nil
}

// checkScramAnswer checks the AUTHENTICATE's extra: the nonce (when sent; Autobahn|Python
// sends none, and the proof covers it anyway), the channel binding type and its data.
func checkScramAnswer(extra wamp.Dict, nonce, binding string, cbData []byte) error {
	if n, ok := extra.String("nonce"); ok && n != nonce {
		return errors.New("AUTHENTICATE nonce is not the CHALLENGE's")
	}
	if b, _ := extra.String("channel_binding"); b != "" && b != binding {
		return errors.New("AUTHENTICATE channel_binding differs from HELLO's")
	}
	if binding == "" {
		return nil
	}
	text, _ := extra.String("cbind_data")
	data, err := base64.StdEncoding.DecodeString(text)
	if err != nil || subtle.ConstantTimeCompare(data, cbData) != 1 {
		return errors.New("channel binding data do not match this connection")
	}
	return nil
}
