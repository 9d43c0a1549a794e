package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests of what the pawl binary does as a router process (signals, exit status, files it
// locks, ports it shares) run the real binary (pawlBinary, cli_test.go).

// pawlProcess is a running pawl binary.
type pawlProcess struct {
	cmd  *exec.Cmd
	logs syncBuffer    // stdout and stderr
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, once done is closed

	// patience bounds each wait for a log line; 20 s when zero. Cluster nodes get more: their
	// start waits on JetStream's elections, which a loaded 2-core machine can stretch past 20 s.
	patience time.Duration

	mu    sync.Mutex
	lines []string
	seen  chan struct{} // closed and replaced whenever a line arrives
}

// startRouterProcess starts the pawl binary with args (in dir, when not empty) and reads its
// log. It is killed when the test ends if it is still running.
func startRouterProcess(t *testing.T, dir string, args ...string) *pawlProcess {
	t.Helper()
	p := &pawlProcess{cmd: exec.Command(pawlBinary(t), args...), done: make(chan struct{}), seen: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout = &p.logs
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.seen)
			p.seen = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("pawl %s log:\n%s", strings.Join(args, " "), p.logs.String())
		}
	})
	return p
}

// waitLog waits for a log line containing every one of parts, from line number from on, and
// returns it with the number of the line after it.
func (p *pawlProcess) waitLog(t *testing.T, from int, parts ...string) (string, int) {
	t.Helper()
	patience := p.patience
	if patience == 0 {
		patience = 20 * time.Second
	}
	deadline := time.After(patience)
	for i := from; ; {
		p.mu.Lock()
		lines, seen := p.lines, p.seen
		p.mu.Unlock()
		for ; i < len(lines); i++ {
			if containsAll(lines[i], parts) {
				return lines[i], i + 1
			}
		}
		select {
		case <-seen:
		case <-p.done:
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if i < n {
				continue
			}
			t.Fatalf("pawl exited (%v) without logging %q", p.err, parts)
		case <-deadline:
			t.Fatalf("pawl logged no line with %q within %v", parts, patience)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, part := range parts {
		if !strings.Contains(s, part) {
			return false
		}
	}
	return true
}

// url waits for the router's first "listening" line and returns its URL.
func (p *pawlProcess) url(t *testing.T) string {
	t.Helper()
	line, _ := p.waitLog(t, 0, "msg=listening")
	m := listeningURL.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no url in %q", line)
	}
	return m[1]
}

// signal sends sig to the process.
func (p *pawlProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit status.
func (p *pawlProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("pawl did not exit within 20s")
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop ends the process with SIGTERM and checks it exits with status 0.
func (p *pawlProcess) stop(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("pawl exited with status %d after SIGTERM, want 0", code)
	}
}

// writeFile writes a file in dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
