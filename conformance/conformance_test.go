// Package conformance drives the real pawl router binary with third-party
// WAMP clients (nexus Go client, autobahn.js, Autobahn|Python) over JSON and
// MessagePack. See README.md.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// urlEnv, when set, points the tests at an already running router instead
// of building and starting pawl.
const urlEnv = "PAWL_CONFORMANCE_URL"

const (
	realm = "realm1"
	// routerStartTimeout bounds the wait for the "listening" log line.
	routerStartTimeout = 15 * time.Second
	// routerStopTimeout is how long pawl may take to exit after SIGTERM.
	routerStopTimeout = 10 * time.Second
	buildTimeout      = 5 * time.Minute
)

// listeningURL extracts the WebSocket URL from pawl's slog "listening" line.
var listeningURL = regexp.MustCompile(`url=(ws://\S+)`)

// routerBin is the pawl binary built by TestMain; empty when urlEnv is set.
var routerBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if u := os.Getenv(urlEnv); u != "" {
		fmt.Fprintf(os.Stderr, "conformance: using the router at %s (%s); pawl is not built\n", u, urlEnv)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "pawl-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := buildPawl(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	routerBin = bin
	return m.Run()
}

// buildPawl builds ./cmd/pawl from the repository root. When the tests run
// with -race, the router is built with -race too, so that data races in the
// router make it exit non-zero and fail the test that provoked them.
func buildPawl(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go tool not found to build pawl: %w", err)
	}
	bin := filepath.Join(dir, "pawl")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/pawl")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = ".." // the repository root; go test runs in the package directory
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s failed: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// routerProcess is a running pawl started by startRouter.
type routerProcess struct {
	cmd  *exec.Cmd
	logs syncBuffer    // stdout and stderr of the router
	done chan struct{} // closed once the process has exited
	err  error         // cmd.Wait's result, valid after done is closed
	// killed is set by a test that kills the process on purpose: its cleanup only waits.
	killed bool
}

// startRouter starts pawl on a free loopback port and returns its WebSocket
// URL. The router is stopped with SIGTERM when the test ends, and the test
// fails unless it then exits with status 0 within routerStopTimeout. With
// PAWL_CONFORMANCE_URL set, that URL is returned and nothing is started.
func startRouter(t *testing.T) string {
	t.Helper()
	if u := os.Getenv(urlEnv); u != "" {
		return u
	}
	if routerBin == "" {
		t.Fatal("pawl binary was not built (TestMain did not run?)")
	}

	p, u := launchRouter(t, "127.0.0.1:0")
	t.Cleanup(func() { p.stop(t) })
	return u
}

// launchRouter starts pawl listening on addr and returns it with its WebSocket URL; the
// caller stops it.
func launchRouter(t *testing.T, addr string) (*routerProcess, string) {
	t.Helper()
	p := &routerProcess{done: make(chan struct{})}
	p.cmd = exec.Command(routerBin, "serve", "-listen", addr)
	p.cmd.Stdout = &p.logs
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", routerBin, err)
	}

	urls := make(chan string, 1)
	go func() {
		// Copy every log line, and report the URL of the first "listening" one.
		scanner := bufio.NewScanner(stderr)
		scanner.Buffer(make([]byte, 64*1024), 1024*1024)
		found := false
		for scanner.Scan() {
			line := scanner.Text()
			fmt.Fprintln(&p.logs, line)
			if !found && strings.Contains(line, "msg=listening") {
				if m := listeningURL.FindStringSubmatch(line); m != nil {
					found = true
					urls <- m[1]
				}
			}
		}
		_, _ = io.Copy(&p.logs, stderr) // after an over-long line, keep draining
		p.err = p.cmd.Wait()            // only after the pipe is drained
		close(p.done)
	}()

	select {
	case u := <-urls:
		return p, u
	case <-p.done:
		t.Fatalf("pawl exited before listening: %v\n%s", p.err, p.logs.String())
	case <-time.After(routerStartTimeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("pawl logged no msg=listening line with url=ws://... within %v", routerStartTimeout)
	}
	return nil, ""
}

func (p *routerProcess) stop(t *testing.T) {
	select {
	case <-p.done:
		t.Errorf("pawl exited before the test ended: %v", p.err)
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("sending SIGTERM to pawl: %v", err)
		}
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("pawl did not exit with status 0 after SIGTERM: %v", p.err)
			}
		case <-time.After(routerStopTimeout):
			t.Errorf("pawl did not exit within %v of SIGTERM; killing it", routerStopTimeout)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if t.Failed() {
		t.Logf("pawl log:\n%s", p.logs.String())
	}
}
