package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The systemd unit in the repository passes systemd-analyze verify (with ExecStart pointing
// at a real pawl binary), and reloads with SIGHUP.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found (Debian package systemd; .ci/install-deps installs it)")
	}
	unit, err := os.ReadFile("pawl.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecReload=/bin/kill -HUP $MAINPID\n") {
		t.Error("the unit does not reload with SIGHUP")
	}
	text := strings.Replace(string(unit), "ExecStart=/usr/local/bin/pawl ", "ExecStart="+pawlBinary(t)+" ", 1)
	path := filepath.Join(t.TempDir(), "pawl.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
