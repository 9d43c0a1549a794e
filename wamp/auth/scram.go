package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// WAMP-SCRAM key derivation functions (CHALLENGE.Details.kdf).
const (
	// KDFArgon2id13 is Argon2id version 1.3 as the WAMP spec defines it: the salted password
	// is the raw 32-byte Argon2id output.
	KDFArgon2id13 = "argon2id13"
	// KDFArgon2id13Autobahn is the variant Autobahn|Python and Crossbar.io implement under the
	// name "argon2id-13": the salted password is the unpadded base64 text of the Argon2id output.
	KDFArgon2id13Autobahn = "argon2id-13"
	// KDFPBKDF2 is PBKDF2-HMAC-SHA256 with a 32-byte output.
	KDFPBKDF2 = "pbkdf2"
)

// SCRAM cost limits: what a router will store and a client will compute. The lower bounds
// keep a rogue router from asking for a hash that is cheap to crack; the upper bounds keep a
// rogue router (or config) from making a client spend minutes or gigabytes.
const (
	ScramMinPBKDF2Iterations = 1000
	ScramMaxPBKDF2Iterations = 10_000_000
	ScramMaxArgon2Iterations = 10_000
	ScramMinArgon2Memory     = 8       // KiB, Argon2's own minimum for parallelism 1
	ScramMaxArgon2Memory     = 1 << 21 // KiB (2 GiB)
)

// ScramParams are the stored, per-user KDF parameters of a WAMP-SCRAM principal.
type ScramParams struct {
	KDF        string // KDFArgon2id13, KDFArgon2id13Autobahn or KDFPBKDF2
	Salt       []byte
	Iterations int
	Memory     int // KiB; Argon2 only
}

// Check validates the parameters' ranges.
func (p ScramParams) Check() error {
	if len(p.Salt) == 0 {
		return errors.New("scram: empty salt")
	}
	switch p.KDF {
	case KDFPBKDF2:
		if p.Iterations < ScramMinPBKDF2Iterations || p.Iterations > ScramMaxPBKDF2Iterations {
			return fmt.Errorf("scram: pbkdf2 iterations %d outside %d..%d", p.Iterations,
				ScramMinPBKDF2Iterations, ScramMaxPBKDF2Iterations)
		}
	case KDFArgon2id13, KDFArgon2id13Autobahn:
		if p.Iterations < 1 || p.Iterations > ScramMaxArgon2Iterations {
			return fmt.Errorf("scram: argon2 iterations %d outside 1..%d", p.Iterations, ScramMaxArgon2Iterations)
		}
		if p.Memory < ScramMinArgon2Memory || p.Memory > ScramMaxArgon2Memory {
			return fmt.Errorf("scram: argon2 memory %d KiB outside %d..%d", p.Memory, ScramMinArgon2Memory, ScramMaxArgon2Memory)
		}
	default:
		return fmt.Errorf("scram: unknown kdf %q (want %s, %s or %s)", p.KDF, KDFArgon2id13, KDFArgon2id13Autobahn, KDFPBKDF2)
	}
	return nil
}

// SaltedPassword runs the KDF: SaltedPassword = KDF(Normalize(password), salt, params...).
func SaltedPassword(password string, p ScramParams) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	pw, err := SASLprep(password)
	if err != nil {
		return nil, fmt.Errorf("scram: password: %w", err)
	}
	switch p.KDF {
	case KDFPBKDF2:
		return pbkdf2.Key(sha256.New, pw, p.Salt, p.Iterations, 32)
	case KDFArgon2id13:
		return argon2.IDKey([]byte(pw), p.Salt, uint32(p.Iterations), uint32(p.Memory), 1, 32), nil
	default: // KDFArgon2id13Autobahn
		raw := argon2.IDKey([]byte(pw), p.Salt, uint32(p.Iterations), uint32(p.Memory), 1, 32)
		return []byte(base64.RawStdEncoding.EncodeToString(raw)), nil
	}
}

// ScramKeys derives the keys of RFC 5802 from a salted password.
func ScramKeys(salted []byte) (clientKey, storedKey, serverKey []byte) {
	clientKey = hmacSHA256(salted, []byte("Client Key"))
	sk := sha256.Sum256(clientKey)
	return clientKey, sk[:], hmacSHA256(salted, []byte("Server Key"))
}

// ScramCredential is what a router stores for a WAMP-SCRAM principal.
type ScramCredential struct {
	ScramParams
	StoredKey []byte
	ServerKey []byte
}

// NewScramCredential derives the stored credential for a password.
func NewScramCredential(password string, p ScramParams) (*ScramCredential, error) {
	salted, err := SaltedPassword(password, p)
	if err != nil {
		return nil, err
	}
	_, stored, server := ScramKeys(salted)
	return &ScramCredential{ScramParams: p, StoredKey: stored, ServerKey: server}, nil
}

// ScramExchange holds the attributes of one WAMP-SCRAM exchange that enter the AuthMessage.
type ScramExchange struct {
	AuthID      string // HELLO.Details.authid
	ClientNonce string // HELLO.Details.authextra.nonce
	Nonce       string // CHALLENGE.Details.nonce: the client nonce followed by the server's
	Salt        string // CHALLENGE.Details.salt, base64
	Iterations  int
	// ChannelBinding is the channel binding type ("" for none) and CBindData its data.
	ChannelBinding string
	CBindData      []byte
}

// AuthMessage is the AuthMessage of the WAMP spec (RFC 5802 section 7 syntax):
// "n=" Escape(authid) ",r=" client-nonce ",r=" nonce ",s=" salt ",i=" iterations
// ",c=" Base64(cbind-input) ",r=" nonce.
func (x ScramExchange) AuthMessage() (string, error) {
	authid, err := SASLprep(x.AuthID)
	if err != nil {
		return "", fmt.Errorf("scram: authid: %w", err)
	}
	cbind := "n,,"
	if x.ChannelBinding != "" {
		cbind = "p=" + x.ChannelBinding + ",," + string(x.CBindData)
	}
	return "n=" + scramEscape(authid) + ",r=" + x.ClientNonce +
		",r=" + x.Nonce + ",s=" + x.Salt + ",i=" + strconv.Itoa(x.Iterations) +
		",c=" + base64.StdEncoding.EncodeToString([]byte(cbind)) + ",r=" + x.Nonce, nil
}

// AutobahnAuthMessage is the AuthMessage Autobahn|Python 22.x computes: the authid is not
// escaped and the channel binding attribute is "c=" followed by the CHALLENGE's
// channel_binding (empty without one) instead of the base64 of the GS2 header. Routers accept
// it (without channel binding) so that those clients can log in.
func (x ScramExchange) AutobahnAuthMessage() (string, error) {
	authid, err := SASLprep(x.AuthID)
	if err != nil {
		return "", fmt.Errorf("scram: authid: %w", err)
	}
	return "n=" + authid + ",r=" + x.ClientNonce +
		",r=" + x.Nonce + ",s=" + x.Salt + ",i=" + strconv.Itoa(x.Iterations) +
		",c=" + x.ChannelBinding + ",r=" + x.Nonce, nil
}

// ScramClientProof computes ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage).
func ScramClientProof(salted []byte, authMessage string) []byte {
	clientKey, storedKey, _ := ScramKeys(salted)
	sig := hmacSHA256(storedKey, []byte(authMessage))
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, sig)
	return proof
}

// ScramVerifyProof checks a ClientProof against the StoredKey in constant time:
// SHA256(ClientSignature XOR proof) == StoredKey.
func ScramVerifyProof(storedKey []byte, authMessage string, proof []byte) bool {
	sig := hmacSHA256(storedKey, []byte(authMessage))
	if len(proof) != len(sig) {
		return false
	}
	clientKey := make([]byte, len(sig))
	subtle.XORBytes(clientKey, sig, proof)
	recovered := sha256.Sum256(clientKey)
	return hmac.Equal(recovered[:], storedKey)
}

// ScramServerSignature computes ServerSignature = HMAC(ServerKey, AuthMessage).
func ScramServerSignature(serverKey []byte, authMessage string) []byte {
	return hmacSHA256(serverKey, []byte(authMessage))
}

// ScramVerifier formats a ServerSignature as WELCOME.Details.authextra.verifier: "v=" base64,
// as RFC 5802's verifier attribute.
func ScramVerifier(serverSignature []byte) string {
	return "v=" + base64.StdEncoding.EncodeToString(serverSignature)
}

// ParseScramVerifier decodes a verifier, with or without the "v=" prefix.
func ParseScramVerifier(v string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "v="))
}

// scramEscape replaces "," and "=" with "=2C" and "=3D".
func scramEscape(s string) string {
	if !strings.ContainsAny(s, ",=") {
		return s
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
