// Package redistest runs a real redis-server (Debian package redis-server) on a free loopback
// port for tests, with its files in a temporary directory.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr   string // 127.0.0.1:PORT
	cmd    *exec.Cmd
	dir    string
	exited chan error
	once   sync.Once
}

// Start runs redis-server until the test ends. Without redis-server on PATH the test fails
// when CI=true (.ci/install-deps installs it) and is skipped otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found (%v): run .ci/install-deps", err)
		}
		t.Skipf("redis-server not found (%v): run .ci/install-deps to run the Redis tests", err)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := start(bin, dir)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting redis-server: %v\n%s", lastErr, readLog(dir))
	return nil
}

// freePort asks the kernel for a free loopback port. Another process may take it before
// redis-server binds it; Start then tries again.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func start(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"), "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, dir: dir, exited: exited}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.Addr) == nil {
			return s, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("redis-server exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("redis-server did not answer PING on %s within 10s", s.Addr)
		}
	}
}

// ping sends PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Stop ends redis-server before the test does: for tests of a store that goes away.
func (s *Server) Stop(t testing.TB) { s.stop(t) }

// stop ends redis-server with SIGTERM (SIGKILL after 10s), once.
func (s *Server) stop(t testing.TB) { s.once.Do(func() { s.terminate(t) }) }

func (s *Server) terminate(t testing.TB) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("redis-server did not stop within 10s of SIGTERM; killing it")
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func readLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	return string(b)
}
