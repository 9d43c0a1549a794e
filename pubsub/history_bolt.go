package pubsub

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/pawl-wamp/pawl/wamp"
)

// BoltStore is a HistoryStore in an embedded on-disk database (bbolt): one file, written
// with a transaction per batch of events, that survives restarts. One process at a time may
// open the file.
//
// Layout: a bucket per realm holding "events" (Seq → event) and "logs", a bucket per history
// rule listing its events' Seq with their time, plus the count of each log in "counts".
type BoltStore struct {
	db *bolt.DB
}

// HistoryFile is the name of the history database in a router's data directory.
const HistoryFile = "history.db"

var (
	bucketEvents = []byte("events")
	bucketLogs   = []byte("logs")
	bucketCounts = []byte("counts")
)

// ErrHistoryLocked: another process (or another open in this one) has the history database
// open; bbolt allows one at a time.
var ErrHistoryLocked = errors.New("locked by another process (another router with the same data_dir?)")

// boltLockWait is how long OpenBoltStore waits for the database's lock: long enough for a
// router that is stopping to let go, short enough to report a running one at once.
const boltLockWait = 500 * time.Millisecond

// OpenBoltStore opens (creating it if needed) the history database at path. When another
// process holds it, it fails within half a second with an error wrapping ErrHistoryLocked that
// names the file.
func OpenBoltStore(path string) (*BoltStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("history store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltLockWait})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("history store %s: %w", path, ErrHistoryLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("history store: open %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

// Close closes the database file.
func (s *BoltStore) Close() error { return s.db.Close() }

// Ping checks that the database is open and readable: for readiness checks (HistoryPinger).
func (s *BoltStore) Ping(context.Context) error {
	return s.db.View(func(*bolt.Tx) error { return nil })
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func realmBucket(realm wamp.URI) []byte { return []byte("realm:" + string(realm)) }

// Append stores the events in one transaction and trims their logs.
func (s *BoltStore) Append(ctx context.Context, realm wamp.URI, events []*HistoryEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		rb, err := tx.CreateBucketIfNotExists(realmBucket(realm))
		if err != nil {
			return err
		}
		evb, err := rb.CreateBucketIfNotExists(bucketEvents)
		if err != nil {
			return err
		}
		logs, err := rb.CreateBucketIfNotExists(bucketLogs)
		if err != nil {
			return err
		}
		counts, err := rb.CreateBucketIfNotExists(bucketCounts)
		if err != nil {
			return err
		}
		touched := map[string]Retention{}
		for _, ev := range events {
			seq, err := evb.NextSequence()
			if err != nil {
				return err
			}
			ev.Seq = seq
			data, err := encodeHistoryEvent(ev)
			if err != nil {
				return err
			}
			if err := evb.Put(seqKey(seq), data); err != nil {
				return err
			}
			lb, err := logs.CreateBucketIfNotExists([]byte(ev.Log))
			if err != nil {
				return err
			}
			var t [8]byte
			binary.BigEndian.PutUint64(t[:], uint64(ev.Time.UnixNano()))
			if err := lb.Put(seqKey(seq), t[:]); err != nil {
				return err
			}
			if err := addCount(counts, ev.Log, 1); err != nil {
				return err
			}
			touched[ev.Log] = ev.Keep
		}
		for log, keep := range touched {
			if err := trimBoltLog(evb, logs.Bucket([]byte(log)), counts, log, keep, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("history store: append: %w", err)
	}
	return nil
}

func addCount(counts *bolt.Bucket, log string, delta int64) error {
	var n int64
	if v := counts.Get([]byte(log)); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	return counts.Put([]byte(log), seqKey(uint64(max(n, 0))))
}

// trimBoltLog drops a log's oldest events beyond its count limit or age.
func trimBoltLog(evb, lb, counts *bolt.Bucket, log string, keep Retention, now time.Time) error {
	if lb == nil {
		return nil
	}
	var n int64
	if v := counts.Get([]byte(log)); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	cutoff := int64(0)
	if keep.MaxAge > 0 {
		cutoff = now.Add(-keep.MaxAge).UnixNano()
	}
	var drop [][]byte
	c := lb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		tooMany := keep.Limit > 0 && n-int64(len(drop)) > int64(keep.Limit)
		tooOld := cutoff != 0 && len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < cutoff
		if !tooMany && !tooOld {
			break
		}
		drop = append(drop, append([]byte(nil), k...))
	}
	for _, k := range drop {
		if err := lb.Delete(k); err != nil {
			return err
		}
		if err := evb.Delete(k); err != nil {
			return err
		}
	}
	if len(drop) > 0 {
		return addCount(counts, log, -int64(len(drop)))
	}
	return nil
}

// errStop ends a Scan early without an error.
var errStop = errors.New("stop")

// Scan reads the realm's events in order within one read transaction.
func (s *BoltStore) Scan(ctx context.Context, realm wamp.URI, reverse bool, fn func(*HistoryEvent) bool) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		rb := tx.Bucket(realmBucket(realm))
		if rb == nil {
			return nil
		}
		evb := rb.Bucket(bucketEvents)
		if evb == nil {
			return nil
		}
		c := evb.Cursor()
		first, next := c.First, c.Next
		if reverse {
			first, next = c.Last, c.Prev
		}
		for k, v := first(); k != nil; k, v = next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			ev, err := decodeHistoryEvent(v)
			if err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			ev.Seq = binary.BigEndian.Uint64(k)
			if !fn(ev) {
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("history store: scan: %w", err)
	}
	return nil
}
