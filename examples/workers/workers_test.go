package main

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/exampletest"
	"github.com/pawl-wamp/pawl/wamp"
)

func start(t *testing.T) string {
	t.Helper()
	return exampletest.Start(t, run)
}

// callAll makes n calls and returns who answered each.
func callAll(t *testing.T, ctx context.Context, c *client.Client, n int) []string {
	t.Helper()
	var who []string
	for i := range n {
		res, err := c.Call(ctx, work, nil, wamp.List{i}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sq, _ := wamp.AsInt64(res.Args[1]); sq != int64(i*i) {
			t.Fatalf("work(%d) = %v", i, res.Args)
		}
		who = append(who, res.Args[0].(string))
	}
	return who
}

// checkRotation checks that the answers cycle through k distinct workers in a fixed order.
func checkRotation(t *testing.T, who []string, k int) {
	t.Helper()
	seen := map[string]int{}
	for i, w := range who {
		seen[w]++
		if i >= k && who[i-k] != w {
			t.Fatalf("not round robin over %d workers: %v", k, who)
		}
	}
	if len(seen) != k {
		t.Fatalf("%d workers answered, want %d: %v", len(seen), k, who)
	}
	for w, n := range seen {
		if n != len(who)/k {
			t.Fatalf("%s answered %d of %d calls: %v", w, n, len(who), who)
		}
	}
}

// The example's three workers take the calls in turn; a fourth that joins from outside gets
// its share, and once it leaves the others carry on.
func TestRoundRobin(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	caller, err := client.Dial(ctx, url, realmName, client.Options{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	who := callAll(t, ctx, caller, 9)
	checkRotation(t, who, 3)
	for _, w := range who {
		if !strings.HasPrefix(w, "worker-") {
			t.Fatalf("answered by %q", w)
		}
	}

	extra, err := startWorker(ctx, url, "extra", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	who = callAll(t, ctx, caller, 8)
	checkRotation(t, who, 4)
	if !slices.Contains(who, "extra") {
		t.Fatalf("the extra worker got no call: %v", who)
	}
	extra.Close()
	who = callAll(t, ctx, caller, 6)
	checkRotation(t, who, 3)
	if slices.Contains(who, "extra") {
		t.Fatalf("a worker that left got a call: %v", who)
	}
}

func TestDemo(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if err := demo(ctx, url, 6, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[2], "com.example.work(3) = 9, answered by worker-") {
		t.Fatalf("demo printed:\n%s", out.String())
	}
	if lines[0][len(lines[0])-1] != lines[3][len(lines[3])-1] {
		t.Fatalf("calls 1 and 4 went to different workers:\n%s", out.String())
	}
}

// The demo runs on a port of its own: 8080 need not be free.
func TestDemoOnFreePort(t *testing.T) {
	if out := exampletest.RunDemo(t); !strings.Contains(out, "com.example.work(3) = 9, answered by worker-") {
		t.Fatalf("demo printed:\n%s", out)
	}
}
