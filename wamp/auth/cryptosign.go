package auth

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
)

// CryptosignChallengeSize is the size of a WAMP-Cryptosign challenge: 32 random bytes, sent as
// hex in CHALLENGE.Extra.challenge.
const CryptosignChallengeSize = 32

// CryptosignMessage is what a cryptosign client signs: the challenge, XORed bytewise with the
// channel ID when channel binding is in use (channelID nil otherwise).
func CryptosignMessage(challenge, channelID []byte) ([]byte, error) {
	if len(challenge) != CryptosignChallengeSize {
		return nil, fmt.Errorf("cryptosign: challenge of %d bytes, want %d", len(challenge), CryptosignChallengeSize)
	}
	msg := append([]byte(nil), challenge...)
	if channelID != nil {
		if len(channelID) != len(challenge) {
			return nil, fmt.Errorf("cryptosign: channel ID of %d bytes, want %d", len(channelID), len(challenge))
		}
		subtle.XORBytes(msg, challenge, channelID)
	}
	return msg, nil
}

// CryptosignSign answers a cryptosign challenge: the hex encoding of the Ed25519 signature
// followed by the signed message (96 bytes).
func CryptosignSign(key ed25519.PrivateKey, challenge, channelID []byte) (string, error) {
	msg, err := CryptosignMessage(challenge, channelID)
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(key, msg)
	return hex.EncodeToString(append(sig, msg...)), nil
}

// CryptosignVerify checks an AUTHENTICATE signature against the public key and the challenge
// the router sent on this connection. The signature is hex: 64 signature bytes, optionally
// followed by the 32 bytes signed, which must then be the expected message.
func CryptosignVerify(pub ed25519.PublicKey, challenge, channelID []byte, signature string) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("cryptosign: bad public key")
	}
	raw, err := hex.DecodeString(signature)
	if err != nil {
		return errors.New("cryptosign: signature is not hex")
	}
	msg, err := CryptosignMessage(challenge, channelID)
	if err != nil {
		return err
	}
	switch len(raw) {
	case ed25519.SignatureSize:
	case ed25519.SignatureSize + CryptosignChallengeSize:
		if subtle.ConstantTimeCompare(raw[ed25519.SignatureSize:], msg) != 1 {
			return errors.New("cryptosign: signed message is not this connection's challenge")
		}
	default:
		return fmt.Errorf("cryptosign: signature of %d bytes, want 96", len(raw))
	}
	if !ed25519.Verify(pub, msg, raw[:ed25519.SignatureSize]) {
		return errors.New("cryptosign: invalid signature")
	}
	return nil
}

// ParsePublicKey decodes a hex Ed25519 public key (HELLO.Details.authextra.pubkey).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("cryptosign: public key %q is not 32 bytes of hex", s)
	}
	return ed25519.PublicKey(raw), nil
}

// ParsePrivateKey decodes a hex Ed25519 private key: the 32-byte seed (as autobahn stores it)
// or the 64-byte seed+public key.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("cryptosign: private key is not hex")
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		key := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if subtle.ConstantTimeCompare(key, raw) != 1 {
			return nil, errors.New("cryptosign: private key's public half does not match its seed")
		}
		return key, nil
	}
	return nil, fmt.Errorf("cryptosign: private key of %d bytes, want 32 or 64", len(raw))
}
