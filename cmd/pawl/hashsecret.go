package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// principalEntry is how hash-secret prints a principal: only the credential it made.
type principalEntry struct {
	AuthID     string                 `yaml:"authid"`
	Role       string                 `yaml:"role"`
	Ticket     string                 `yaml:"ticket,omitempty"`
	WAMPCRA    *authn.CRACredential   `yaml:"wampcra,omitempty"`
	SCRAM      *authn.SCRAMCredential `yaml:"scram,omitempty"`
	Cryptosign []string               `yaml:"cryptosign,omitempty"`
}

// hashSecretCommand reads a secret from stdin and prints the principal entry that stores it
// for realms[].auth.principals.
func hashSecretCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-secret", flag.ContinueOnError)
	fs.SetOutput(stderr)
	method := fs.String("method", "ticket", "authentication `method`: ticket, wampcra, scram (wamp-scram) or cryptosign")
	authid := fs.String("authid", "AUTHID", "the principal's `authid`")
	role := fs.String("role", "ROLE", "the principal's `role`")
	kdf := fs.String("kdf", "", "ticket: argon2id (default) or pbkdf2-sha256; scram: argon2id13 (default), argon2id-13 (Autobahn|Python's variant) or pbkdf2")
	iterations := fs.Int("iterations", 0, "KDF iterations (default: ticket argon2id 2, pbkdf2 600000; wampcra 1000; scram argon2 3, pbkdf2 600000)")
	memory := fs.Int("memory", 0, "argon2 memory in KiB (default: ticket 19456, scram 65536)")
	keylen := fs.Int("keylen", 32, "wampcra derived key length in bytes")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: pawl hash-secret -method ticket|wampcra|scram|cryptosign [-authid ID] [-role ROLE] [flags] < secret

Reads the secret from the first line of stdin (for cryptosign: the hex private key, its
32-byte seed) and prints the principal entry to paste under realms[].auth.principals.
The configuration then holds no usable secret: a hash for tickets, a salted derived key for
wampcra, the StoredKey and ServerKey for scram, the public key for cryptosign.

`)
		fs.PrintDefaults()
	}
	if status, done := parseFlags(fs, args); done {
		return status
	}
	secret, err := readSecret(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "pawl hash-secret:", err)
		return 1
	}
	entry, err := makeEntry(*method, secret, *authid, *role, *kdf, *iterations, *memory, *keylen)
	if err != nil {
		fmt.Fprintln(stderr, "pawl hash-secret:", err)
		return 1
	}
	out, err := yaml.Marshal([]principalEntry{*entry})
	if err != nil {
		fmt.Fprintln(stderr, "pawl hash-secret:", err)
		return 1
	}
	fmt.Fprintf(stdout, "# realms[].auth.principals entry (pawl hash-secret -method %s)\n%s", *method, out)
	return 0
}

// readSecret reads the first line of r, without its line ending.
func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read secret: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no secret on stdin")
	}
	return line, nil
}

func makeEntry(method, secret, authid, role, kdf string, iterations, memory, keylen int) (*principalEntry, error) {
	e := &principalEntry{AuthID: authid, Role: role}
	switch method {
	case "ticket":
		p := auth.HashParams{Algorithm: kdf, Iterations: iterations, Memory: memory}
		if p.Algorithm == "" {
			p.Algorithm = auth.HashArgon2id
		}
		if p.Algorithm != auth.HashArgon2id && p.Algorithm != auth.HashPBKDF2 {
			return nil, fmt.Errorf("-kdf %q: want %s or %s for tickets", kdf, auth.HashArgon2id, auth.HashPBKDF2)
		}
		h, err := auth.HashSecret(secret, p)
		if err != nil {
			return nil, err
		}
		e.Ticket = h
	case "wampcra":
		if iterations == 0 {
			iterations = auth.CRADefaultIterations
		}
		salt := randomText(16)
		key, err := auth.CRADeriveKey(secret, salt, iterations, keylen)
		if err != nil {
			return nil, err
		}
		e.WAMPCRA = &authn.CRACredential{Key: key, Salt: salt, Iterations: iterations, KeyLen: keylen}
	case "scram", "wamp-scram":
		if kdf == "" {
			kdf = auth.KDFArgon2id13
		}
		p := auth.ScramParams{KDF: kdf, Salt: randomBytes(16), Iterations: iterations, Memory: memory}
		if kdf == auth.KDFPBKDF2 {
			if p.Iterations == 0 {
				p.Iterations = 600000
			}
			p.Memory = 0
		} else {
			if p.Iterations == 0 {
				p.Iterations = 3
			}
			if p.Memory == 0 {
				p.Memory = 65536
			}
		}
		cred, err := auth.NewScramCredential(secret, p)
		if err != nil {
			return nil, err
		}
		b64 := base64.StdEncoding.EncodeToString
		e.SCRAM = &authn.SCRAMCredential{KDF: p.KDF, Salt: b64(p.Salt), Iterations: p.Iterations, Memory: p.Memory,
			StoredKey: b64(cred.StoredKey), ServerKey: b64(cred.ServerKey)}
	case "cryptosign":
		key, err := auth.ParsePrivateKey(strings.TrimSpace(secret))
		if err != nil {
			return nil, err
		}
		e.Cryptosign = []string{hex.EncodeToString(key.Public().(ed25519.PublicKey))}
	default:
		return nil, fmt.Errorf("-method %q: want ticket, wampcra, scram or cryptosign", method)
	}
	return e, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// randomText is a random salt for wampcra, which uses the salt as text.
func randomText(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}
