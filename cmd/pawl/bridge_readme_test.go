package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/wamp"
)

// codeBlock is a fenced block of README.md.
type codeBlock struct{ lang, text string }

// readmeSection returns the code blocks of one section ("## title" up to the next "## ").
func readmeSection(t *testing.T, title string) []codeBlock {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("README.md has no section %q", title)
	}
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	var blocks []codeBlock
	fence := regexp.MustCompile("(?ms)^```(\\w+)\n(.*?)^```$")
	for _, m := range fence.FindAllStringSubmatch(text, -1) {
		blocks = append(blocks, codeBlock{lang: m[1], text: m[2]})
	}
	return blocks
}

// The README's HTTP bridge section runs as written: its configuration starts the router, and
// its curl, PHP, Python and Node snippets publish and call through it (only the port differs:
// the test's router listens on a free one instead of 8080).
func TestReadmeBridgeSnippets(t *testing.T) {
	leakcheck.Check(t)
	blocks := readmeSection(t, "Pushing from PHP, Python, Node or curl")
	byLang := map[string][]string{}
	for _, b := range blocks {
		byLang[b.lang] = append(byLang[b.lang], b.text)
	}
	if len(byLang["yaml"]) != 2 || len(byLang["sh"]) != 1 || len(byLang["php"]) != 1 || len(byLang["python"]) != 1 || len(byLang["js"]) != 1 {
		t.Fatalf("the section's code blocks changed: %d yaml, %d sh, %d php, %d python, %d js", len(byLang["yaml"]),
			len(byLang["sh"]), len(byLang["php"]), len(byLang["python"]), len(byLang["js"]))
	}
	const readmeAddr = "127.0.0.1:8080"
	// The second block (forwarding) must load together with the first.
	configFrom(t, byLang["yaml"][0]+byLang["yaml"][1])

	cfg := configFrom(t, strings.Replace(byLang["yaml"][0], "listen: "+readmeAddr, "listen: 127.0.0.1:0", 1))
	url, stop, logs := startServe(t, cfg)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := make(chan *client.Event, 16)
	for _, topic := range []wamp.URI{"com.example.notify", "com.example.orders.hook"} {
		if _, err := c.Subscribe(ctx, topic, func(e *client.Event) { events <- e }, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Register(ctx, "com.example.add2", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		a, _ := wamp.AsInt64(inv.Args[0])
		b, _ := wamp.AsInt64(inv.Args[1])
		return &client.Result{Args: wamp.List{a + b}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logs, "url=http://"+addr+"/hooks/orders")

	dir := t.TempDir()
	run := func(name string, code string, cmd ...string) string {
		t.Helper()
		code = strings.ReplaceAll(code, readmeAddr, addr)
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(code), 0o600); err != nil {
			t.Fatal(err)
		}
		x := exec.CommandContext(ctx, cmd[0], append(cmd[1:], file)...)
		out, err := x.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	expect := func(name, out, pattern string) {
		t.Helper()
		if !regexp.MustCompile(pattern).MatchString(out) {
			t.Errorf("%s printed %q, want %s", name, out, pattern)
		}
	}
	heard := func(want string) {
		t.Helper()
		select {
		case e := <-events:
			if got := fmt.Sprint(e.Args, e.Kwargs); got != want {
				t.Errorf("event %s, want %s", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event; want %s", want)
		}
	}

	out := run("push.sh", byLang["sh"][0], "sh")
	expect("curl", out, `^\{"id":\d+\}\n\{"args":\[5\]\}\n\{"id":\d+\}\n$`)
	heard("[Hello from curl] map[level:info]")
	select {
	case e := <-events:
		hook, _ := e.Args[0].(wamp.Dict)
		headers, _ := hook["headers"].(wamp.Dict)
		if hook["body"] != "order=42&state=paid" || fmt.Sprint(headers["Content-Type"]) != "[application/x-www-form-urlencoded]" {
			t.Errorf("webhook event %v", e.Args)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook event")
	}

	expect("php", run("push.php", byLang["php"][0], "php"), `^published \d+\n$`)
	heard("[Hello from PHP] map[]")
	expect("python", run("push.py", byLang["python"][0], "/usr/bin/python3"), `^published \d+\n2 \+ 3 = 5\n$`)
	heard("[Hello from Python] map[]")
	expect("node", run("push.mjs", byLang["js"][0], "node"), `^published \d+\n$`)
	heard("[Hello from Node] map[]")

	c.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func waitForLog(t *testing.T, logs *syncBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the router did not log %q:\n%s", text, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBridgeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	base := "realms: [{name: realm1}]\n"
	cases := map[string]string{
		"unknown realm":    "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /p, type: publisher, realm: nope, role: r}]}]\n" + base,
		"no role":          "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /p, type: publisher, realm: realm1}]}]\n" + base,
		"bad type":         "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /p, type: pusher, realm: realm1, role: r}]}]\n" + base,
		"path twice":       "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /p, type: publisher, realm: realm1, role: r}, {path: /p, type: caller, realm: realm1, role: r}]}]\n" + base,
		"path of the ws":   "listeners: [{listen: '127.0.0.1:0', path: /ws, bridge: [{path: /ws, type: publisher, realm: realm1, role: r}]}]\n" + base,
		"hook sans topic":  "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /h, type: webhook, realm: realm1, role: r}]}]\n" + base,
		"subscriber url":   "listeners: [{listen: '127.0.0.1:0'}]\n" + base + "bridge: {subscribers: [{realm: realm1, role: r, topic: a.b, url: 'ftp://x'}]}\n",
		"callee pattern":   "listeners: [{listen: '127.0.0.1:0'}]\n" + base + "bridge: {callees: [{realm: realm1, role: r, procedure: 'a..b', url: 'http://x/'}]}\n",
		"unknown key":      "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /p, type: publisher, realm: realm1, role: r, secret: x}]}]\n" + base,
		"timeout on a pub": "listeners: [{listen: '127.0.0.1:0', bridge: [{path: /p, type: publisher, realm: realm1, role: r, timeout: 1s}]}]\n" + base,
	}
	for name, text := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadConfig(path); err == nil {
			t.Errorf("%s: config accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
