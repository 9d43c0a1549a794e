package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// history_store.type jetstream is read from YAML and needs a cluster: section.
func TestJetStreamHistoryStoreConfig(t *testing.T) {
	base := `listeners:
  - listen: 127.0.0.1:0
realms:
  - name: realm1
    history:
      topics:
        - {topic: com.example.t, limit: 10}
history_store:
  type: jetstream
  jetstream: {replicas: 3, prefix: H, max_bytes: 1048576}
`
	write := func(yaml string) string {
		path := filepath.Join(t.TempDir(), "pawl.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	_, err := loadConfig(write(base))
	if err == nil || !strings.Contains(err.Error(), "needs a cluster") {
		t.Fatalf("jetstream history without cluster: %v", err)
	}
	cfg, err := loadConfig(write(base + `cluster:
  name: pawl
  node: a
  nats: {urls: ["nats://127.0.0.1:4222"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if js := cfg.HistoryStore.JetStream; js.Replicas != 3 || js.Prefix != "H" || js.MaxBytes != 1<<20 {
		t.Errorf("jetstream options %+v", js)
	}
}
