package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/internal/testcert"
	"github.com/pawl-wamp/pawl/wamp"
)

// hashSecret runs "pawl hash-secret" and returns the principal entry it printed.
func hashSecret(t *testing.T, secret string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := hashSecretCommand(args, strings.NewReader(secret+"\n"), &out, &errOut); code != 0 {
		t.Fatalf("hash-secret %v: exit %d: %s", args, code, errOut.String())
	}
	if strings.Contains(out.String(), secret) {
		t.Fatalf("hash-secret printed the secret itself:\n%s", out.String())
	}
	return out.String()
}

// indent shifts YAML lines right.
func indent(text string, n int) string {
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(pad + line + "\n")
	}
	return b.String()
}

// The entries hash-secret prints go into a config file as they are, and their principals log
// in over wss:// with the listener's certificate, within its session limit.
func TestHashSecretConfigOverTLS(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	cert, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	entries := hashSecret(t, "tick3t", "-method", "ticket", "-authid", "joe", "-role", "user", "-iterations", "1", "-memory", "64") +
		hashSecret(t, "cr4secret", "-method", "wampcra", "-authid", "peter", "-role", "user") +
		hashSecret(t, "penc1l", "-method", "scram", "-authid", "sara", "-role", "user", "-iterations", "1", "-memory", "64") +
		hashSecret(t, "penc1l", "-method", "scram", "-authid", "sam", "-role", "user", "-kdf", "argon2id-13", "-iterations", "1", "-memory", "64") +
		hashSecret(t, "penc1l", "-method", "scram", "-authid", "sue", "-role", "user", "-kdf", "pbkdf2", "-iterations", "1000") +
		hashSecret(t, hex.EncodeToString(priv.Seed()), "-method", "cryptosign", "-authid", "carl", "-role", "device")
	text := fmt.Sprintf(`listeners:
  - listen: 127.0.0.1:0
    max_sessions: 2
    tls: {cert: %s, key: %s}
realms:
  - name: realm1
    auth:
      rate_limit: {delay: -1s}
      principals:
%s    roles:
      - name: user
        permissions:
          - {uri: com.example., match: prefix, call: true}
limits: {auth_timeout: 5s}
`, certFile, keyFile, indent(entries, 8))
	cfg := configFrom(t, text)
	url, stop, logs := startServe(t, cfg)
	if !strings.HasPrefix(url, "wss://") {
		t.Fatalf("listening on %s, want wss://", url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	login := func(authid string, cr client.Credentials) (*client.Client, error) {
		return client.Dial(ctx, url, "realm1", client.Options{AuthID: authid, Credentials: cr, TLSConfig: cert.ClientConfig()})
	}
	for _, tc := range []struct {
		authid string
		cr     client.Credentials
	}{
		{"joe", client.Credentials{Ticket: "tick3t"}},
		{"peter", client.Credentials{Secret: "cr4secret"}},
		{"sara", client.Credentials{Password: "penc1l"}},
		{"sam", client.Credentials{Password: "penc1l"}},
		{"sue", client.Credentials{Password: "penc1l"}},
		{"carl", client.Credentials{PrivateKey: priv}},
	} {
		c, err := login(tc.authid, tc.cr)
		if err != nil {
			t.Fatalf("%s: %v\nlogs:\n%s", tc.authid, err, logs)
		}
		if got, _ := c.Welcome().String("authid"); got != tc.authid {
			t.Errorf("WELCOME authid %q, want %q", got, tc.authid)
		}
		c.Close()
	}
	if _, err := login("joe", client.Credentials{Ticket: "guess"}); err == nil || !strings.Contains(err.Error(), string(wamp.ErrAuthenticationFailed)) {
		t.Errorf("wrong ticket: %v", err)
	}
	// The certificate is not trusted without the test CA.
	if _, err := client.Dial(ctx, url, "realm1", client.Options{AuthID: "joe", Credentials: client.Credentials{Ticket: "tick3t"}}); err == nil {
		t.Error("joined without trusting the certificate")
	}
	// max_sessions: 2.
	a, err := login("joe", client.Credentials{Ticket: "tick3t"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := login("peter", client.Credentials{Secret: "cr4secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := login("joe", client.Credentials{Ticket: "tick3t"}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("third session on a listener with max_sessions 2: %v", err)
	}
	a.Close()
	b.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestHashSecretErrors(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"-method", "ticket"}},
		{"x", []string{"-method", "kerberos"}},
		{"x", []string{"-method", "ticket", "-kdf", "md5"}},
		{"x", []string{"-method", "scram", "-kdf", "md5"}},
		{"not hex", []string{"-method", "cryptosign"}},
	} {
		if code := hashSecretCommand(tc.args, strings.NewReader(tc.stdin), &bytes.Buffer{}, &bytes.Buffer{}); code == 0 {
			t.Errorf("%v with %q: exit 0", tc.args, tc.stdin)
		}
	}
}

func TestConfigErrorsAuth(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"plain ticket": "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: r, auth: {principals: [{authid: a, role: r, ticket: secret}]}}]\n",
		"tls no key":   "listeners: [{listen: '127.0.0.1:0', tls: {cert: c.pem}}]\nrealms: [{name: r}]\n",
		"tls version":  "listeners: [{listen: '127.0.0.1:0', tls: {cert: c.pem, key: k.pem, min_version: '1.0'}}]\nrealms: [{name: r}]\n",
		"bad match":    "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: r, roles: [{name: u, permissions: [{uri: a, match: regex}]}]}]\n",
		"unknown key":  "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: r, roles: [{name: u, permissions: [{uri: a, cal: true}]}]}]\n",
	}
	for name, text := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadConfig(path); err == nil {
			t.Errorf("%s: config accepted", name)
		}
	}
	// A listener whose certificate files are missing fails at start.
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0', tls: {cert: "+filepath.Join(dir, "nope.pem")+", key: "+filepath.Join(dir, "nope.key")+"}}]\nrealms: [{name: r}]\n")
	if err := serve(context.Background(), cfg, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Errorf("serve with missing certificate files: %v", err)
	}
}
