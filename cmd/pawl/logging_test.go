package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/internal/leakcheck"
)

// JSON logs write durations as "1.5s" and every kind of network address as "host:port", the
// way the text format does.
func TestJSONLogsDurationsAndAddresses(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(LogConfig{Format: "json"}, &buf, nil)
	tcp := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5678}
	udp6 := &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 53}
	var none *net.TCPAddr
	log.Info("x", "grace", 1500*time.Millisecond, "remote", tcp, "request_remote", "192.0.2.7:5678",
		slog.Group("peer", "addr", udp6, "idle", 2*time.Minute), "gone", net.Addr(none))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	want := map[string]any{"grace": "1.5s", "remote": "192.0.2.7:5678", "request_remote": "192.0.2.7:5678",
		"peer": map[string]any{"addr": "[2001:db8::1]:53", "idle": "2m0s"}, "gone": "<nil>"}
	for k, v := range want {
		got, _ := json.Marshal(line[k])
		exp, _ := json.Marshal(v)
		if !bytes.Equal(got, exp) {
			t.Errorf("%s: %s, want %s", k, got, exp)
		}
	}

	buf.Reset()
	newLogger(LogConfig{Format: "text"}, &buf, nil).Info("x", "grace", 1500*time.Millisecond, "remote", tcp)
	if !strings.Contains(buf.String(), "grace=1.5s remote=192.0.2.7:5678") {
		t.Errorf("text log: %s", buf.String())
	}
}

// The router's own JSON log lines follow: the listener's address and the shutdown grace.
func TestServeJSONLog(t *testing.T) {
	leakcheck.Check(t)
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0'}]\nrealms: [{name: realm1}]\nlimits: {shutdown_grace: 1500ms}\nlog: {format: json}\n")
	_, stop, logs := startServe(t, cfg)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if line["msg"] == "shutting down" {
			found = true
			if line["grace"] != "1.5s" {
				t.Errorf("grace %#v, want \"1.5s\"", line["grace"])
			}
		}
	}
	if !found {
		t.Errorf("no shutdown line:\n%s", logs)
	}
}
