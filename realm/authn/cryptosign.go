package authn

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// cryptosignAuth is WAMP-Cryptosign: HELLO.Details.authextra.pubkey names an Ed25519 key the
// realm knows (statically, or vouched for by the dynamic authenticator); the CHALLENGE is 32
// fresh random bytes; the peer signs them (XORed with the TLS channel ID when it asked for
// channel binding).
type cryptosignAuth struct{}

func parsePubkey(s string) (ed25519.PublicKey, error) {
	return auth.ParsePublicKey(strings.ToLower(s))
}

func (cryptosignAuth) authenticate(q *authRequest) (*identity, error) {
	pubHex, _ := q.extra.String("pubkey")
	pub, err := parsePubkey(pubHex)
	if err != nil {
		return nil, skipMethod("cryptosign needs HELLO.Details.authextra.pubkey: an Ed25519 public key, 32 bytes hex")
	}
	binding, _ := q.extra.String("channel_binding")
	var channelID []byte
	if binding != "" {
		data, err := auth.ChannelBinding(q.s.Peer().Details().TLS, binding)
		if err != nil {
			return nil, authFailed("cryptosign: %v", err)
		}
		channelID = auth.CryptosignChannelID(data)
	}
	var id *identity
	switch p := q.a.principals[q.authID]; {
	case q.authID != "" && p != nil && len(p.pubkeys) > 0:
		if !hasKey(p.pubkeys, pub) {
			return nil, authFailed("public key %s is not registered for %q", hex.EncodeToString(pub), q.authID)
		}
		id = &identity{authID: p.authID, role: p.role}
	case q.authID == "" && q.a.byPubkey[hex.EncodeToString(pub)] != nil:
		p := q.a.byPubkey[hex.EncodeToString(pub)]
		id = &identity{authID: p.authID, role: p.role}
	case q.a.dynamicFor("cryptosign"):
		ans, err := q.a.callAuthenticator(q, nil)
		if err != nil {
			return nil, err
		}
		if len(ans.pubkeys) > 0 && !hasKey(ans.pubkeys, pub) {
			return nil, authFailed("public key %s is not registered for %q", hex.EncodeToString(pub), q.authID)
		}
		id = &ans.identity
	default:
		return nil, errNoPrincipal
	}
	if id.authID == "" {
		id.authID = hex.EncodeToString(pub)
	}
	challenge := make([]byte, auth.CryptosignChallengeSize)
	rand.Read(challenge)
	extra := wamp.Dict{"challenge": hex.EncodeToString(challenge), "channel_binding": nil}
	if binding != "" {
		extra["channel_binding"] = binding
	}
	a, err := q.challenge(extra)
	if err != nil {
		return nil, err
	}
	if err := auth.CryptosignVerify(pub, challenge, channelID, a.Signature); err != nil {
		return nil, authFailed("%v", err)
	}
	return id, nil
}

func hasKey(keys []ed25519.PublicKey, k ed25519.PublicKey) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}
