//go:build unix

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
)

// otherGroup is a group the test may give a socket that differs from the process's own when
// it can (root, or a user with supplementary groups), so that the assertion tells chown
// happened; else the process's group.
func otherGroup(t *testing.T) (name string, gid int) {
	t.Helper()
	candidates := []int{}
	if os.Geteuid() == 0 {
		if g, err := user.LookupGroup("nogroup"); err == nil {
			id, _ := strconv.Atoi(g.Gid)
			candidates = append(candidates, id)
		}
	}
	if groups, err := os.Getgroups(); err == nil {
		candidates = append(candidates, groups...)
	}
	gid = os.Getgid()
	for _, c := range candidates {
		if c != os.Getgid() {
			gid = c
			break
		}
	}
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	if err != nil {
		t.Fatalf("group %d: %v", gid, err)
	}
	return g.Name, gid
}

// staleSocket leaves a socket file at path that nothing accepts on, as a router that was
// killed does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

// TestUnixSocketModeAndGroup: a RawSocket Unix listener with unix_mode and unix_group replaces
// a stale socket file, serves a socket with exactly that mode and group (and leaves nothing
// else beside it), a client connects and calls through it, and the file is gone after
// shutdown.
func TestUnixSocketModeAndGroup(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "pawl.sock")
	staleSocket(t, sock)
	group, gid := otherGroup(t)
	cfg := configFrom(t, fmt.Sprintf(`listeners:
  - {listen: '127.0.0.1:0'}
  - {type: rawsocket, unix: %q, unix_mode: "0660", unix_group: %q}
realms: [{name: realm1}]
`, sock, group))
	wsURL, stop, logs := startServe(t, cfg)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "unix://"+sock) {
		if time.Now().After(deadline) {
			t.Fatalf("no unix listener logged:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket file mode %v, want a socket with 0660", fi.Mode())
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Gid); got != gid {
		t.Errorf("socket group %d, want %d (%s)", got, gid, group)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the socket's directory holds %d entries, want the socket alone", len(entries))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := client.Dial(ctx, wsURL, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c, err := client.Dial(ctx, "unix://"+sock, "realm1", client.Options{})
	if err != nil {
		t.Fatalf("dial the unix socket: %v", err)
	}
	echoThrough(t, ctx, ws, c, "over unix")
	c.Close()
	ws.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file still there after shutdown (%v)", err)
	}
}

// A Unix listener never removes what it should not: a file that is not a socket, or a socket
// another process serves.
func TestUnixSocketKeepsOthersFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "not-a-socket")
	if err := os.WriteFile(file, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ln, err := listenUnix(file, unixSocketAccess{mode: 0o600, gid: -1}); err == nil {
		ln.Close()
		t.Fatal("listened over a regular file")
	} else if !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("error %q does not say the file is not a socket", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "data" {
		t.Errorf("the regular file was changed: %q %v", b, err)
	}

	live := filepath.Join(dir, "live.sock")
	other, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if ln, err := listenUnix(live, unixSocketAccess{gid: -1}); err == nil {
		ln.Close()
		t.Fatal("listened over a socket another listener serves")
	} else if !strings.Contains(err.Error(), "another process serves") {
		t.Errorf("error %q does not say the socket is served", err)
	}
	if c, err := net.Dial("unix", live); err != nil {
		t.Errorf("the other listener's socket no longer answers: %v", err)
	} else {
		c.Close()
	}
}
