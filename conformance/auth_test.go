package conformance

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pawl-wamp/pawl/internal/testcert"
	pawlrealm "github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/authn"
	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// authChecks are the checks js/auth_checks.js prints; Autobahn|Python adds the SCRAM ones.
var (
	authChecksJS = []string{
		"ticket", "wampcra", "wampcra_salted", "cryptosign", "cryptosign_by_key",
		"ticket_wrong_secret", "wampcra_wrong_secret", "cryptosign_wrong_key", "unknown_authid",
		"no_matching_auth_method", "permissions_allowed", "permission_denied_call",
		"permission_denied_register", "permission_denied_subscribe", "permission_denied_publish",
	}
	authChecksPython = append([]string{"scram", "scram_wrong_password"}, authChecksJS...)
)

// authSetup is a pawl configuration with a ws:// and a wss:// listener and realm1 with one
// principal per authentication method, and the parameters the driver scripts get.
type authSetup struct {
	config string // path of the YAML config
	params string // path of the JSON parameters
}

// authParams are the principals and secrets the scripts log in with.
type authParams struct {
	Realm          string            `json:"realm"`
	CA             string            `json:"ca"`
	Ticket         map[string]string `json:"ticket"`
	Backend        map[string]string `json:"backend"`
	WAMPCRA        map[string]string `json:"wampcra"`
	WAMPCRASalted  map[string]string `json:"wampcra_salted"`
	SCRAM          map[string]string `json:"scram"`
	Cryptosign     map[string]string `json:"cryptosign"`
	UnknownPrivkey string            `json:"unknown_privkey"`
}

func newAuthSetup(t *testing.T) *authSetup {
	t.Helper()
	dir := t.TempDir()
	cert, err := testcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := cert.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	seed := func() string {
		b := make([]byte, ed25519.SeedSize)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	p := authParams{
		Realm:          "realm1",
		CA:             certFile,
		Ticket:         map[string]string{"authid": "joe", "secret": "ticket-s3cret"},
		Backend:        map[string]string{"authid": "backend", "secret": "backend-s3cret"},
		WAMPCRA:        map[string]string{"authid": "peter", "secret": "cra-s3cret"},
		WAMPCRASalted:  map[string]string{"authid": "paul", "secret": "cra-salted-s3cret"},
		SCRAM:          map[string]string{"authid": "sam", "password": "scram-s3cret"},
		Cryptosign:     map[string]string{"authid": "carl", "privkey": seed()},
		UnknownPrivkey: seed(),
	}
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ticketHash := func(secret string) string { return must(auth.HashSecret(secret, auth.HashParams{})) }
	craKey := must(auth.CRADeriveKey(p.WAMPCRASalted["secret"], "pawl-salt", 1000, 32))
	salt := make([]byte, 16)
	rand.Read(salt)
	// Autobahn|Python implements WAMP-SCRAM with argon2id under the name "argon2id-13".
	scramCred, err := auth.NewScramCredential(p.SCRAM["password"], auth.ScramParams{KDF: auth.KDFArgon2id13Autobahn,
		Salt: salt, Iterations: 3, Memory: 4096})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := auth.ParsePrivateKey(p.Cryptosign["privkey"])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	no := false
	r := pawlrealm.Config{
		Name:      "realm1",
		Anonymous: &no,
		Auth: authn.Config{
			// Failures are part of the checks: no delay, and room for all of them.
			RateLimit: authn.RateLimit{Delay: -1, Burst: 1000},
			Principals: []authn.Principal{
				{AuthID: "joe", Role: "user", Ticket: ticketHash(p.Ticket["secret"])},
				{AuthID: "backend", Role: "backend", Ticket: ticketHash(p.Backend["secret"])},
				{AuthID: "peter", Role: "user", WAMPCRA: &authn.CRACredential{Secret: p.WAMPCRA["secret"]}},
				{AuthID: "paul", Role: "user", WAMPCRA: &authn.CRACredential{Key: craKey, Salt: "pawl-salt", Iterations: 1000, KeyLen: 32}},
				{AuthID: "sam", Role: "user", SCRAM: &authn.SCRAMCredential{KDF: auth.KDFArgon2id13Autobahn, Salt: b64(salt),
					Iterations: 3, Memory: 4096, StoredKey: b64(scramCred.StoredKey), ServerKey: b64(scramCred.ServerKey)}},
				{AuthID: "carl", Role: "user", Cryptosign: []string{hex.EncodeToString(priv.Public().(ed25519.PublicKey))}},
			},
		},
		Roles: []authz.Role{
			{Name: "user", Permissions: []authz.Permission{
				{URI: "com.example.open.", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true},
				{URI: "com.example.secret.", Match: "prefix"},
			}},
			{Name: "backend", Permissions: []authz.Permission{
				{URI: "", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true},
			}},
		},
	}
	cfg := map[string]any{
		"listeners": []map[string]any{
			{"listen": "127.0.0.1:0"},
			{"listen": "127.0.0.1:0", "tls": map[string]string{"cert": certFile, "key": keyFile}},
		},
		"realms":   []pawlrealm.Config{r},
		"log":      map[string]string{"level": "info"},
		"data_dir": dir,
	}
	text, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &authSetup{config: filepath.Join(dir, "pawl.yaml"), params: filepath.Join(dir, "params.json")}
	if err := os.WriteFile(s.config, text, 0o600); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(p)
	if err := os.WriteFile(s.params, js, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// anyListeningURL extracts ws:// and wss:// URLs from pawl's "listening" lines.
var anyListeningURL = regexp.MustCompile(`url=(wss?://\S+)`)

// startRouterConfig starts pawl with a config file and returns the URLs of its listeners
// (n of them), stopping it when the test ends like startRouter does.
func startRouterConfig(t *testing.T, config string, n int) []string {
	t.Helper()
	if routerBin == "" {
		t.Fatal("pawl binary was not built (TestMain did not run?)")
	}
	p := &routerProcess{done: make(chan struct{})}
	p.cmd = exec.Command(routerBin, "serve", "-config", config)
	p.cmd.Stdout = &p.logs
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", routerBin, err)
	}
	urls := make(chan []string, 1)
	go func() {
		scanner := bufio.NewScanner(stderr)
		scanner.Buffer(make([]byte, 64*1024), 1024*1024)
		var found []string
		for scanner.Scan() {
			line := scanner.Text()
			fmt.Fprintln(&p.logs, line)
			if len(found) < n && strings.Contains(line, "msg=listening") {
				if m := anyListeningURL.FindStringSubmatch(line); m != nil {
					if found = append(found, m[1]); len(found) == n {
						urls <- found
					}
				}
			}
		}
		_, _ = io.Copy(&p.logs, stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case u := <-urls:
		return u
	case <-p.done:
		t.Fatalf("pawl exited before listening: %v\n%s", p.err, p.logs.String())
	case <-time.After(routerStartTimeout):
		t.Fatalf("pawl logged fewer than %d listening lines within %v:\n%s", n, routerStartTimeout, p.logs.String())
	}
	return nil
}

// authRuns starts the router with the auth configuration and runs a driver over ws:// and
// wss://, with both serializers.
func authRuns(t *testing.T, name string, checks []string, command func(ctx context.Context, url, serializer, params string) *exec.Cmd) {
	if os.Getenv(urlEnv) != "" {
		t.Skipf("%s is set: the authentication checks need a router started with their own configuration", urlEnv)
	}
	setup := newAuthSetup(t)
	urls := startRouterConfig(t, setup.config, 2)
	for _, url := range urls {
		scheme, _, _ := strings.Cut(url, ":")
		for _, serializer := range []string{"json", "msgpack"} {
			t.Run(scheme+"/"+serializer, func(t *testing.T) {
				run := startScript(t, name, func(ctx context.Context) *exec.Cmd {
					return command(ctx, url, serializer, setup.params)
				})
				run.finish(t, checks)
			})
		}
	}
}

// TestAuthAutobahnJS: autobahn.js logs in with ticket, wampcra (plain and salted) and
// cryptosign over ws:// and wss://, and gets the exact errors for wrong secrets, unknown
// principals and denied actions.
func TestAuthAutobahnJS(t *testing.T) {
	requireNode(t)
	if _, err := os.Stat(filepath.Join("node_modules", "tweetnacl", "package.json")); err != nil {
		t.Fatalf("npm package tweetnacl missing in conformance/node_modules: %s", installHint)
	}
	authRuns(t, "autobahn.js auth_checks.js", authChecksJS, func(ctx context.Context, url, serializer, params string) *exec.Cmd {
		return nodeCommand(ctx, "auth_checks.js", url, serializer, params)
	})
}

// TestAuthAutobahnPython: Autobahn|Python logs in with ticket, wampcra, wamp-scram (argon2id)
// and cryptosign over ws:// and wss://, with the same failure and permission checks.
func TestAuthAutobahnPython(t *testing.T) {
	requirePython(t)
	requirePythonAuth(t)
	authRuns(t, "Autobahn|Python auth_checks.py", authChecksPython, func(ctx context.Context, url, serializer, params string) *exec.Cmd {
		return pythonCommand(ctx, "auth_checks.py", url, serializer, params)
	})
}

// requirePythonAuth fails unless Debian's python3 has what Autobahn's cryptosign (nacl) and
// scram (argon2, passlib) authenticators need.
func requirePythonAuth(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, "-c",
		"import nacl, argon2, passlib; from autobahn.wamp import auth; assert auth.HAS_ARGON")
	cmd.Env = pythonEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s lacks python3-nacl, python3-argon2 or python3-passlib (%v): %s\n%s", debianPython, err, installHint, out)
	}
}
