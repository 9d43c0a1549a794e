package clustered

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/internal/uriindex"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// calleeRecord is one callee of a registration as the directory holds it: a session of one
// run (epoch) of one node.
type calleeRecord struct {
	Node    string  `json:"node"`
	Epoch   uint64  `json:"epoch"`
	Session wamp.ID `json:"session"`
}

// entry is one registration of the realm, cluster-wide: the value of its directory key.
// Callees are in the order they registered, on whichever node.
type entry struct {
	ID      wamp.ID        `json:"id"`
	URI     wamp.URI       `json:"uri"`
	Match   string         `json:"match"`
	Invoke  string         `json:"invoke"`
	Created time.Time      `json:"created"`
	Callees []calleeRecord `json:"callees"`

	rev    uint64        // the key's revision this value is
	remote bool          // some callee is on another node
	cursor atomic.Uint64 // this node's round-robin position
}

// directory is the realm's registrations in a JetStream key-value bucket shared by every node
// (one key per procedure pattern), and this node's copy of it, kept current by a watcher and
// by this node's own writes. Every change is a compare-and-set on the key's revision, so two
// nodes registering the same procedure at once cannot both create it: one's create fails and
// it re-reads what the other wrote.
type directory struct {
	kv        jetstream.KeyValue
	prefix    string // "<realm token>."
	self      string
	epoch     func() uint64
	meta      func(topic wamp.URI, args ...any)
	log       *slog.Logger
	wmu       sync.Mutex // guards the watcher fields, replaced by rewatch
	watcher   jetstream.KeyWatcher
	watchDone chan struct{}
	// life ends with close: background work stops, and a watch still being set up (a
	// JetStream request) gives up.
	life      context.Context
	endLife   context.CancelFunc
	retrying  sync.WaitGroup
	stopWatch context.CancelFunc

	// peers counts the other nodes alive: a change waits until each has it in its copy.
	peers       func() int
	nc          *nats.Conn
	js          jetstream.JetStream
	syncSub     *nats.Subscription
	syncSubject string

	mu      sync.RWMutex
	applied uint64 // the latest revision in the copy
	waiters []syncWaiter
	index   *uriindex.Index[*entry]
	byID    map[wamp.ID]*entry
	byKey   map[string]*entry
	removed map[string]uint64 // revision of keys deleted, so that an older update is not applied
}

var token = base32.HexEncoding.WithPadding(base32.NoPadding)

// encodeToken makes a URI (or any string) one NATS subject token or key part: base32hex has
// no dots, wildcards or spaces, and cannot be ambiguous.
func encodeToken(s string) string { return token.EncodeToString([]byte(s)) }

// openDirectory opens (creating if needed) the registrations bucket and starts watching the
// realm's keys; it returns once the copy holds everything already there.
func openDirectory(ctx context.Context, node Node, realm wamp.URI, peers func() int, meta func(wamp.URI, ...any), log *slog.Logger) (*directory, error) {
	kv, err := node.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      node.Bucket("registrations"),
		Description: "Pawl: the registrations of every realm, cluster-wide",
		History:     1,
		Storage:     jetstream.MemoryStorage, // live state: gone with the sessions it lists
		Replicas:    node.Replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("registrations directory: %w", err)
	}
	d := &directory{kv: kv, prefix: encodeToken(string(realm)) + ".", self: node.Name(), epoch: node.Epoch,
		meta: meta, log: log, peers: peers, nc: node.Conn(), js: node.JetStream(), syncSubject: node.Subject("rpc", encodeToken(string(realm)), "sync"), index: uriindex.New[*entry](), byID: map[wamp.ID]*entry{}, byKey: map[string]*entry{},
		removed: map[string]uint64{}}
	d.life, d.endLife = context.WithCancel(context.Background())
	ready, err := d.startWatch()
	if err != nil {
		d.endLife()
		return nil, err
	}
	select {
	case <-ready:
	case <-ctx.Done():
		d.close()
		return nil, fmt.Errorf("registrations directory: initial values: %w", ctx.Err())
	}
	if d.syncSub, err = d.nc.Subscribe(d.syncSubject, d.syncRequested); err != nil {
		d.close()
		return nil, fmt.Errorf("registrations directory: %w", err)
	}
	return d, nil
}

// syncWaiter is another node waiting until this node's copy holds a revision.
type syncWaiter struct {
	rev   uint64
	reply string
}

// maxSyncWaiters bounds the waiters kept; past it the oldest is dropped (it times out).
const maxSyncWaiters = 1024

// syncRequested answers another node that changed the directory once this node's copy holds
// that change.
func (d *directory) syncRequested(m *nats.Msg) {
	rev, err := strconv.ParseUint(string(m.Data), 10, 64)
	if err != nil || m.Reply == "" {
		return
	}
	d.mu.Lock()
	if d.applied >= rev {
		d.mu.Unlock()
		m.Respond(nil)
		return
	}
	if len(d.waiters) >= maxSyncWaiters {
		d.waiters = d.waiters[1:]
	}
	d.waiters = append(d.waiters, syncWaiter{rev, m.Reply})
	d.mu.Unlock()
}

// syncTimeout bounds how long a change waits for the other nodes' copies: a node that does
// not answer by then is going down, and the change stands anyway.
const syncTimeout = 2 * time.Second

// synced waits until every live node's copy holds revision rev, so that what a REGISTERED
// (or UNREGISTERED) tells one client holds on every node for the next: a call on any node
// after it reaches the new callee.
func (d *directory) synced(rev uint64) {
	want := d.peers()
	if want <= 0 {
		return
	}
	inbox := d.nc.NewRespInbox()
	sub, err := d.nc.SubscribeSync(inbox)
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	if err := d.nc.PublishRequest(d.syncSubject, inbox, []byte(strconv.FormatUint(rev, 10))); err != nil {
		return
	}
	deadline := time.Now().Add(syncTimeout)
	for got := 0; got < want+1; got++ { // every node answers, this one too
		if _, err := sub.NextMsg(time.Until(deadline)); err != nil {
			d.log.Warn("registrations directory: not every node confirmed a change in time", "confirmed", got, "nodes", want+1)
			return
		}
	}
}

// startWatch starts a watcher of the realm's keys; ready closes once the copy holds every
// value there was when it started.
func (d *directory) startWatch() (chan struct{}, error) {
	ctx, stop := context.WithCancel(d.life)
	w, err := d.kv.Watch(ctx, d.prefix+">")
	if err != nil {
		stop()
		return nil, fmt.Errorf("registrations directory: watch: %w", err)
	}
	ready, done := make(chan struct{}), make(chan struct{})
	d.wmu.Lock()
	d.watcher, d.stopWatch, d.watchDone = w, stop, done
	d.wmu.Unlock()
	go d.watch(w, ready, done)
	return ready, nil
}

// stopWatching stops the current watcher and waits for its goroutine.
func (d *directory) stopWatching() {
	d.wmu.Lock()
	w, stop, done := d.watcher, d.stopWatch, d.watchDone
	d.watcher = nil
	d.wmu.Unlock()
	if w != nil {
		cluster.StopWatcher(w)
		stop()
		<-done
	}
}

// rewatch replaces the watcher: after a node's loss its consumer may have been on that node
// and would stay silent until the client library notices; a fresh one resumes at once.
func (d *directory) rewatch() {
	select {
	case <-d.life.Done():
		return
	default:
	}
	d.stopWatching()
	if _, err := d.startWatch(); err != nil {
		d.log.Warn("registrations directory: watch again", "err", err)
	}
}

// watch applies the bucket's changes to the copy until the watcher stops. The first nil
// marks the end of the values already there: a key the copy holds that was not among them
// was deleted while no watcher ran.
func (d *directory) watch(w jetstream.KeyWatcher, ready, done chan struct{}) {
	defer close(done)
	initial := map[string]bool{}
	for e := range w.Updates() {
		if e == nil {
			if initial != nil {
				d.mu.Lock()
				for key, v := range d.byKey {
					if !initial[key] {
						d.index.Delete(v.URI, v.Match)
						delete(d.byID, v.ID)
						delete(d.byKey, key)
						d.removed[key] = v.rev // what it was is stale, should it come again
					}
				}
				d.mu.Unlock()
				initial = nil
				close(ready)
			}
			continue
		}
		if initial != nil {
			initial[e.Key()] = true
		}
		if e.Operation() != jetstream.KeyValuePut {
			d.apply(e.Key(), e.Revision(), nil)
			continue
		}
		var v entry
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			d.log.Warn("registrations directory: bad value", "key", e.Key(), "err", err)
			continue
		}
		d.apply(e.Key(), e.Revision(), &v)
	}
	if initial != nil {
		close(ready)
	}
}

func (d *directory) close() {
	d.endLife() // a rewatch after a node's loss may wait on JetStream: it gives up now
	d.retrying.Wait()
	if d.syncSub != nil {
		d.syncSub.Unsubscribe()
	}
	d.stopWatching()
}

// apply puts a key's value at a revision into the copy (nil: deleted), unless the copy
// already holds a later one: this node's own writes arrive twice, once directly and once
// through the watcher.
func (d *directory) apply(key string, rev uint64, v *entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rev > d.applied {
		d.applied = rev
		kept := d.waiters[:0]
		for _, w := range d.waiters {
			if w.rev <= rev {
				d.nc.Publish(w.reply, nil)
			} else {
				kept = append(kept, w)
			}
		}
		clear(d.waiters[len(kept):])
		d.waiters = kept
	}
	old := d.byKey[key]
	if old != nil && old.rev >= rev || d.removed[key] >= rev {
		return
	}
	if old != nil {
		d.index.Delete(old.URI, old.Match)
		delete(d.byID, old.ID)
		delete(d.byKey, key)
	}
	if v == nil {
		if len(d.removed) >= maxRemembered {
			// Deleted keys are remembered only to ignore a late, older update of them;
			// many procedures come and go, so the memory is bounded.
			clear(d.removed)
		}
		d.removed[key] = rev
		return
	}
	delete(d.removed, key)
	v.rev = rev
	for _, c := range v.Callees {
		if c.Node != d.self {
			v.remote = true
		}
	}
	d.index.Put(v.URI, v.Match, v)
	d.byID[v.ID] = v
	d.byKey[key] = v
}

func (d *directory) key(procedure wamp.URI, match string) string {
	return d.prefix + encodeToken(match+":"+string(procedure))
}

// maxRemembered bounds the deleted keys the copy remembers.
const maxRemembered = 4096

// casAttempts bounds the compare-and-set retries of one change: each retry means another
// node changed the same key in between.
const casAttempts = 64

// errConflict is a compare-and-set that lost to another node's write.
func isConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var jerr jetstream.JetStreamError
	if errors.As(err, &jerr) && jerr.APIError() != nil {
		code := jerr.APIError().ErrorCode
		return code == jetstream.JSErrCodeStreamWrongLastSequence || code == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// read returns a key's value and revision (nil, 0 when absent).
func (d *directory) read(ctx context.Context, key string) (*entry, uint64, error) {
	e, err := d.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var v entry
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, 0, fmt.Errorf("bad value under %s: %w", key, err)
	}
	return &v, e.Revision(), nil
}

func newRegistrationID() wamp.ID { return wamp.ID(rand.Uint64N(uint64(wamp.MaxID)) + 1) }

// Join implements rpc.Directory.
func (d *directory) Join(s *session.Session, procedure wamp.URI, match, invoke string) (wamp.ID, bool, error) {
	ctx, cancel := context.WithTimeout(s.Context(), 10*time.Second)
	defer cancel()
	key := d.key(procedure, match)
	me := calleeRecord{Node: d.self, Epoch: d.epoch(), Session: s.ID}
	for attempt := 0; attempt < casAttempts; attempt++ {
		v, rev, err := d.read(ctx, key)
		if err != nil {
			return 0, false, fmt.Errorf("registrations directory: %w", err)
		}
		if v == nil {
			v = &entry{ID: newRegistrationID(), URI: procedure, Match: match, Invoke: invoke,
				Created: time.Now().UTC(), Callees: []calleeRecord{me}}
			data, _ := json.Marshal(v)
			rev, err := d.kv.Create(ctx, key, data)
			if isConflict(err) {
				continue // another node created it first: join theirs, or be refused by it
			}
			if err != nil {
				return 0, false, fmt.Errorf("registrations directory: %w", err)
			}
			d.apply(key, rev, v)
			d.synced(rev)
			return v.ID, true, nil
		}
		for _, c := range v.Callees {
			if c.Session == s.ID {
				return 0, false, wamp.NewError(wamp.ErrProcedureAlreadyExists, "this session already registered "+string(procedure))
			}
		}
		if v.Invoke == rpc.InvokeSingle || v.Invoke != invoke {
			return 0, false, wamp.NewError(wamp.ErrProcedureAlreadyExists,
				"procedure "+string(procedure)+" is already registered with invocation policy "+v.Invoke)
		}
		v.Callees = append(v.Callees, me)
		data, _ := json.Marshal(v)
		nrev, err := d.kv.Update(ctx, key, data, rev)
		if isConflict(err) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("registrations directory: %w", err)
		}
		d.apply(key, nrev, v)
		d.synced(nrev)
		return v.ID, false, nil
	}
	return 0, false, fmt.Errorf("registrations directory: %s changes too fast", procedure)
}

// Leave implements rpc.Directory.
func (d *directory) Leave(s *session.Session, id wamp.ID, procedure wamp.URI, match string) bool {
	deleted, _, err := d.remove(d.key(procedure, match), func(c calleeRecord) bool { return c.Session == s.ID && c.Node == d.self }, true)
	if err != nil {
		// Left behind in the directory: calls routed to it here find no callee and fail with
		// no_such_procedure; this node's loss, or a restart, clears it.
		d.log.Warn("registrations directory: a callee could not be removed", "procedure", procedure, "err", err)
	}
	return deleted
}

// remove takes the callees drop selects off a key, deleting the key when none is left. It
// reports whether it deleted the key, and which callees it removed.
func (d *directory) remove(key string, drop func(calleeRecord) bool, sync bool) (bool, []calleeRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for attempt := 0; attempt < casAttempts; attempt++ {
		v, rev, err := d.read(ctx, key)
		if err != nil {
			return false, nil, fmt.Errorf("registrations directory: read %s: %w", key, err)
		}
		if v == nil {
			d.forget(ctx, key)
			return false, nil, nil
		}
		kept := v.Callees[:0:0]
		var gone []calleeRecord
		for _, c := range v.Callees {
			if drop(c) {
				gone = append(gone, c)
			} else {
				kept = append(kept, c)
			}
		}
		if len(gone) == 0 {
			return false, nil, nil
		}
		if len(kept) == 0 {
			err := d.kv.Delete(ctx, key, jetstream.LastRevision(rev))
			if isConflict(err) {
				continue
			}
			if err != nil {
				return false, nil, fmt.Errorf("registrations directory: delete %s: %w", key, err)
			}
			d.apply(key, rev+1, nil) // the delete marker's revision is at least rev+1
			if sync {
				d.syncDelete(ctx, key)
			}
			return true, gone, nil
		}
		v.Callees = kept
		data, _ := json.Marshal(v)
		nrev, err := d.kv.Update(ctx, key, data, rev)
		if isConflict(err) {
			continue
		}
		if err != nil {
			return false, nil, fmt.Errorf("registrations directory: update %s: %w", key, err)
		}
		d.apply(key, nrev, v)
		if sync {
			d.synced(nrev)
		}
		return false, gone, nil
	}
	return false, nil, fmt.Errorf("registrations directory: %s changes too fast", key)
}

// forget brings a key found deleted into the copy at the delete's revision, without waiting
// for the watcher (which may lag after a node's loss).
func (d *directory) forget(ctx context.Context, key string) {
	d.mu.RLock()
	_, held := d.byKey[key]
	d.mu.RUnlock()
	if !held {
		return
	}
	bucket := d.kv.Bucket()
	st, err := d.js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return
	}
	m, err := st.GetLastMsgForSubject(ctx, "$KV."+bucket+"."+key)
	if err != nil {
		return
	}
	if op := m.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
		d.apply(key, m.Sequence, nil)
	}
}

// nodeDown removes the callees of a node's run that is gone from every registration,
// publishing the meta events its own dealer can no longer publish. Every surviving node
// does this; compare-and-set makes each removal happen once, and only the node that made it
// publishes its events. JetStream may be electing new leaders right after a node's loss, so
// failed removals are retried (in the background, for up to nodeDownRetry).
func (d *directory) nodeDown(node string, epoch uint64, stillDown, serving func() bool) {
	d.mu.RLock()
	var keys []string
	for key, v := range d.byKey {
		for _, c := range v.Callees {
			if c.Node == node && c.Epoch == epoch {
				keys = append(keys, key)
				break
			}
		}
	}
	d.mu.RUnlock()
	d.retrying.Add(2)
	go func() {
		defer d.retrying.Done()
		d.rewatch()
	}()
	go func() {
		defer d.retrying.Done()
		deadline := time.Now().Add(nodeDownRetry)
		for len(keys) > 0 {
			var failed []string
			var lastErr error
			if !stillDown() {
				return
			}
			for _, key := range keys {
				select {
				case <-d.life.Done():
					return
				default:
				}
				if !serving() {
					failed, lastErr = append(failed, key), errors.New("this node is cut off from the cluster")
					continue
				}
				d.mu.RLock()
				id := wamp.ID(0)
				if v := d.byKey[key]; v != nil {
					id = v.ID
				}
				d.mu.RUnlock()
				deleted, gone, err := d.remove(key, func(c calleeRecord) bool { return c.Node == node && c.Epoch == epoch }, false)
				if err != nil {
					failed, lastErr = append(failed, key), err
					continue
				}
				for _, c := range gone {
					d.meta("wamp.registration.on_unregister", c.Session, id)
				}
				if deleted && len(gone) > 0 {
					d.meta("wamp.registration.on_delete", gone[len(gone)-1].Session, id)
				}
			}
			keys = failed
			if len(keys) == 0 {
				return
			}
			if time.Now().After(deadline) {
				d.log.Error("registrations directory: a dead node's callees could not be removed", "node", node,
					"registrations", len(keys), "err", lastErr)
				return
			}
			select {
			case <-d.life.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

// nodeDownRetry bounds how long a node keeps trying to remove a dead node's callees.
const nodeDownRetry = time.Minute

// syncDelete waits for the other nodes to see a key's deletion, whose revision Delete does
// not return: the stream under the bucket holds the delete marker (or a later write).
func (d *directory) syncDelete(ctx context.Context, key string) {
	if d.peers() <= 0 {
		return
	}
	bucket := d.kv.Bucket()
	st, err := d.js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return
	}
	if m, err := st.GetLastMsgForSubject(ctx, "$KV."+bucket+"."+key); err == nil {
		d.synced(m.Sequence)
	}
}

// best is the registration a call to uri reaches, cluster-wide, or nil.
func (d *directory) best(uri wamp.URI) *entry {
	d.mu.RLock()
	v, _, _, ok := d.index.Best(uri)
	d.mu.RUnlock()
	if !ok {
		return nil
	}
	return v
}

func (d *directory) get(uri wamp.URI, match string) *entry {
	d.mu.RLock()
	v, _ := d.index.Get(uri, match)
	d.mu.RUnlock()
	return v
}

func (d *directory) byRegistration(id wamp.ID) *entry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.byID[id]
}

// ids lists the registration IDs by match policy, each list in ascending order.
func (d *directory) ids() map[string][]wamp.ID {
	out := map[string][]wamp.ID{wamp.MatchExact: {}, wamp.MatchPrefix: {}, wamp.MatchWildcard: {}}
	d.mu.RLock()
	for _, v := range d.byKey {
		out[v.Match] = append(out[v.Match], v.ID)
	}
	d.mu.RUnlock()
	for _, ids := range out {
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	}
	return out
}
