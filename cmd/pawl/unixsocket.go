package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// unixSocketAccess is who may connect to a listener's Unix socket: its file mode and group.
// Connecting to a Unix socket takes write permission on it.
type unixSocketAccess struct {
	mode os.FileMode // 0: 0777 less the process's umask, as the system creates it
	gid  int         // -1: the process's group
}

// parseUnixSocketAccess reads a listener's unix_mode (octal, "0660") and unix_group (a group
// name or numeric id).
func parseUnixSocketAccess(mode, group string) (unixSocketAccess, error) {
	a := unixSocketAccess{gid: -1}
	if mode != "" {
		m, err := strconv.ParseUint(mode, 8, 32)
		if err != nil || m > 0o777 || m == 0 {
			return a, fmt.Errorf("unix_mode %q: want octal permission bits, 0001 to 0777 (e.g. \"0660\")", mode)
		}
		a.mode = os.FileMode(m)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				return a, fmt.Errorf("unix_group %q: no such group", group)
			}
		}
		gid, err := strconv.Atoi(g.Gid)
		if err != nil {
			return a, fmt.Errorf("unix_group %q: group id %q is not a number", group, g.Gid)
		}
		a.gid = gid
	}
	return a, nil
}

// listenUnix listens on a Unix socket at path with the given access. A socket file left
// behind by a router that is gone (nothing accepts on it) is replaced; one another process
// serves, or a file that is not a socket, is not.
//
// With a mode or group, the socket is bound in a private directory (mode 0700) beside path,
// given its mode and group there, and then renamed into place: nobody can connect to it
// under any other permissions than the configured ones, not even for a moment.
func listenUnix(path string, access unixSocketAccess) (net.Listener, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	if access.mode == 0 && access.gid < 0 {
		return net.Listen("unix", path)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".pawl")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // the socket moves; unixListener.Close removes it at path
	if access.gid >= 0 {
		err = os.Chown(tmp, -1, access.gid)
	}
	if err == nil && access.mode != 0 {
		err = os.Chmod(tmp, access.mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &unixListener{UnixListener: ln, path: path}, nil
}

// unixListener removes its socket file when closed, as net's own listener does for a socket
// bound where it stays.
type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); err == nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	return err
}

// removeStaleSocket removes a socket file at path that nothing accepts on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; it is left alone", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: another process serves this socket", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// Not known to be stale (e.g. a socket this user may not connect to): keep it.
		return fmt.Errorf("%s exists and cannot be checked: %w", path, err)
	}
	return os.Remove(path) // stale: left by a router that is gone
}
