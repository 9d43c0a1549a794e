package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password hashes for stored tickets, in the PHC string format:
//
//	$argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<hash>
//	$pbkdf2-sha256$i=<iterations>$<salt>$<hash>
//
// with salt and hash in unpadded standard base64.
const (
	HashArgon2id = "argon2id"
	HashPBKDF2   = "pbkdf2-sha256"
)

// HashParams choose the cost of a stored hash. Zero fields take the defaults.
type HashParams struct {
	Algorithm  string // HashArgon2id (default) or HashPBKDF2
	Iterations int    // argon2id: 2; pbkdf2: 600000
	Memory     int    // argon2id only, KiB: 19456 (19 MiB)
	Lanes      int    // argon2id only: 1
}

// Default hash costs (OWASP's recommendations for password storage).
const (
	DefaultArgon2Iterations = 2
	DefaultArgon2Memory     = 19456
	DefaultPBKDF2Iterations = 600000
)

func (p HashParams) withDefaults() HashParams {
	if p.Algorithm == "" {
		p.Algorithm = HashArgon2id
	}
	if p.Algorithm == HashArgon2id {
		if p.Iterations <= 0 {
			p.Iterations = DefaultArgon2Iterations
		}
		if p.Memory <= 0 {
			p.Memory = DefaultArgon2Memory
		}
		if p.Lanes <= 0 {
			p.Lanes = 1
		}
	} else if p.Iterations <= 0 {
		p.Iterations = DefaultPBKDF2Iterations
	}
	return p
}

// HashSecret hashes a secret (a ticket) for storage, with a fresh random 16-byte salt.
func HashSecret(secret string, p HashParams) (string, error) {
	p = p.withDefaults()
	salt := make([]byte, 16)
	rand.Read(salt)
	h := storedHash{HashParams: p, salt: salt}
	sum, err := h.compute(secret)
	if err != nil {
		return "", err
	}
	h.sum = sum
	return h.String(), nil
}

// VerifySecret checks a secret against a stored hash in constant time (the hash computation
// itself takes the same time whatever the secret).
func VerifySecret(stored, secret string) (bool, error) {
	h, err := parseSecretHash(stored)
	if err != nil {
		return false, err
	}
	sum, err := h.compute(secret)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(sum, h.sum) == 1, nil
}

// CheckSecretHash checks that a stored hash is well-formed, with sane costs.
func CheckSecretHash(s string) error {
	_, err := parseSecretHash(s)
	return err
}

func parseSecretHash(s string) (*storedHash, error) {
	parts := strings.Split(s, "$")
	bad := func(why string) (*storedHash, error) {
		return nil, fmt.Errorf("secret hash: %s (want $argon2id$v=19$m=..,t=..,p=..$salt$hash or $pbkdf2-sha256$i=..$salt$hash)", why)
	}
	if len(parts) < 2 || parts[0] != "" {
		return bad("not a PHC string")
	}
	h := &storedHash{}
	var params, salt, sum string
	switch parts[1] {
	case HashArgon2id:
		if len(parts) != 6 || parts[2] != "v=19" {
			return bad("malformed argon2id hash")
		}
		params, salt, sum = parts[3], parts[4], parts[5]
		h.Algorithm = HashArgon2id
		for _, kv := range strings.Split(params, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return bad("bad argon2id parameter " + kv)
			}
			switch k {
			case "m":
				h.Memory = n
			case "t":
				h.Iterations = n
			case "p":
				h.Lanes = n
			default:
				return bad("unknown argon2id parameter " + k)
			}
		}
		if h.Memory < 8 || h.Memory > 1<<22 || h.Iterations < 1 || h.Iterations > 100 || h.Lanes < 1 || h.Lanes > 64 {
			return bad("argon2id costs out of range")
		}
	case HashPBKDF2:
		if len(parts) != 5 || !strings.HasPrefix(parts[2], "i=") {
			return bad("malformed pbkdf2-sha256 hash")
		}
		n, err := strconv.Atoi(strings.TrimPrefix(parts[2], "i="))
		if err != nil || n < 1000 || n > 10_000_000 {
			return bad("pbkdf2-sha256 iterations out of range 1000..10000000")
		}
		h.Algorithm, h.Iterations = HashPBKDF2, n
		salt, sum = parts[3], parts[4]
	default:
		return bad("unknown algorithm " + strconv.Quote(parts[1]))
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(salt); err != nil || len(h.salt) < 8 {
		return bad("bad salt")
	}
	if h.sum, err = base64.RawStdEncoding.DecodeString(sum); err != nil || len(h.sum) < 16 || len(h.sum) > 64 {
		return bad("bad hash")
	}
	return h, nil
}

type storedHash struct {
	HashParams
	salt, sum []byte
}

func (h *storedHash) compute(secret string) ([]byte, error) {
	n := len(h.sum)
	if n == 0 {
		n = 32
	}
	switch h.Algorithm {
	case HashArgon2id:
		return argon2.IDKey([]byte(secret), h.salt, uint32(h.Iterations), uint32(h.Memory), uint8(h.Lanes), uint32(n)), nil
	case HashPBKDF2:
		return pbkdf2.Key(sha256.New, secret, h.salt, h.Iterations, n)
	}
	return nil, errors.New("secret hash: unknown algorithm " + h.Algorithm)
}

func (h *storedHash) String() string {
	b64 := base64.RawStdEncoding.EncodeToString
	if h.Algorithm == HashPBKDF2 {
		return fmt.Sprintf("$%s$i=%d$%s$%s", HashPBKDF2, h.Iterations, b64(h.salt), b64(h.sum))
	}
	return fmt.Sprintf("$%s$v=19$m=%d,t=%d,p=%d$%s$%s", HashArgon2id, h.Memory, h.Iterations, h.Lanes, b64(h.salt), b64(h.sum))
}
