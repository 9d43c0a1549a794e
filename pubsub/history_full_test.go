package pubsub

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// stuckStore is a history store whose Append waits until released: a store that is down.
type stuckStore struct{ release chan struct{} }

func (s stuckStore) Append(ctx context.Context, _ wamp.URI, _ []*HistoryEvent) error {
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return nil
}

func (stuckStore) Scan(context.Context, wamp.URI, bool, func(*HistoryEvent) bool) error { return nil }
func (stuckStore) Close() error                                                         { return nil }

// A store that does not keep up never makes publishers wait: past the bounded queue, events
// are not kept in history, and that is counted.
func TestHistoryNeverBlocksPublishers(t *testing.T) {
	store := stuckStore{release: make(chan struct{})}
	h := newHistory(HistoryConfig{Topics: []HistoryRule{{Topic: "t", Limit: 10}}}, store, "realm1", slog.New(slog.DiscardHandler))
	const n = historyQueue + historyBatch + 100
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			h.record(&HistoryEvent{Log: "exact:t", Topic: "t", Time: time.Now()}, 0, nil)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("recording history blocked while the store was stuck")
	}
	if h.Dropped() == 0 {
		t.Error("events beyond the queue were neither kept nor counted")
	}
	close(store.release)
	h.close()
}

// The events waiting for the writer are bounded in payload bytes too (their decoded values
// cost several times that): past historyQueueBytes an event is not kept, and a durable
// publisher hears so.
func TestHistoryQueueBoundedInBytes(t *testing.T) {
	store := stuckStore{release: make(chan struct{})}
	h := newHistory(HistoryConfig{Topics: []HistoryRule{{Topic: "t", Limit: 10}}}, store, "realm1", slog.New(slog.DiscardHandler))
	const size = 1 << 20
	refused := 0
	for i := 0; i < historyQueueBytes/size+historyBatch+10; i++ {
		h.record(&HistoryEvent{Log: "exact:t", Topic: "t", Time: time.Now()}, size, func(err error) {
			if err != nil {
				refused++
			}
		})
	}
	if refused == 0 || h.Dropped() == 0 {
		t.Errorf("%d refused, %d dropped: the byte bound did not hold", refused, h.Dropped())
	}
	if q := h.queued.Load(); q > historyQueueBytes+size {
		t.Errorf("%d bytes queued, bound %d", q, historyQueueBytes)
	}
	close(store.release)
	h.close()
	if q := h.queued.Load(); q != 0 {
		t.Errorf("%d bytes still counted after the writer stored everything", q)
	}
}
