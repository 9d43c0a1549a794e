package pubsub

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pawl-wamp/pawl/wamp"
)

// JetStreamStore is a HistoryStore on NATS JetStream streams, for a cluster of Pawl nodes:
// with Replicas 3 every event is on three nodes' disks before the publisher hears PUBLISHED,
// so the history survives the loss of a node without Redis or any other service.
//
// Each realm has one stream (its events in one order, the stream sequence being the event's
// Seq) and each history rule one subject in it:
//
//	stream   <Prefix>_<realm>                  (realm in lower-case base32hex)
//	subject  <prefix>.<realm>.<rule key>       (both tokens base32hex: URIs hold dots)
//
// A rule's count limit is a subject purge that keeps the newest Limit messages; its max_age
// trims the subject's oldest messages by the event time each carries in a header (the time
// of the publication, not of the write, as the other stores do). Both run after each batch,
// so any node's append trims what every node appended.
//
// Reads are direct gets in batches of scanPage, answered by any replica: a read on one node
// may miss the last milliseconds of another node's writes, never an acknowledged event once
// replication caught up.
type JetStreamStore struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts JetStreamOptions

	mu      sync.Mutex
	streams map[wamp.URI]jetstream.Stream // streams known to exist, by realm
}

// JetStreamOptions configure a JetStreamStore (YAML history_store.jetstream).
type JetStreamOptions struct {
	// Replicas is the number of copies of each realm's stream (default 1). A 3-node cluster
	// sets 3 to survive the loss of any one node.
	Replicas int `yaml:"replicas"`
	// Prefix names the streams and starts their subjects (default "PAWL_HISTORY"; subjects
	// use it in lower case).
	Prefix string `yaml:"prefix"`
	// MaxBytes bounds each realm's stream (0: no bound besides the rules' limits); past it
	// the oldest events go.
	MaxBytes int64 `yaml:"max_bytes"`
}

// timeHeader carries an event's publication time (Unix nanoseconds), for max_age trimming
// without decoding the event.
const timeHeader = "Pawl-Time"

var token = base32.HexEncoding.WithPadding(base32.NoPadding)

// encodeToken makes a URI or rule key one NATS subject token and part of a stream name:
// base32hex in lower case has no dots, wildcards or spaces and cannot be ambiguous.
func encodeToken(s string) string {
	b := []byte(token.EncodeToString([]byte(s)))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// OpenJetStreamStore uses a NATS connection (the cluster's; the store does not close it) and
// checks that JetStream answers.
func OpenJetStreamStore(ctx context.Context, nc *nats.Conn, opts JetStreamOptions) (*JetStreamStore, error) {
	if nc == nil {
		return nil, errors.New("history store: jetstream needs a NATS connection (cluster:)")
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Prefix == "" {
		opts.Prefix = "PAWL_HISTORY"
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("history store: jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return nil, fmt.Errorf("history store: jetstream: %w", err)
	}
	return &JetStreamStore{nc: nc, js: js, opts: opts, streams: map[wamp.URI]jetstream.Stream{}}, nil
}

// Close forgets the streams; the NATS connection stays with its owner.
func (s *JetStreamStore) Close() error {
	s.mu.Lock()
	clear(s.streams)
	s.mu.Unlock()
	return nil
}

// Ping checks that JetStream answers: for readiness checks (HistoryPinger).
func (s *JetStreamStore) Ping(ctx context.Context) error {
	if _, err := s.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

func (s *JetStreamStore) streamName(realm wamp.URI) string {
	return s.opts.Prefix + "_" + encodeToken(string(realm))
}

func (s *JetStreamStore) subject(realm wamp.URI, log string) string {
	return s.subjectPrefix(realm) + encodeToken(log)
}

func (s *JetStreamStore) subjectPrefix(realm wamp.URI) string {
	return lowerASCII(s.opts.Prefix) + "." + encodeToken(string(realm)) + "."
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// stream returns the realm's stream, creating it on first use when create is set; without
// create, a realm with no stream yet gives nil.
func (s *JetStreamStore) stream(ctx context.Context, realm wamp.URI, create bool) (jetstream.Stream, error) {
	s.mu.Lock()
	st := s.streams[realm]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	var err error
	if create {
		st, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        s.streamName(realm),
			Description: "Pawl event history of realm " + string(realm),
			Subjects:    []string{s.subjectPrefix(realm) + ">"},
			Storage:     jetstream.FileStorage,
			Replicas:    s.opts.Replicas,
			MaxBytes:    orUnlimited(s.opts.MaxBytes),
			Discard:     jetstream.DiscardOld,
			AllowDirect: true,
		})
	} else {
		st, err = s.js.Stream(ctx, s.streamName(realm))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("history store: jetstream stream for realm %s: %w", realm, err)
	}
	s.mu.Lock()
	s.streams[realm] = st
	s.mu.Unlock()
	return st, nil
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// Append publishes the events in order and waits for every acknowledgement (each stored on
// Replicas nodes), then trims the logs the batch touched.
func (s *JetStreamStore) Append(ctx context.Context, realm wamp.URI, events []*HistoryEvent) error {
	if len(events) == 0 {
		return nil
	}
	st, err := s.stream(ctx, realm, true)
	if err != nil {
		return err
	}
	acks := make([]jetstream.PubAckFuture, len(events))
	for i, ev := range events {
		data, err := encodeHistoryEvent(ev)
		if err != nil {
			return err
		}
		msg := nats.NewMsg(s.subject(realm, ev.Log))
		msg.Data = data
		msg.Header.Set(timeHeader, strconv.FormatInt(ev.Time.UnixNano(), 10))
		// Expecting the stream by name keeps an event out of a stream someone else made
		// over the same subjects.
		if acks[i], err = s.js.PublishMsgAsync(msg, jetstream.WithExpectStream(st.CachedInfo().Config.Name)); err != nil {
			return fmt.Errorf("history store: jetstream append: %w", err)
		}
	}
	for i, f := range acks {
		select {
		case ack := <-f.Ok():
			events[i].Seq = ack.Sequence
		case err := <-f.Err():
			return fmt.Errorf("history store: jetstream append: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("history store: jetstream append: %w", ctx.Err())
		}
	}
	trimmed := make(map[string]bool, 1)
	now := time.Now()
	for _, ev := range events {
		if trimmed[ev.Log] {
			continue
		}
		trimmed[ev.Log] = true
		subject := s.subject(realm, ev.Log)
		if ev.Keep.Limit > 0 {
			if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeKeep(uint64(ev.Keep.Limit))); err != nil {
				return fmt.Errorf("history store: jetstream trim: %w", err)
			}
		}
		if ev.Keep.MaxAge > 0 {
			if err := s.trimAge(ctx, st, subject, now.Add(-ev.Keep.MaxAge)); err != nil {
				return err
			}
		}
	}
	return nil
}

// trimAge drops a log's events published before cutoff: it reads the log's oldest events a
// page at a time until one is recent enough and purges everything of the log before it.
func (s *JetStreamStore) trimAge(ctx context.Context, st jetstream.Stream, subject string, cutoff time.Time) error {
	name := st.CachedInfo().Config.Name
	var from uint64 = 1
	for {
		msgs, err := s.directBatch(ctx, name, directRequest{Seq: from, NextFor: subject, Batch: scanPage})
		if err != nil {
			return fmt.Errorf("history store: jetstream trim: %w", err)
		}
		var keepFrom uint64
		for _, m := range msgs {
			nanos, _ := strconv.ParseInt(m.Header.Get(timeHeader), 10, 64)
			if !time.Unix(0, nanos).Before(cutoff) {
				keepFrom = seqOf(m)
				break
			}
		}
		switch {
		case keepFrom != 0:
		case len(msgs) < scanPage:
			if len(msgs) == 0 {
				return nil
			}
			keepFrom = seqOf(msgs[len(msgs)-1]) + 1 // all of them expired
		default:
			from = seqOf(msgs[len(msgs)-1]) + 1
			continue
		}
		if keepFrom <= seqOf(msgs[0]) {
			return nil // the oldest is recent enough
		}
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(keepFrom)); err != nil {
			return fmt.Errorf("history store: jetstream trim: %w", err)
		}
		return nil
	}
}

// directRequest asks a stream for messages without a consumer (JetStream's direct get).
type directRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
}

// directBatch runs a batched direct get: up to req.Batch messages at or after req.Seq, in
// stream order, skipping deleted ones. The server ends the batch with a status message.
func (s *JetStreamStore) directBatch(ctx context.Context, stream string, req directRequest) ([]*nats.Msg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	inbox := s.nc.NewRespInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, body); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	var out []*nats.Msg
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, err
		}
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			switch m.Header.Get("Status") {
			case "204", "404": // end of batch; nothing (more) there
				return out, nil
			default:
				return nil, fmt.Errorf("direct get: status %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
			}
		}
		out = append(out, m)
		if len(out) == req.Batch {
			// The end-of-batch marker follows; the batch is complete without it.
			return out, nil
		}
	}
}

func seqOf(m *nats.Msg) uint64 {
	n, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	return n
}

// Scan reads the realm's events page by page. Forward, each page starts after the last
// event read; in reverse, pages are windows of sequence numbers walked down from the newest,
// widened while they come back sparse (logs trimmed in between leave gaps).
func (s *JetStreamStore) Scan(ctx context.Context, realm wamp.URI, reverse bool, fn func(*HistoryEvent) bool) error {
	st, err := s.stream(ctx, realm, false)
	if err != nil || st == nil {
		return err
	}
	name := st.CachedInfo().Config.Name
	emit := func(m *nats.Msg) (bool, error) {
		ev, err := decodeHistoryEvent(m.Data)
		if err != nil {
			return false, fmt.Errorf("history store: jetstream event %d: %w", seqOf(m), err)
		}
		ev.Seq = seqOf(m)
		return fn(ev), nil
	}
	if !reverse {
		from := uint64(1)
		for {
			msgs, err := s.directBatch(ctx, name, directRequest{Seq: from, Batch: scanPage})
			if err != nil {
				return fmt.Errorf("history store: jetstream scan: %w", err)
			}
			for _, m := range msgs {
				if more, err := emit(m); err != nil || !more {
					return err
				}
			}
			if len(msgs) < scanPage {
				return nil
			}
			from = seqOf(msgs[len(msgs)-1]) + 1
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("history store: jetstream scan: %w", err)
	}
	first, hi := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	window := uint64(scanPage)
	for hi >= first && hi > 0 {
		lo := uint64(1)
		if hi > window {
			lo = max(hi-window+1, first)
		}
		msgs, err := s.directBatch(ctx, name, directRequest{Seq: lo, Batch: scanPage})
		if err != nil {
			return fmt.Errorf("history store: jetstream scan: %w", err)
		}
		in := msgs[:0]
		for _, m := range msgs {
			if seqOf(m) <= hi {
				in = append(in, m)
			}
		}
		if len(in) == scanPage && seqOf(in[len(in)-1]) < hi {
			// The window holds more than a page: read its upper part first.
			window /= 2
			continue
		}
		for i := len(in) - 1; i >= 0; i-- {
			if more, err := emit(in[i]); err != nil || !more {
				return err
			}
		}
		if lo <= first {
			return nil
		}
		hi = lo - 1
		if len(in) < scanPage/4 && window < 1<<30 {
			window *= 2 // sparse: trimmed logs left gaps
		}
	}
	return nil
}
