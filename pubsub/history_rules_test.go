package pubsub

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
)

// SetHistoryRules gives a broker with event history new rules for the publications that
// follow; a broker that started without history says it needs a restart.
func TestSetHistoryRules(t *testing.T) {
	store := openBolt(t, filepath.Join(t.TempDir(), HistoryFile))
	defer store.Close()
	b := NewLocal(Options{Realm: "realm1", HistoryStore: store, Logger: slog.New(slog.DiscardHandler),
		History: HistoryConfig{Topics: []HistoryRule{{Topic: "com.news", Limit: 10}}}})
	defer b.Close()
	if _, ok := b.history.rule("com.chat.room1"); ok {
		t.Fatal("com.chat.room1 kept before its rule was added")
	}
	next := HistoryConfig{Topics: []HistoryRule{{Topic: "com.chat.", Match: "prefix", MaxAge: 3600e9}}}
	if err := b.SetHistoryRules(next); err != nil {
		t.Fatal(err)
	}
	if r, ok := b.history.rule("com.chat.room1"); !ok || r.Topic != "com.chat." {
		t.Errorf("com.chat.room1 after the new rules: %+v %v", r, ok)
	}
	if _, ok := b.history.rule("com.news"); ok {
		t.Error("com.news still kept after its rule was removed")
	}
	if err := b.SetHistoryRules(HistoryConfig{Topics: []HistoryRule{{Topic: "x"}}}); err == nil {
		t.Error("a rule without a bound was accepted")
	}

	plain := NewLocal(Options{Realm: "realm1", Logger: slog.New(slog.DiscardHandler)})
	defer plain.Close()
	if err := plain.SetHistoryRules(next); !errors.Is(err, ErrNoHistory) {
		t.Errorf("broker without history: %v, want ErrNoHistory", err)
	}
	if err := plain.SetHistoryRules(HistoryConfig{}); err != nil {
		t.Errorf("no rules for a broker without history: %v", err)
	}
}
