package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/wamp"
)

func TestHistoryConfigErrors(t *testing.T) {
	dir := t.TempDir()
	base := "listeners: [{listen: '127.0.0.1:0'}]\n"
	cases := map[string]string{
		"history rule without a bound": base + "realms: [{name: r, history: {topics: [{topic: com.x}]}}]\n",
		"history rule bad match":       base + "realms: [{name: r, history: {topics: [{topic: com.x, match: regex, limit: 1}]}}]\n",
		"history store type":           base + "realms: [{name: r}]\nhistory_store: {type: mongo}\n",
		"redis without address":        base + "realms: [{name: r}]\nhistory_store: {type: redis}\n",
		"unknown history key":          base + "realms: [{name: r, history: {topicz: []}}]\n",
	}
	for name, text := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadConfig(path); err == nil {
			t.Errorf("%s: config accepted", name)
		}
	}
}

// A realm with history keeps it in data_dir/history.db, which outlives the router.
func TestServeKeepsHistoryInDataDir(t *testing.T) {
	leakcheck.Check(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cfg := configFrom(t, "listeners: [{listen: '127.0.0.1:0'}]\n"+
		"realms: [{name: realm1, history: {topics: [{topic: com.example.news, limit: 10, max_age: 1h}]}}]\n"+
		"data_dir: "+dataDir+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for run := 1; run <= 2; run++ {
		url, stop, logs := startServe(t, cfg)
		if !strings.Contains(logs.String(), "event history in bbolt") {
			t.Errorf("run %d: no history store logged:\n%s", run, logs)
		}
		c, err := client.Dial(ctx, url, "realm1", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, "com.example.news", wamp.Dict{"acknowledge": true}, wamp.List{run}, nil); err != nil {
			t.Fatal(err)
		}
		evs, err := c.TopicEvents(ctx, "com.example.news", "", client.HistoryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != run {
			t.Errorf("run %d: %d events in the history, want %d", run, len(evs), run)
		}
		c.Close()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, pubsub.HistoryFile)); err != nil {
		t.Errorf("history file: %v", err)
	}
}
