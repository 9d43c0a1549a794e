package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/internal/version"
)

// "pawl -h" (and "pawl help") lists every subcommand on stdout and exits 0; a command's -h
// lists its flags.
func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Errorf("pawl %v: exit %d, want 0; stderr %s", args, code, errOut.String())
		}
		for _, name := range []string{"serve", "config", "hash-secret", "version"} {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + `\s+\S`).MatchString(out.String()) {
				t.Errorf("pawl %v does not list %q:\n%s", args, name, out.String())
			}
		}
		for _, name := range []string{"publish", "subscribe", "call", "register"} {
			if !regexp.MustCompile(`(?m)^  pawl ` + name + ` .*\S`).MatchString(out.String()) {
				t.Errorf("pawl %v does not list the client command %q:\n%s", args, name, out.String())
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "-h"}, &out, &errOut); code != 0 {
		t.Errorf("pawl serve -h: exit %d, want 0", code)
	}
	for _, flag := range []string{"-config", "-listen", "-realm", "-pprof"} {
		if !strings.Contains(errOut.String(), flag) {
			t.Errorf("pawl serve -h does not list %s:\n%s", flag, errOut.String())
		}
	}
	if code := run([]string{"serve", "stray"}, &out, &errOut); code != 2 {
		t.Errorf("pawl serve stray: exit %d, want 2", code)
	}
}

// The binary reports the Pawl module version Go recorded in it (go version -m), and sends the
// same in WELCOME's agent.
func TestVersionFromBuildInfo(t *testing.T) {
	bin := pawlBinary(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\tmod\t` + regexp.QuoteMeta(version.Module) + `\t(\S+)`).FindSubmatch(info)
	if m == nil {
		t.Fatalf("no main module in go version -m:\n%s", info)
	}
	want := string(m[1])
	if rev := regexp.MustCompile(`(?m)^\tbuild\tvcs\.revision=(\w{12})`).FindSubmatch(info); rev != nil && want == version.Devel {
		want += " " + string(rev[1])
	}
	if !strings.HasPrefix(string(out), "pawl "+want+" (go") {
		t.Errorf("pawl version printed %q; the binary's build info says %q", out, want)
	}

	leakcheck.Check(t)
	p := startRouterProcess(t, t.TempDir(), "serve", "-listen", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var agent string
	c, err := client.Dial(ctx, p.url(t), "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	agent, _ = c.Welcome().String("agent")
	c.Close()
	if agent != "pawl/"+want {
		t.Errorf("WELCOME agent %q, want %q", agent, "pawl/"+want)
	}
	p.stop(t)
}
