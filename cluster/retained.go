package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/wamp"
)

// Retained events cluster-wide.
//
// A retained publication is state, not traffic: a node that starts (or restarts) after it was
// published must still hand it to a subscriber asking with get_retained. So the cluster keeps
// the retained events in one JetStream key/value bucket, <cluster>_retained, replicated like
// the cluster's other state (Node.Replicas), with one key per realm and topic
// (base64url(realm) "." base64url(topic): any URI becomes a valid key, none is mistaken for
// another) and no history: the value is the latest retained publication of the topic, as the
// envelope the nodes exchange (raw payload, publisher details, black- and whitelists).
//
// The publishing node puts the event in the bucket before it sends it to the live nodes
// (which keep it and answer, see forwardRetained), so that it is kept once PUBLISHED is sent.
// Every node watches its realms' keys from the start of the bucket: the watch first replays
// what was retained before the node came, then follows every later change in the bucket's
// order. Attach waits for that replay, so a realm serves with the retained events published
// before it (up to the latest revision the bucket's stream leader knows: the watch may be served
// by the node's own replica, still catching up after a restart). As the watch applies changes in the order they were put, every node ends with the
// same event for a topic even when two nodes retain for it at once (the direct copy from the
// publisher may arrive before an older revision of the replay; the newer revision follows).
//
// Bounds: each node keeps only what its realm's retained_topics and retained_bytes allow (the
// publishing node refuses a publication beyond them before it reaches the bucket, and every
// node has the same realm configuration), so the bucket holds at most retained_topics keys per
// realm of at most max_payload bytes each.
type retainedWatch struct {
	rb     *RealmBus
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// stateTimeout bounds a JetStream operation on the retained events: NodeTimeout, but at
// least 5s, as a loaded JetStream (a leader election, a busy machine) can take longer than
// a short liveness bound and the event would be refused or missed for nothing.
func (rb *RealmBus) stateTimeout() time.Duration { return max(rb.ps.n.cfg.NodeTimeout, 5*time.Second) }

// retainedKey is the bucket key of a realm's topic.
func retainedKey(realm, topic wamp.URI) string {
	return retainedRealmKey(realm) + "." + base64.RawURLEncoding.EncodeToString([]byte(topic))
}

func retainedRealmKey(realm wamp.URI) string {
	return base64.RawURLEncoding.EncodeToString([]byte(realm))
}

// retainedBucket opens (making it when missing) the cluster's bucket of retained events.
func (ps *PubSub) retainedBucket(ctx context.Context) (jetstream.KeyValue, error) {
	ps.kvMu.Lock()
	defer ps.kvMu.Unlock()
	if ps.retained != nil {
		return ps.retained, nil
	}
	kv, err := ps.n.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ps.n.Bucket("retained"),
		Description: "Pawl retained events, per realm and topic", History: 1, Replicas: ps.n.Replicas()})
	if err != nil {
		return nil, fmt.Errorf("retained bucket: %w", err)
	}
	ps.retained = kv
	return kv, nil
}

// lastRetainedRevision asks the bucket's stream leader for the revision of the realm's latest
// retained event (0: none). The watch may be served by this node's own replica, which lags
// just after a restart: the replay counts as complete only once it reached this revision.
// (The leader answers STREAM.MSG.GET; a key/value Get is a direct get any replica answers.)
func (rb *RealmBus) lastRetainedRevision(ctx context.Context) (uint64, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + rb.ps.n.Bucket("retained") + "." + retainedRealmKey(rb.realm) + ".*"})
	m, err := rb.ps.n.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+rb.ps.n.Bucket("retained"), req)
	if err != nil {
		return 0, fmt.Errorf("latest retained event: %w", err)
	}
	var resp struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return 0, fmt.Errorf("latest retained event: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return 0, nil // nothing retained in the realm
	case resp.Error != nil:
		return 0, fmt.Errorf("latest retained event: %s", resp.Error.Description)
	case resp.Message == nil:
		return 0, nil
	}
	return resp.Message.Seq, nil
}

// putRetained keeps a retained publication's envelope in the bucket.
func (rb *RealmBus) putRetained(topic wamp.URI, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), rb.stateTimeout())
	defer cancel()
	kv, err := rb.ps.retainedBucket(ctx)
	if err == nil {
		_, err = kv.Put(ctx, retainedKey(rb.realm, topic), data)
	}
	if err != nil {
		return fmt.Errorf("%w: retained event not kept: %w", errNotServing, err)
	}
	return nil
}

// watchRetained starts following the realm's retained events into b, and waits (stateTimeout
// at most) until those retained before are in.
func (rb *RealmBus) watchRetained(b *pubsub.Local) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &retainedWatch{rb: rb, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	rb.ps.mu.Lock()
	if old := rb.watch; old != nil {
		old.stop()
	}
	rb.watch = w
	rb.ps.mu.Unlock()
	loaded := make(chan struct{})
	go w.run(b, loaded)
	select {
	case <-loaded:
	case <-rb.ps.n.setup.Done(): // the process is stopping
	case <-time.After(rb.stateTimeout()):
		rb.ps.n.log.Warn("cluster: retained events not all loaded yet; they follow", "realm", rb.realm)
	}
}

func (w *retainedWatch) stop() {
	w.cancel()
	<-w.done
}

// run follows the bucket until stopped, starting over (from the bucket's start) after an error.
func (w *retainedWatch) run(b *pubsub.Local, loaded chan struct{}) {
	defer close(w.done)
	var once sync.Once
	n := w.rb.ps.n
	for {
		err := w.follow(b, func() { once.Do(func() { close(loaded) }) })
		if w.ctx.Err() != nil {
			return
		}
		n.log.Warn("cluster: watch of retained events restarts", "realm", w.rb.realm, "err", err)
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(n.cfg.Heartbeat):
		}
	}
}

func (w *retainedWatch) follow(b *pubsub.Local, loaded func()) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.rb.stateTimeout())
	kv, err := w.rb.ps.retainedBucket(ctx)
	var target uint64
	if err == nil {
		target, err = w.rb.lastRetainedRevision(ctx)
	}
	var kw jetstream.KeyWatcher
	if err == nil {
		kw, err = kv.Watch(w.ctx, retainedRealmKey(w.rb.realm)+".*", jetstream.IgnoreDeletes())
	}
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		StopWatcher(kw)
		// Until the watch's delivery has ended (its channel closes), bounded in case the
		// connection is gone and never says so.
		bound := time.After(w.rb.stateTimeout())
		for {
			select {
			case _, ok := <-kw.Updates():
				if ok {
					continue
				}
			case <-bound:
			}
			return
		}
	}()
	var seen uint64
	replayed := false
	for {
		select {
		case <-w.ctx.Done():
			return nil
		case e, ok := <-kw.Updates():
			if !ok {
				return fmt.Errorf("watch ended")
			}
			if e == nil { // the replay is over: what was retained before is in, once seen up to target
				replayed = true
				if seen >= target {
					loaded()
				}
				continue
			}
			seen = max(seen, e.Revision())
			if replayed && seen >= target {
				loaded()
			}
			_, f, err := decodeForwarded(e.Value())
			if err != nil {
				w.rb.ps.n.log.Warn("cluster: undecodable retained event", "key", e.Key(), "err", err)
				continue
			}
			b.KeepRetained(f)
		}
	}
}
