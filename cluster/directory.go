package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Directory replicates what each node holds — its subscription patterns, its sessions and
// their testaments — to every other node, in memory. Each node writes only its own entries
// (Put, Delete); every change goes out as a delta numbered in the node's sequence, and a node
// that misses one, or meets a node it does not know (OnNodeUp, a new epoch), fetches that
// node's whole snapshot instead. When a node is called down its entries are dropped on every
// survivor, each reported to OnChange with NodeDown set.
//
// Core NATS carries it (no JetStream): entries die with their node, which is what a directory
// of live state needs, and a change costs one message per node.
type Directory struct {
	n    *Node
	name string

	mu       sync.Mutex
	seq      uint64
	own      map[string][]byte
	remote   map[string]*remoteEntries // by node name
	onChange []func(Change)

	subs   []*nats.Subscription
	wg     sync.WaitGroup // snapshot fetches started by OnNodeUp
	closed chan struct{}
}

type remoteEntries struct {
	epoch   uint64
	seq     uint64
	entries map[string][]byte
}

// Change is one entry of another node appearing, changing or going.
type Change struct {
	Node    string
	Key     string
	Value   []byte // nil when Deleted, but for NodeDown: the entry's last value
	Deleted bool
	// NodeDown: deleted because its node was called down (not by the node itself).
	NodeDown bool
}

type dirDelta struct {
	Node  string `json:"n"`
	Epoch uint64 `json:"e"`
	Seq   uint64 `json:"s"`
	Key   string `json:"k"`
	Value []byte `json:"v,omitempty"`
	Del   bool   `json:"d,omitempty"`
}

type dirSnapshot struct {
	Node    string            `json:"n"`
	Epoch   uint64            `json:"e"`
	Seq     uint64            `json:"s"`
	Entries map[string][]byte `json:"m"`
}

// NewDirectory starts the directory called name (letters, digits, '-', '_') on the node.
// Register OnChange before the first node is heard of, i.e. right after.
func NewDirectory(n *Node, name string) (*Directory, error) {
	d := &Directory{n: n, name: name, own: make(map[string][]byte), remote: make(map[string]*remoteEntries),
		closed: make(chan struct{})}
	for subj, h := range map[string]nats.MsgHandler{
		d.subject("delta"):          d.heardDelta,
		d.subject("beacon"):         d.heardBeacon,
		d.subject("sync", n.Name()): d.serveSnapshot,
	} {
		sub, err := n.Conn().Subscribe(subj, h)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("directory %s: %w", name, err)
		}
		d.subs = append(d.subs, sub)
	}
	n.OnNodeUp(func(p Peer) { d.spawnFetch(p.Name) })
	n.OnNodeDown(d.nodeDown)
	d.wg.Add(1)
	go d.beacon()
	// Peers already known (the directory started after them) are fetched now.
	for _, p := range n.Peers() {
		d.spawnFetch(p.Name)
	}
	return d, nil
}

func (d *Directory) subject(tokens ...string) string {
	return d.n.Subject(append([]string{"dir", d.name}, tokens...)...)
}

// beacon announces the node's sequence every Heartbeat, so that a peer that missed a delta
// (NATS delivers at most once, and a new subscription takes a moment to reach every server
// of the cluster) notices within a beat and fetches a snapshot.
func (d *Directory) beacon() {
	defer d.wg.Done()
	t := time.NewTicker(d.n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-d.closed:
			return
		case <-t.C:
		}
		d.mu.Lock()
		data, _ := json.Marshal(dirDelta{Node: d.n.Name(), Epoch: d.n.Epoch(), Seq: d.seq})
		d.mu.Unlock()
		_ = d.n.Conn().Publish(d.subject("beacon"), data)
	}
}

func (d *Directory) heardBeacon(m *nats.Msg) {
	var b dirDelta
	if json.Unmarshal(m.Data, &b) != nil || b.Node == d.n.Name() {
		return
	}
	d.mu.Lock()
	st := d.remote[b.Node]
	behind := st == nil || st.epoch != b.Epoch || st.seq < b.Seq
	d.mu.Unlock()
	if behind {
		d.fetch(b.Node)
	}
}

// spawnFetch fetches a node's snapshot on a goroutine of its own, unless the directory is
// closed (the node's callbacks outlive it).
func (d *Directory) spawnFetch(node string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closed:
		return
	default:
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.fetch(node)
	}()
}

// OnChange registers f for every change of another node's entries. It runs on NATS's
// goroutines, one change at a time per node; keep it short.
func (d *Directory) OnChange(f func(Change)) {
	d.mu.Lock()
	d.onChange = append(d.onChange, f)
	d.mu.Unlock()
}

// Close stops replicating.
func (d *Directory) Close() {
	select {
	case <-d.closed:
		return
	default:
	}
	d.mu.Lock() // no fetch is spawned once closed is: see spawnFetch
	close(d.closed)
	d.mu.Unlock()
	d.wg.Wait() // the beacon and the fetches first: they use the subscriptions' connection
	for _, s := range d.subs {
		_ = s.Unsubscribe()
	}
}

// Put sets one of this node's entries and tells the others. With wait it returns once every
// live peer has applied it (or NodeTimeout passed: a peer that does not answer by then is
// being called down).
func (d *Directory) Put(key string, value []byte, wait bool) error {
	return d.change(dirDelta{Key: key, Value: value}, wait)
}

// Delete removes one of this node's entries and tells the others.
func (d *Directory) Delete(key string, wait bool) error {
	return d.change(dirDelta{Key: key, Del: true}, wait)
}

// Settle returns once every live peer has applied every change this node made before it (or
// NodeTimeout passed): one round trip for any number of changes made without waiting.
func (d *Directory) Settle() error {
	return d.change(dirDelta{Key: settleKey, Del: true}, true)
}

// settleKey is no entry's key: deleting it changes nothing and is only acknowledged.
const settleKey = "\x00settle"

func (d *Directory) change(delta dirDelta, wait bool) error {
	var inbox *nats.Subscription
	var replySubj string
	if wait {
		replySubj = d.n.Conn().NewRespInbox()
		var err error
		if inbox, err = d.n.Conn().SubscribeSync(replySubj); err != nil {
			return err
		}
		defer inbox.Unsubscribe()
	}
	d.mu.Lock()
	d.seq++
	delta.Node, delta.Epoch, delta.Seq = d.n.Name(), d.n.Epoch(), d.seq
	if delta.Del {
		delete(d.own, delta.Key)
	} else {
		d.own[delta.Key] = delta.Value
	}
	data, _ := json.Marshal(delta)
	// Published under the lock: the wire carries the deltas in their sequence.
	err := d.n.Conn().PublishMsg(&nats.Msg{Subject: d.subject("delta"), Reply: replySubj, Data: data})
	d.mu.Unlock()
	if err != nil || !wait {
		return err
	}
	want := map[string]bool{}
	for _, p := range d.n.Peers() {
		want[p.Name] = true
	}
	// A peer that has not answered within a beat is sent the delta again (a new
	// subscription takes a moment to reach every server; it acknowledges a repeat too).
	deadline := time.Now().Add(d.n.cfg.NodeTimeout)
	retry := time.Now().Add(d.n.cfg.Heartbeat)
	for len(want) > 0 && time.Now().Before(deadline) {
		next := retry
		if deadline.Before(next) {
			next = deadline
		}
		m, err := inbox.NextMsg(time.Until(next))
		if err == nil {
			delete(want, string(m.Data))
			continue
		}
		if !errors.Is(err, nats.ErrTimeout) {
			return nil
		}
		if time.Now().After(retry) {
			retry = time.Now().Add(d.n.cfg.Heartbeat)
			_ = d.n.Conn().PublishMsg(&nats.Msg{Subject: d.subject("delta"), Reply: replySubj, Data: data})
		}
	}
	return nil // the silent ones are being called down
}

// Get reads an entry of any node: own entries under node "" or this node's name.
func (d *Directory) Get(node, key string) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if node == "" || node == d.n.Name() {
		v, ok := d.own[key]
		return v, ok
	}
	st := d.remote[node]
	if st == nil {
		return nil, false
	}
	v, ok := st.entries[key]
	return v, ok
}

// Each calls f for every entry of every node (this one's under its own name) whose key
// starts with prefix, under the directory's lock: f must not call the directory.
func (d *Directory) Each(prefix string, f func(node, key string, value []byte)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range d.own {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			f(d.n.Name(), k, v)
		}
	}
	for node, st := range d.remote {
		for k, v := range st.entries {
			if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
				f(node, k, v)
			}
		}
	}
}

func (d *Directory) fire(changes []Change) {
	if len(changes) == 0 {
		return
	}
	d.mu.Lock()
	fs := d.onChange
	d.mu.Unlock()
	for _, c := range changes {
		for _, f := range fs {
			f(c)
		}
	}
}

func (d *Directory) heardDelta(m *nats.Msg) {
	var delta dirDelta
	if json.Unmarshal(m.Data, &delta) != nil || delta.Node == d.n.Name() {
		return
	}
	d.mu.Lock()
	st := d.remote[delta.Node]
	inOrder := st != nil && st.epoch == delta.Epoch && delta.Seq == st.seq+1
	stale := st != nil && st.epoch == delta.Epoch && delta.Seq <= st.seq
	var changes []Change
	if inOrder {
		st.seq = delta.Seq
		c := Change{Node: delta.Node, Key: delta.Key}
		if delta.Del {
			if _, had := st.entries[delta.Key]; had {
				delete(st.entries, delta.Key)
				c.Deleted = true
				changes = append(changes, c)
			}
		} else {
			st.entries[delta.Key] = delta.Value
			c.Value = delta.Value
			changes = append(changes, c)
		}
	}
	d.mu.Unlock()
	applied := true
	if !inOrder && !stale {
		applied = d.fetch(delta.Node) // a gap, or a node not known yet: its snapshot holds this delta
	} else {
		d.fire(changes)
	}
	if m.Reply != "" && applied {
		_ = m.Respond([]byte(d.n.Name()))
	}
}

func (d *Directory) serveSnapshot(m *nats.Msg) {
	d.mu.Lock()
	snap := dirSnapshot{Node: d.n.Name(), Epoch: d.n.Epoch(), Seq: d.seq, Entries: d.own}
	data, _ := json.Marshal(snap)
	d.mu.Unlock()
	_ = m.Respond(data)
}

// fetch replaces what is known of node with its snapshot, and reports whether it could.
func (d *Directory) fetch(node string) bool {
	select {
	case <-d.closed:
		return false
	default:
	}
	m, err := d.n.Conn().Request(d.subject("sync", node), nil, d.n.cfg.NodeTimeout)
	if err != nil {
		d.n.log.Debug("cluster: directory snapshot not fetched", "directory", d.name, "peer", node, "err", err)
		return false
	}
	var snap dirSnapshot
	if err := json.Unmarshal(m.Data, &snap); err != nil || snap.Node != node {
		return false
	}
	d.mu.Lock()
	old := d.remote[node]
	if old != nil && old.epoch == snap.Epoch && old.seq >= snap.Seq {
		d.mu.Unlock() // already as new
		return true
	}
	var changes []Change
	if old != nil {
		for k := range old.entries {
			if _, still := snap.Entries[k]; !still || old.epoch != snap.Epoch {
				c := Change{Node: node, Key: k, Deleted: true, NodeDown: old.epoch != snap.Epoch}
				if c.NodeDown {
					c.Value = old.entries[k]
				}
				changes = append(changes, c)
			}
		}
	}
	if snap.Entries == nil {
		snap.Entries = map[string][]byte{}
	}
	for k, v := range snap.Entries {
		changes = append(changes, Change{Node: node, Key: k, Value: v})
	}
	d.remote[node] = &remoteEntries{epoch: snap.Epoch, seq: snap.Seq, entries: snap.Entries}
	d.mu.Unlock()
	d.fire(changes)
	return true
}

// nodeDown drops a node's entries, if they are of the epoch called down.
func (d *Directory) nodeDown(p Peer) {
	d.mu.Lock()
	st := d.remote[p.Name]
	if st == nil || st.epoch != p.Epoch {
		d.mu.Unlock()
		return
	}
	delete(d.remote, p.Name)
	changes := make([]Change, 0, len(st.entries))
	for k, v := range st.entries {
		changes = append(changes, Change{Node: p.Name, Key: k, Value: v, Deleted: true, NodeDown: true})
	}
	d.mu.Unlock()
	d.fire(changes)
}
