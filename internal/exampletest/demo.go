package exampletest

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/race"
)

// RunDemo builds the example in the current directory (a test's package directory), runs it
// with -demo (and args) while port 8080 is taken, and returns what it printed on stdout. The
// demo must finish, with status 0, on a port of its own.
func RunDemo(t *testing.T, args ...string) string {
	t.Helper()
	// Take the examples' default port, so that a demo that needs it fails. When something
	// else already holds it, the test is as good.
	if ln, err := net.Listen("tcp", "127.0.0.1:8080"); err == nil {
		defer ln.Close()
	}
	bin := filepath.Join(t.TempDir(), "example")
	build := []string{"build", "-o", bin}
	if race.Enabled {
		build = append(build, "-race") // what the test run compiled already: linking only
	}
	if out, err := exec.Command("go", append(build, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-demo"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("-demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	return string(out)
}
