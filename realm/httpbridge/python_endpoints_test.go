package httpbridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// Events forwarded to a Python endpoint and a procedure served by one (the standard
// library's HTTP server, checking the router's signature).
func TestPythonEndpoints(t *testing.T) {
	e := newEnv(t)
	const secret = "shared with the Python endpoints"
	portFile := filepath.Join(t.TempDir(), "port")
	cmd := exec.Command("/usr/bin/python3", "testdata/endpoint.py", portFile)
	cmd.Env = append(os.Environ(), "PAWL_SECRET="+secret)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var port []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if port, err = os.ReadFile(portFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Python endpoint did not start")
		}
	}
	base := "http://127.0.0.1:" + string(port)

	f, err := e.bridge.Forwarder(httpbridge.SubscriberConfig{Realm: "realm1", Role: "backend", Topic: "com.example.py.",
		Match: "prefix", URL: base + "/events", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ce, err := e.bridge.Callee(httpbridge.CalleeConfig{Realm: "realm1", Role: "backend", Procedure: "com.example.py.",
		Match: "prefix", URL: base + "/rpc", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, f.Joined())
	waitJoined(t, ce.Joined())
	c := e.client(t)
	ctx := context.Background()
	if err := c.Publish(ctx, "com.example.py.news", wamp.Dict{"acknowledge": true}, wamp.List{"héllo", 1 << 60}, wamp.Dict{"n": 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-lines:
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber() // 2^60 stays exact
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if raw["topic"] != "com.example.py.news" || fmt.Sprint(raw["args"], raw["kwargs"]) != "[héllo 1152921504606846976] map[n:1]" {
			t.Errorf("Python received %s", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the Python endpoint received no event")
	}
	res, err := c.Call(ctx, "com.example.py.upper", nil, wamp.List{"pawl"}, nil)
	if err != nil || fmt.Sprint(res.Args) != "[PAWL]" {
		t.Errorf("upper in Python: %v %v", res, err)
	}
	_, err = c.Call(ctx, "com.example.py.nothing", nil, nil, nil)
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) || ae.URI != "com.example.error.unknown" {
		t.Errorf("unknown procedure in Python: %v", err)
	}
}
