package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/pawl-wamp/pawl/pubsub"
)

// HistoryStoreConfig chooses where the realms' event history is kept (YAML key
// "history_store"); realms choose their history topics themselves (realms[].history).
type HistoryStoreConfig struct {
	// Type is "bbolt" (default: an embedded database, data_dir/history.db), "redis"
	// (shared by routers pointing at the same server and prefix) or "jetstream" (streams on
	// the cluster's JetStream, replicated across its nodes: needs cluster:).
	Type      string                  `yaml:"type"`
	Redis     pubsub.RedisOptions     `yaml:"redis"`
	JetStream pubsub.JetStreamOptions `yaml:"jetstream"`
}

func (c *Config) validateHistory() error {
	switch c.HistoryStore.Type {
	case "", "bbolt":
	case "redis":
		if c.HistoryStore.Redis.Addr == "" {
			return fmt.Errorf("history_store.redis.addr missing")
		}
	case "jetstream":
		if c.Cluster == nil {
			return fmt.Errorf("history_store.type jetstream needs a cluster: section")
		}
	default:
		return fmt.Errorf("history_store.type %q: want bbolt, redis or jetstream", c.HistoryStore.Type)
	}
	for _, r := range c.Realms {
		if err := r.History.Validate(); err != nil {
			return fmt.Errorf("realm %q: %w", r.Name, err)
		}
	}
	return nil
}

// historyWanted reports whether any realm keeps an event history.
func (c *Config) historyWanted() bool {
	for _, r := range c.Realms {
		if len(r.History.Topics) > 0 {
			return true
		}
	}
	return false
}

// openHistoryStore opens the history store when a realm needs one (nil otherwise).
func openHistoryStore(ctx context.Context, c *Config, log *slog.Logger) (pubsub.HistoryStore, error) {
	if !c.historyWanted() || c.HistoryStore.Type == "jetstream" { // jetstream: once the cluster serves
		return nil, nil
	}
	if c.HistoryStore.Type == "redis" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		store, err := pubsub.OpenRedisStore(ctx, c.HistoryStore.Redis)
		if err != nil {
			return nil, err
		}
		log.Info("event history in redis", "addr", c.HistoryStore.Redis.Addr)
		return store, nil
	}
	dir := c.DataDir
	if dir == "" {
		dir = "data"
	}
	path := filepath.Join(dir, pubsub.HistoryFile)
	store, err := pubsub.OpenBoltStore(path)
	if err != nil {
		return nil, err
	}
	log.Info("event history in bbolt", "path", path)
	return store, nil
}
