// Package auth holds the cryptography of WAMP authentication, shared by the router (realm),
// the Go client (session) and the pawl binary's hash-secret command: WAMP-CRA signatures and
// salted keys, WAMP-SCRAM key derivation and proofs, WAMP-Cryptosign challenge signatures,
// TLS channel bindings, SASLprep, and the hashed tickets the router stores.
//
// Everything follows the WAMP specification's texts, plus the variants Autobahn|Python and
// Crossbar.io actually implement where they differ (documented where they occur).
package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// CRASign computes a WAMP-CRA signature: base64(HMAC-SHA256(key, challenge)). The key is the
// shared secret, or for salted secrets the derived key returned by CRADeriveKey (its base64
// text, used as bytes, as autobahn and Crossbar.io do).
func CRASign(key []byte, challenge string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(challenge))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// CRAVerify checks a WAMP-CRA signature in constant time.
func CRAVerify(key []byte, challenge, signature string) bool {
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(challenge))
	return hmac.Equal(m.Sum(nil), got)
}

// CRA defaults for salted secrets.
const (
	CRADefaultIterations = 1000
	CRADefaultKeyLen     = 32
)

// CRADeriveKey derives the salted WAMP-CRA key from a secret: base64(PBKDF2-HMAC-SHA256(secret,
// salt, iterations, keylen)), with secret and salt taken as UTF-8 bytes. The result (as text) is
// the HMAC key of CRASign. Zero iterations or keylen mean the defaults (1000, 32), as in autobahn.
func CRADeriveKey(secret, salt string, iterations, keylen int) (string, error) {
	if iterations <= 0 {
		iterations = CRADefaultIterations
	}
	if keylen <= 0 {
		keylen = CRADefaultKeyLen
	}
	if keylen > 1024 {
		return "", fmt.Errorf("wampcra keylen %d too large", keylen)
	}
	key, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, keylen)
	if err != nil {
		return "", fmt.Errorf("wampcra key derivation: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}
