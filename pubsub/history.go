package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/internal/uriindex"
	"github.com/pawl-wamp/pawl/wamp"
)

// HistoryConfig says which topics of a realm keep an event history (YAML key "history").
type HistoryConfig struct {
	Topics []HistoryRule `yaml:"topics"`
}

// HistoryRule is one topic or topic pattern with its retention. An event is kept under the
// rule that matches its topic best (exact, then the longest prefix, then wildcard, as
// pattern-based registrations are chosen); the limits apply to each rule's events together.
type HistoryRule struct {
	Topic wamp.URI `yaml:"topic"`
	// Match is "exact" (default), "prefix" or "wildcard".
	Match string `yaml:"match"`
	// Limit is the most events kept (0: no count limit).
	Limit int `yaml:"limit"`
	// MaxAge is how long an event is kept (0: no age limit). At least one limit is required.
	MaxAge time.Duration `yaml:"max_age"`
	// Durable (the default) acknowledges a publication (PUBLISHED) only once the batch
	// holding its event is committed to the store, so that what the router acknowledged
	// survives a crash; false acknowledges at once and writes behind.
	Durable *bool `yaml:"durable"`
}

func (r HistoryRule) durable() bool { return r.Durable == nil || *r.Durable }

// key names the rule's log in a store: "<match>:<topic>".
func (r HistoryRule) key() string { return r.match() + ":" + string(r.Topic) }

func (r HistoryRule) match() string {
	if r.Match == "" {
		return wamp.MatchExact
	}
	return r.Match
}

// Validate checks the rules: valid patterns, no duplicates, and a bound on each.
func (c HistoryConfig) Validate() error {
	seen := map[string]bool{}
	for i, r := range c.Topics {
		if !wamp.ValidPattern(r.Topic, r.match(), false) || r.Topic == "" {
			return fmt.Errorf("history.topics[%d]: invalid topic %q for match %q", i, r.Topic, r.Match)
		}
		if r.Limit < 0 || r.MaxAge < 0 {
			return fmt.Errorf("history.topics[%d] (%s): limit and max_age must not be negative", i, r.Topic)
		}
		if r.Limit == 0 && r.MaxAge == 0 {
			return fmt.Errorf("history.topics[%d] (%s): set limit, max_age or both", i, r.Topic)
		}
		if seen[r.key()] {
			return fmt.Errorf("history.topics[%d]: %s %s listed twice", i, r.match(), r.Topic)
		}
		seen[r.key()] = true
	}
	return nil
}

// Retention bounds one log of a history store.
type Retention struct {
	Limit  int           // most events kept; 0: no limit
	MaxAge time.Duration // oldest event kept; 0: no limit
}

// HistoryEvent is one stored publication.
type HistoryEvent struct {
	// Seq orders the events of a realm; the store assigns it on Append.
	Seq uint64
	// Log is the key of the history rule the event is kept under.
	Log         string
	Time        time.Time
	Topic       wamp.URI
	Publication wamp.ID
	// Details as subscribers got them (publisher identification, ppt_* options), without
	// the per-subscription "topic".
	Details wamp.Dict
	Args    wamp.List
	Kwargs  wamp.Dict
	Opaque  []byte // payload passthru: the one binary payload value
	// The publication's listing by authid and authrole (nil: option absent). Publications
	// listed by session ID are never stored (the spec's advice: session IDs do not survive).
	EligibleAuthID, ExcludeAuthID, EligibleAuthRole, ExcludeAuthRole []string

	// Keep is the retention of the event's log, applied by the store on Append; not stored.
	Keep Retention
}

// HistoryStore keeps the event history of the realms of one or more routers. Implementations:
// BoltStore (an embedded on-disk database, the default) and RedisStore (shared by routers).
// They are safe for concurrent use.
type HistoryStore interface {
	// Append stores events in order, giving each the next Seq of its realm, and trims each
	// event's log to its Keep.
	Append(ctx context.Context, realm wamp.URI, events []*HistoryEvent) error
	// Scan calls fn with the realm's stored events, oldest first (newest first with
	// reverse), until fn returns false. fn must not keep the event after returning.
	Scan(ctx context.Context, realm wamp.URI, reverse bool, fn func(*HistoryEvent) bool) error
	// Close releases the store.
	Close() error
}

// HistoryPinger is a HistoryStore that can say whether it is reachable (BoltStore and
// RedisStore are): the admin listener's /readyz asks.
type HistoryPinger interface {
	Ping(ctx context.Context) error
}

// encodeHistoryEvent serializes an event (MessagePack, binary-safe) for a store.
func encodeHistoryEvent(ev *HistoryEvent) ([]byte, error) {
	d := wamp.Dict{
		"v":     int64(1),
		"log":   ev.Log,
		"t":     ev.Time.UnixNano(),
		"topic": string(ev.Topic),
		"pub":   uint64(ev.Publication),
	}
	if len(ev.Details) > 0 {
		d["details"] = ev.Details
	}
	if ev.Args != nil {
		d["args"] = ev.Args
	}
	if ev.Kwargs != nil {
		d["kwargs"] = ev.Kwargs
	}
	if ev.Opaque != nil {
		d["opaque"] = ev.Opaque
	}
	for key, l := range map[string][]string{"eligible_authid": ev.EligibleAuthID, "exclude_authid": ev.ExcludeAuthID,
		"eligible_authrole": ev.EligibleAuthRole, "exclude_authrole": ev.ExcludeAuthRole} {
		if l != nil {
			list := make(wamp.List, len(l))
			for i, s := range l {
				list[i] = s
			}
			d[key] = list
		}
	}
	b, err := wamp.MsgPack.(wamp.ValueEncoder).EncodeValue(nil, d)
	if err != nil {
		return nil, fmt.Errorf("encode history event: %w", err)
	}
	return b, nil
}

// decodeHistoryEvent reverses encodeHistoryEvent; the store sets Seq.
func decodeHistoryEvent(data []byte) (*HistoryEvent, error) {
	v, err := wamp.DecodeMsgPackValue(data)
	if err != nil {
		return nil, fmt.Errorf("decode history event: %w", err)
	}
	d, ok := v.(wamp.Dict)
	if !ok {
		return nil, fmt.Errorf("decode history event: not a dict but %T", v)
	}
	ev := &HistoryEvent{}
	ev.Log, _ = d.String("log")
	nanos, _ := d.Int("t")
	ev.Time = time.Unix(0, nanos)
	topic, _ := d.String("topic")
	ev.Topic = wamp.URI(topic)
	ev.Publication, _ = wamp.AsID(d["pub"])
	ev.Details, _ = d.Dict("details")
	ev.Args, _ = d["args"].(wamp.List)
	ev.Kwargs, _ = d.Dict("kwargs")
	ev.Opaque, _ = d["opaque"].([]byte)
	ev.EligibleAuthID = stringList(d["eligible_authid"])
	ev.ExcludeAuthID = stringList(d["exclude_authid"])
	ev.EligibleAuthRole = stringList(d["eligible_authrole"])
	ev.ExcludeAuthRole = stringList(d["exclude_authrole"])
	return ev, nil
}

// history is a broker's event history: the rules, and a writer goroutine that appends events
// to the store in batches, so that publishers never wait for a disk or network write.
type history struct {
	store HistoryStore
	realm wamp.URI
	log   *slog.Logger
	rules atomic.Pointer[historyRules] // swapped whole by setRules; read without a lock

	mu      sync.RWMutex // guards closed against sends on queue
	closed  bool
	queue   chan historyItem
	queued  atomic.Int64 // payload bytes waiting for the writer
	done    chan struct{}
	dropped atomic.Int64 // events not kept because the queue was full
	written atomic.Int64 // events the store accepted
	failed  atomic.Int64 // events not kept because the store refused them (down, full)
}

// historyItem is an event to append, or (with flushed set) a barrier. stored, when set,
// is called by the writer once the event's batch is committed (nil) or failed.
type historyItem struct {
	ev      *HistoryEvent
	size    int64 // the payload's encoded bytes, counted against historyQueueBytes
	stored  func(error)
	flushed chan struct{}
}

// errHistoryBehind is what stored hears for an event the writer had no room for.
var errHistoryBehind = errors.New("history writer behind")

const (
	historyQueue = 4096 // events waiting for the writer; past it events are not kept (counted)
	historyBatch = 256  // most events in one Append
	// historyQueueBytes bounds the payload bytes waiting for the writer (their decoded
	// values take several times that): past it, as past historyQueue, events are not kept.
	historyQueueBytes = 64 << 20
	// historyGather is the longest the writer waits to gather durable publications into one
	// commit (see run): well under one commit's fsync.
	historyGather = time.Millisecond
)

// historyRules are a history's rules, indexed: never changed once built.
type historyRules struct {
	index *uriindex.Index[HistoryRule]
	keep  map[string]Retention // by rule key
}

func newHistoryRules(cfg HistoryConfig) *historyRules {
	rs := &historyRules{index: uriindex.New[HistoryRule](), keep: map[string]Retention{}}
	for _, r := range cfg.Topics {
		rs.index.Put(r.Topic, r.match(), r)
		rs.keep[r.key()] = Retention{Limit: r.Limit, MaxAge: r.MaxAge}
	}
	return rs
}

func newHistory(cfg HistoryConfig, store HistoryStore, realm wamp.URI, log *slog.Logger) *history {
	h := &history{store: store, realm: realm, log: log,
		queue: make(chan historyItem, historyQueue), done: make(chan struct{})}
	h.rules.Store(newHistoryRules(cfg))
	go h.run()
	return h
}

// setRules replaces the rules: publications from now on are kept (or not) by the new ones, and
// queries see the events of the rules that remain, with their new retention.
func (h *history) setRules(cfg HistoryConfig) { h.rules.Store(newHistoryRules(cfg)) }

// rule returns the rule a topic's events are kept under.
func (h *history) rule(topic wamp.URI) (HistoryRule, bool) {
	r, _, _, ok := h.rules.Load().index.Best(topic)
	return r, ok
}

// record queues an event for the store. It never waits: when the writer is behind (a store
// that is down or slow), the event still reaches its subscribers but is not kept in history;
// that is counted and logged, with doubling gaps so a long outage does not flood the log.
//
// stored, when not nil, is called once the event is committed to the store (nil) or will not
// be (an error): by the writer after its batch's Append, or right here when the writer has no
// room. It must not block: it runs on the writer goroutine.
func (h *history) record(ev *HistoryEvent, size int64, stored func(error)) {
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		if stored != nil {
			stored(errors.New("history closed"))
		}
		return
	}
	n := h.queued.Add(size)
	room := n <= historyQueueBytes || n == size // into an empty queue, one event of any size
	if room {
		select {
		case h.queue <- historyItem{ev: ev, size: size, stored: stored}:
		default:
			room = false
		}
	}
	if room {
		h.mu.RUnlock()
	} else {
		h.queued.Add(-size)
		h.mu.RUnlock()
		n := h.dropped.Add(1)
		if n&(n-1) == 0 { // 1, 2, 4, 8, ...
			h.log.Warn("event history: writer behind, events not kept", "topic", ev.Topic,
				"dropped_so_far", n, "queue", historyQueue, "queue_bytes", historyQueueBytes)
		}
		if stored != nil {
			stored(errHistoryBehind)
		}
	}
}

// Dropped is the number of events not kept in history because its writer was behind.
func (h *history) Dropped() int64 { return h.dropped.Load() }

// flush waits until every event recorded before it is in the store.
func (h *history) flush(ctx context.Context) error {
	ch := make(chan struct{})
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return errors.New("history closed")
	}
	select {
	case h.queue <- historyItem{flushed: ch}:
	case <-ctx.Done():
		h.mu.RUnlock()
		return ctx.Err()
	}
	h.mu.RUnlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer: it appends what is queued in batches, one store transaction each (a
// group commit: publishers waiting for a durable acknowledgement share one commit), then
// tells each event's publisher and each barrier.
//
// Publishers waiting for a durable acknowledgement publish again as soon as they hear it, a
// moment after the writer has started its next batch. So that they share a commit instead of
// each costing one, the writer waits up to historyGather for as many waiting publishers as
// its last batch acknowledged (never longer, so a lone publisher loses little).
func (h *history) run() {
	defer close(h.done)
	var w historyBatchState
	w.events = make([]*HistoryEvent, 0, historyBatch)
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	expect := 0 // durable publications acknowledged by the last batch
	for item := range h.queue {
		w.take(item)
		closed := false
	more:
		for len(w.events) < historyBatch {
			select {
			case item, ok := <-h.queue:
				if !ok {
					closed = true
					break more
				}
				w.take(item)
			default:
				break more
			}
		}
		if !closed && len(w.stored) > 0 && len(w.stored) < expect {
			gather.Reset(historyGather)
		wait:
			for len(w.stored) < expect && len(w.events) < historyBatch {
				select {
				case item, ok := <-h.queue:
					if !ok {
						break wait
					}
					w.take(item)
				case <-gather.C:
					break wait
				}
			}
			gather.Stop()
		}
		expect = len(w.stored)
		err := h.write(w.events)
		h.queued.Add(-w.size)
		for _, f := range w.stored {
			f(err)
		}
		for _, ch := range w.barriers {
			close(ch)
		}
		w.reset()
	}
}

// historyBatchState is what the writer gathered for one Append.
type historyBatchState struct {
	size     int64
	events   []*HistoryEvent
	stored   []func(error)
	barriers []chan struct{}
}

func (w *historyBatchState) take(item historyItem) {
	if item.flushed != nil {
		w.barriers = append(w.barriers, item.flushed)
		return
	}
	w.events = append(w.events, item.ev)
	w.size += item.size
	if item.stored != nil {
		w.stored = append(w.stored, item.stored)
	}
}

func (w *historyBatchState) reset() {
	clear(w.events)
	clear(w.stored)
	w.events, w.stored, w.barriers, w.size = w.events[:0], w.stored[:0], w.barriers[:0], 0
}

func (h *history) write(batch []*HistoryEvent) error {
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := h.store.Append(ctx, h.realm, batch)
	if err != nil {
		h.failed.Add(int64(len(batch)))
		h.log.Error("event history: events not stored", "events", len(batch), "err", err)
		return err
	}
	h.written.Add(int64(len(batch)))
	return nil
}

// close writes what is queued and stops the writer.
func (h *history) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.queue)
	h.mu.Unlock()
	<-h.done
}

// historyQuery is a parsed get_events request.
type historyQuery struct {
	matches func(topic wamp.URI) bool
	topic   wamp.URI // optional: only this concrete topic
	reverse bool
	limit   int // 0: all

	fromTime, afterTime, beforeTime, untilTime time.Time
	fromPub, afterPub, beforePub, untilPub     wamp.ID

	authID, authRole string // the caller's, for the listing rules
}

// parseHistoryQuery reads the spec's keyword arguments of wamp.subscription.get_events.
func parseHistoryQuery(kwargs wamp.Dict) (historyQuery, error) {
	var q historyQuery
	if v, ok := kwargs["reverse"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return q, wamp.NewError(wamp.ErrInvalidArgument, "reverse must be a bool")
		}
		q.reverse = b
	}
	if v, ok := kwargs["limit"]; ok && v != nil {
		n, isInt := wamp.AsInt64(v)
		if !isInt || n < 1 {
			return q, wamp.NewError(wamp.ErrInvalidArgument, "limit must be a positive integer")
		}
		q.limit = int(min(n, 1<<30))
	}
	if v, ok := kwargs["topic"]; ok {
		s, isString := v.(string)
		if !isString || !wamp.ValidURI(wamp.URI(s), false, false) {
			return q, wamp.NewError(wamp.ErrInvalidArgument, "topic must be a URI")
		}
		q.topic = wamp.URI(s)
	}
	for key, dst := range map[string]*time.Time{"from_time": &q.fromTime, "after_time": &q.afterTime,
		"before_time": &q.beforeTime, "until_time": &q.untilTime} {
		v, ok := kwargs[key]
		if !ok || v == nil {
			continue
		}
		s, isString := v.(string)
		if !isString {
			return q, wamp.NewError(wamp.ErrInvalidArgument, key+" must be an RFC 3339 timestamp string")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, wamp.NewError(wamp.ErrInvalidArgument, key+" must be an RFC 3339 timestamp: "+err.Error())
		}
		*dst = t
	}
	for key, dst := range map[string]*wamp.ID{"from_publication": &q.fromPub, "after_publication": &q.afterPub,
		"before_publication": &q.beforePub, "until_publication": &q.untilPub} {
		v, ok := kwargs[key]
		if !ok || v == nil {
			continue
		}
		id, isID := wamp.AsID(v)
		if !isID {
			return q, wamp.NewError(wamp.ErrInvalidArgument, key+" must be a publication ID")
		}
		*dst = id
	}
	return q, nil
}

// query runs q against the store: events whose topic matches, visible to the caller, within
// the time and publication bounds, in order (or reverse order), at most q.limit of them.
func (h *history) query(ctx context.Context, q historyQuery) ([]*HistoryEvent, error) {
	if err := h.flush(ctx); err != nil {
		return nil, fmt.Errorf("event history: %w", err)
	}
	now := time.Now()
	// Publication bounds are positions in the log. Scanning forward, from/after open the
	// window and before/until close it; scanning backward the roles swap.
	openPub, openInclusive := q.fromPub, true
	if q.afterPub != 0 {
		openPub, openInclusive = q.afterPub, false
	}
	closePub, closeInclusive := q.untilPub, true
	if q.beforePub != 0 {
		closePub, closeInclusive = q.beforePub, false
	}
	if q.reverse {
		openPub, closePub = closePub, openPub
		openInclusive, closeInclusive = closeInclusive, openInclusive
	}
	open := openPub == 0
	var out []*HistoryEvent
	err := h.store.Scan(ctx, h.realm, q.reverse, func(ev *HistoryEvent) bool {
		if !open {
			if ev.Publication != openPub {
				return true
			}
			open = true
			if !openInclusive {
				return true
			}
		}
		last := closePub != 0 && ev.Publication == closePub
		if last && !closeInclusive {
			return false
		}
		if h.visible(ev, q, now) {
			out = append(out, ev)
			if q.limit > 0 && len(out) >= q.limit {
				return false
			}
		}
		return !last
	})
	if err != nil {
		return nil, fmt.Errorf("event history: %w", err)
	}
	return out, nil
}

// visible applies a query's per-event conditions.
func (h *history) visible(ev *HistoryEvent, q historyQuery, now time.Time) bool {
	keep, ok := h.rules.Load().keep[ev.Log]
	if !ok {
		return false // kept under a rule that is no longer configured
	}
	if keep.MaxAge > 0 && now.Sub(ev.Time) > keep.MaxAge {
		return false
	}
	if !q.matches(ev.Topic) || q.topic != "" && ev.Topic != q.topic {
		return false
	}
	switch {
	case !q.fromTime.IsZero() && ev.Time.Before(q.fromTime),
		!q.afterTime.IsZero() && !ev.Time.After(q.afterTime),
		!q.beforeTime.IsZero() && !ev.Time.Before(q.beforeTime),
		!q.untilTime.IsZero() && ev.Time.After(q.untilTime):
		return false
	}
	l := listing{eligibleAuthID: ev.EligibleAuthID, excludeAuthID: ev.ExcludeAuthID,
		eligibleAuthRole: ev.EligibleAuthRole, excludeAuthRole: ev.ExcludeAuthRole}
	return l.allowsIdentity(0, q.authID, q.authRole)
}

// timestamp formats times as the meta API does (RFC 3339, UTC, milliseconds).
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// historyResult is one event as get_events returns it: the spec's Event object (with the
// concrete topic, and the binary payload under "payload" for payload passthru events).
func historyResult(ev *HistoryEvent, subscription wamp.ID) wamp.Dict {
	details := ev.Details
	if details == nil {
		details = wamp.Dict{}
	}
	d := wamp.Dict{
		"timestamp":   ev.Time.UTC().Format(time.RFC3339Nano),
		"publication": ev.Publication,
		"topic":       string(ev.Topic),
		"details":     details,
	}
	if subscription != 0 {
		d["subscription"] = subscription
	}
	if ev.Opaque != nil {
		d["payload"] = ev.Opaque
		return d
	}
	args, kwargs := ev.Args, ev.Kwargs
	if args == nil {
		args = wamp.List{}
	}
	if kwargs == nil {
		kwargs = wamp.Dict{}
	}
	d["args"], d["kwargs"] = args, kwargs
	return d
}
