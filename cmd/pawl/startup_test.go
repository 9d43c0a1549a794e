package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
)

// historyConfig is a config with one listener on a free port and a realm that keeps history
// in dataDir.
func historyConfig(listen, dataDir, extra string) string {
	return "listeners: [{listen: '" + listen + "'" + extra + "}]\n" +
		"realms: [{name: realm1, history: {topics: [{topic: com.example.news, limit: 10}]}}]\n" +
		"data_dir: " + dataDir + "\n"
}

// A second router on the data_dir of a running one says at once that the history file is
// locked, naming it, and exits; the first carries on.
func TestSecondRouterOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	config := writeFile(t, dir, "pawl.yaml", historyConfig("127.0.0.1:0", filepath.Join(dir, "data"), ""))
	first := startRouterProcess(t, dir, "serve", "-config", config)
	url := first.url(t)

	start := time.Now()
	second := startRouterProcess(t, dir, "serve", "-config", config)
	if code := second.wait(t); code != 1 {
		t.Errorf("second router: exit status %d, want 1", code)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("second router took %v to give up", took)
	}
	logs := second.logs.String()
	if want := filepath.Join(dir, "data", "history.db"); !strings.Contains(logs, want) || !strings.Contains(logs, "locked by another process") {
		t.Errorf("second router's error does not say %s is locked by another process:\n%s", want, logs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatalf("the first router no longer serves: %v", err)
	}
	c.Close()
	first.stop(t)
}

// Listen and TLS errors are reported before the history store is opened: the router exits at
// once, naming the problem, and creates nothing in its data_dir.
func TestFailFastBeforeHistory(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0") // a port held by a program without SO_REUSEPORT
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cases := []struct {
		name, listen, extra, want string
	}{
		{"port in use", taken.Addr().String(), "", "address already in use"},
		{"missing certificate", "127.0.0.1:0", ", tls: {cert: missing-cert.pem, key: missing-key.pem}", "missing-cert.pem"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			dataDir := filepath.Join(dir, "data")
			config := writeFile(t, dir, "pawl.yaml", historyConfig(c.listen, dataDir, c.extra))
			start := time.Now()
			p := startRouterProcess(t, dir, "serve", "-config", config)
			if code := p.wait(t); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v to fail", took)
			}
			if logs := p.logs.String(); !strings.Contains(logs, c.want) {
				t.Errorf("error does not mention %q:\n%s", c.want, logs)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Errorf("data_dir was created (the history store was opened first): %v", err)
			}
		})
	}
}
