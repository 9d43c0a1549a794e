package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// startPawlProcess runs the binary with a config file and returns its WebSocket URL.
func startPawlProcess(t *testing.T, bin, config string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-config", config)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := listeningURL.FindStringSubmatch(sc.Text()); m != nil && !sent {
				urls <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(20 * time.Second):
		t.Fatal("pawl did not log its URL")
		return nil, ""
	}
}

// Finding 12 of issue 17: every publication the router acknowledged on a topic kept in
// history is in the history after the router is killed (SIGKILL) mid-run and restarted.
func TestAcknowledgedEventsSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a pawl process")
	}
	dir := t.TempDir()
	bin := pawlBinary(t) // cli_test.go: built once, with -race under -race
	config := filepath.Join(dir, "pawl.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`listeners: [{listen: '127.0.0.1:0'}]
realms:
  - name: realm1
    history: {topics: [{topic: com.example.durable, limit: 1000000}]}
data_dir: %s
`, filepath.Join(dir, "data"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, url := startPawlProcess(t, bin, config)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const publishers = 16
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		count atomic.Int64
		wg    sync.WaitGroup
	)
	for p := range publishers {
		c, err := client.Dial(ctx, url, "realm1", client.Options{Serializer: "msgpack"})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for i := 0; ; i++ {
				key := fmt.Sprintf("%d-%d", p, i)
				if err := c.PublishWith(ctx, "com.example.durable", client.PublishOptions{Acknowledge: true},
					wamp.List{key}, nil); err != nil {
					return // the router is gone
				}
				mu.Lock()
				acked[key] = true
				mu.Unlock()
				count.Add(1)
			}
		}()
	}
	// Kill the router in the middle of the run.
	for count.Load() < 3000 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d publications acknowledged before the kill", len(acked))

	_, url = startPawlProcess(t, bin, config)
	c, err := client.Dial(ctx, url, "realm1", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	evs, err := c.TopicEvents(ctx, "com.example.durable", "", client.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, e := range evs {
		if len(e.Args) == 1 {
			if s, ok := e.Args[0].(string); ok {
				kept[s] = true
			}
		}
	}
	lost := 0
	for key := range acked {
		if !kept[key] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged publications lost by the kill (%d events in the history)", lost, len(acked), len(evs))
	}
}
