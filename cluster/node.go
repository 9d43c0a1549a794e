package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pawl-wamp/pawl/wamp"
)

// ErrUnavailable is what a node that is cut off from its cluster answers new work with: its
// view of the cluster may be stale, so it serves nobody rather than a split view. Its URI is
// the one sessions see in ABORT and ERROR.
var ErrUnavailable = errors.New("this node is cut off from its cluster")

// URIUnavailable is the WAMP error URI of ErrUnavailable.
const URIUnavailable wamp.URI = "pawl.error.cluster_unavailable"

// MaxSlots is the number of nodes a cluster may hold at once: a node's slot fills the top 10
// of a session ID's 53 bits.
const MaxSlots = 1023

// Peer is another node as this one last heard of it.
type Peer struct {
	Name string
	// Epoch identifies one run of the node: a restart, or a rejoin after it was called down,
	// is a new epoch, and what the old one held is gone.
	Epoch    uint64
	Slot     int
	LastSeen time.Time
}

// Options are what a node needs besides its Config.
type Options struct {
	// DataDir is the default parent of an embedded server's store directory.
	DataDir string
	Logger  *slog.Logger
	// Context, when set, cuts short the waits a realm's setup makes for the cluster (its
	// retained events) once it ends: a process told to stop while its cluster has no
	// quorum yet stops at once. Nil: those waits run to their own bounds.
	Context context.Context
}

// Node is this process's membership of a cluster. Its methods are safe for concurrent use.
type Node struct {
	cfg Config
	log *slog.Logger
	srv *server.Server // the embedded server, or nil
	nc  *nats.Conn
	js  jetstream.JetStream

	epoch atomic.Uint64
	slot  atomic.Int32 // 0 until claimed
	// refreshed is when the slot was last confirmed (unix nanoseconds): the node serves only
	// while that is within NodeTimeout.
	refreshed atomic.Int64
	lost      atomic.Bool  // cut off for NodeTimeout: its peers have dropped its state
	joinedAt  atomic.Int64 // when the slot was claimed (unix nanoseconds)
	// disconnectedAt is when the NATS connection went down (unix nanoseconds), 0 while up;
	// heardAt is when a peer's heartbeat last came.
	disconnectedAt, heardAt atomic.Int64

	hbSub *nats.Subscription

	mu        sync.Mutex
	peers     map[string]*Peer
	onUp      []func(Peer)
	onDown    []func(Peer)
	onLost    []func()
	onRejoin  []func()
	slots     jetstream.KeyValue
	slotRev   uint64
	readyCh   chan struct{}
	readyDone bool

	stop chan struct{}
	wg   sync.WaitGroup // run and refresher

	setup context.Context // Options.Context
}

// Start joins the cluster: it starts the embedded server if configured, connects, and starts
// the heartbeat. It returns once connected; the node serves (Err is nil, Ready returns) once
// it has claimed its slot, which needs JetStream's quorum.
func Start(cfg Config, opts Options) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	n := &Node{cfg: cfg, log: log.With("node", cfg.Node), peers: make(map[string]*Peer),
		readyCh: make(chan struct{}), stop: make(chan struct{}), setup: opts.Context}
	if n.setup == nil {
		n.setup = context.Background()
	}
	n.epoch.Store(newEpoch())
	var natsOpts []nats.Option
	natsOpts = append(natsOpts, nats.Name("pawl "+cfg.Node), nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.Heartbeat), nats.RetryOnFailedConnect(true),
		nats.PingInterval(cfg.Heartbeat), nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.disconnectedAt.CompareAndSwap(0, time.Now().UnixNano())
			n.log.Warn("cluster: NATS connection lost: refusing new work until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			n.disconnectedAt.Store(0)
			n.log.Info("cluster: NATS connection back")
		}))
	url := ""
	if cfg.Embedded != nil {
		if n.srv, err = startEmbedded(cfg, opts.DataDir); err != nil {
			return nil, err
		}
		natsOpts = append(natsOpts, nats.InProcessServer(n.srv))
	} else {
		more, err := cfg.NATS.options()
		if err != nil {
			return nil, err
		}
		natsOpts = append(natsOpts, more...)
		for i, u := range cfg.NATS.URLs {
			if i > 0 {
				url += ","
			}
			url += u
		}
	}
	if n.nc, err = nats.Connect(url, natsOpts...); err != nil {
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	if n.js, err = jetstream.New(n.nc); err != nil {
		n.nc.Close()
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: JetStream: %w", err)
	}
	if n.hbSub, err = n.nc.Subscribe(n.Subject("hb"), n.heard); err != nil {
		n.nc.Close()
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: subscribe to heartbeats: %w", err)
	}
	n.wg.Add(2)
	go n.run()
	go n.refresher()
	return n, nil
}

func (c *NATSConfig) options() ([]nats.Option, error) {
	var o []nats.Option
	password, token := c.Password, c.Token
	if c.PasswordEnv != "" {
		password = os.Getenv(c.PasswordEnv)
	}
	if c.TokenEnv != "" {
		token = os.Getenv(c.TokenEnv)
	}
	switch {
	case c.User != "":
		o = append(o, nats.UserInfo(c.User, password))
	case token != "":
		o = append(o, nats.Token(token))
	case c.Creds != "":
		o = append(o, nats.UserCredentials(c.Creds))
	case c.NKeySeed != "":
		opt, err := nats.NkeyOptionFromSeed(c.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("cluster.nats.nkey_seed: %w", err)
		}
		o = append(o, opt)
	}
	if t := c.TLS; t != nil {
		if t.CA != "" {
			o = append(o, nats.RootCAs(t.CA))
		}
		if t.Cert != "" {
			o = append(o, nats.ClientCert(t.Cert, t.Key))
		}
		if t.CA == "" && t.Cert == "" {
			o = append(o, nats.Secure())
		}
	}
	return o, nil
}

func newEpoch() uint64 {
	for {
		if e := rand.Uint64(); e != 0 {
			return e
		}
	}
}

// Name is this node's name.
func (n *Node) Name() string { return n.cfg.Node }

// Config is the node's configuration with its defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// Epoch identifies this run of the node; it changes when the node rejoins after being cut off.
func (n *Node) Epoch() uint64 { return n.epoch.Load() }

// Conn is the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// JetStream is the node's JetStream context.
func (n *Node) JetStream() jetstream.JetStream { return n.js }

// Logger is the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

// Subject is a NATS subject under the cluster's name: Subject("hb") is "<name>.hb".
func (n *Node) Subject(tokens ...string) string {
	s := n.cfg.Name
	for _, t := range tokens {
		s += "." + t
	}
	return s
}

// Bucket is the name of a JetStream bucket of this cluster: Bucket("nodes") is "<name>_nodes".
func (n *Node) Bucket(name string) string { return n.cfg.Name + "_" + name }

// Replicas is the number of copies Pawl's JetStream buckets and streams keep.
func (n *Node) Replicas() int { return n.cfg.Replicas }

// Slot is the node's slot (1..MaxSlots), or 0 before it has claimed one.
func (n *Node) Slot() int { return int(n.slot.Load()) }

// SessionID draws a session ID unique in the cluster: the node's slot in the top 10 of its 53
// bits, random bits below. It is 0 while the node has no slot (it refuses sessions then).
func (n *Node) SessionID() wamp.ID {
	slot := uint64(n.slot.Load())
	if slot == 0 {
		return 0
	}
	for {
		if low := rand.Uint64() & (1<<43 - 1); low != 0 {
			return wamp.ID(slot<<43 | low)
		}
	}
}

// SlotOf is the slot of the node that made a session ID.
func SlotOf(id wamp.ID) int { return int(uint64(id) >> 43) }

// Err is nil while the node serves, else why it does not (wrapping ErrUnavailable): its NATS
// connection is down, or it could not confirm its slot within NodeTimeout.
func (n *Node) Err() error {
	if !n.nc.IsConnected() {
		return fmt.Errorf("%w: no NATS connection", ErrUnavailable)
	}
	if n.slot.Load() == 0 {
		return fmt.Errorf("%w: not yet joined (waiting for JetStream)", ErrUnavailable)
	}
	if n.lost.Load() {
		return fmt.Errorf("%w: cut off for more than %v", ErrUnavailable, n.cfg.NodeTimeout)
	}
	if !n.warm() {
		return fmt.Errorf("%w: joining (hearing the other nodes)", ErrUnavailable)
	}
	return nil
}

// warm reports whether the node has been in the cluster for two heartbeats: by then it has
// heard every live peer, and they it, so what it announces reaches them all.
func (n *Node) warm() bool {
	j := n.joinedAt.Load()
	return j != 0 && time.Since(time.Unix(0, j)) >= 2*n.cfg.Heartbeat
}

// Ready waits until the node serves, or ctx ends.
func (n *Node) Ready(ctx context.Context) error {
	select {
	case <-n.readyCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster node %s not ready: %w", n.cfg.Node, context.Cause(ctx))
	}
}

// Peers are the other nodes alive now.
func (n *Node) Peers() []Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Peer, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, *p)
	}
	return out
}

// OnNodeUp registers f to run when a node (or a new epoch of one) is first heard of.
func (n *Node) OnNodeUp(f func(Peer)) { n.mu.Lock(); n.onUp = append(n.onUp, f); n.mu.Unlock() }

// OnNodeDown registers f to run once for a node not heard of for NodeTimeout, or replaced by
// a new epoch of itself: what it held is to be dropped.
func (n *Node) OnNodeDown(f func(Peer)) { n.mu.Lock(); n.onDown = append(n.onDown, f); n.mu.Unlock() }

// OnLost registers f to run when this node has been cut off for NodeTimeout: its peers have
// called it down and dropped its state, so its sessions must end.
func (n *Node) OnLost(f func()) { n.mu.Lock(); n.onLost = append(n.onLost, f); n.mu.Unlock() }

// OnRejoin registers f to run when a node that was lost serves again, under a new epoch.
func (n *Node) OnRejoin(f func()) { n.mu.Lock(); n.onRejoin = append(n.onRejoin, f); n.mu.Unlock() }

// Close leaves the cluster: it stops the heartbeat, drains the connection and shuts the
// embedded server down.
func (n *Node) Close() {
	select {
	case <-n.stop:
		return
	default:
	}
	close(n.stop)
	n.wg.Wait()
	if n.slots != nil && n.slot.Load() != 0 && n.nc.IsConnected() {
		// Free the slot at once, so that a restart does not wait for it to expire.
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Heartbeat)
		_ = n.slots.Delete(ctx, slotKey(int(n.slot.Load())), jetstream.LastRevision(n.slotRev))
		cancel()
	}
	n.nc.Close()
	n.shutdownServer()
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// heartbeat is what a node announces on <name>.hb.
type heartbeat struct {
	Node  string `json:"node"`
	Epoch uint64 `json:"epoch"`
	Slot  int    `json:"slot"`
}

func (n *Node) heard(m *nats.Msg) {
	var hb heartbeat
	if json.Unmarshal(m.Data, &hb) != nil || hb.Node == n.cfg.Node {
		return
	}
	n.mu.Lock()
	p := n.peers[hb.Node]
	var down *Peer
	if p != nil && p.Epoch != hb.Epoch {
		old := *p
		down, p = &old, nil
	}
	up := p == nil
	if up {
		p = &Peer{Name: hb.Node, Epoch: hb.Epoch}
		n.peers[hb.Node] = p
	}
	p.Slot, p.LastSeen = hb.Slot, time.Now()
	n.heardAt.Store(p.LastSeen.UnixNano())
	cur := *p
	onUp, onDown := n.onUp, n.onDown
	n.mu.Unlock()
	if down != nil {
		n.log.Info("cluster: node restarted: dropping what its previous run held", "peer", down.Name)
		for _, f := range onDown {
			f(*down)
		}
	}
	if up {
		n.log.Info("cluster: node up", "peer", cur.Name, "slot", cur.Slot)
		for _, f := range onUp {
			f(cur)
		}
	}
}

// run beats and calls silent peers down, every Heartbeat.
func (n *Node) run() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		n.beat()
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
	}
}

// refresher confirms the node's slot every Heartbeat, each try bounded by NodeTimeout (a
// JetStream leader election may hold it up for a while: that alone cuts no node off).
func (n *Node) refresher() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	// Close must not wait out a refresh: without a JetStream quorum (the other nodes gone), a
	// claim probes slot after slot, each waiting for an answer that never comes.
	stopped, cancelStopped := context.WithCancel(context.Background())
	defer cancelStopped()
	go func() {
		select {
		case <-n.stop:
			cancelStopped()
		case <-stopped.Done():
		}
	}()
	for {
		ctx, cancel := context.WithTimeout(stopped, n.cfg.NodeTimeout)
		err := n.refreshSlot(ctx)
		cancel()
		if err == nil {
			n.refreshed.Store(time.Now().UnixNano())
			n.rejoined()
		} else if n.slot.Load() != 0 {
			n.log.Debug("cluster: slot not refreshed", "err", err)
		}
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
	}
}

// rejoined marks the node serving after a successful refresh.
func (n *Node) rejoined() {
	if n.lost.CompareAndSwap(true, false) {
		n.log.Info("cluster: rejoined", "epoch", n.epoch.Load(), "slot", n.slot.Load())
		n.mu.Lock()
		onRejoin := n.onRejoin
		n.mu.Unlock()
		for _, f := range onRejoin {
			f()
		}
	}
	n.mu.Lock()
	if !n.readyDone && n.warm() {
		n.readyDone = true
		close(n.readyCh)
	}
	n.mu.Unlock()
}

// cutOff reports whether the node has been cut off from its cluster for NodeTimeout: its
// NATS connection down that long, or its slot unconfirmed that long while no peer was heard
// either (a node that still hears its peers waits out a JetStream election).
func (n *Node) cutOff(now time.Time) bool {
	if d := n.disconnectedAt.Load(); d != 0 && now.Sub(time.Unix(0, d)) > n.cfg.NodeTimeout {
		return true
	}
	if now.Sub(time.Unix(0, n.refreshed.Load())) <= n.cfg.NodeTimeout {
		return false
	}
	heard := n.heardAt.Load()
	return heard == 0 || now.Sub(time.Unix(0, heard)) > n.cfg.NodeTimeout
}

func (n *Node) beat() {
	now := time.Now()
	if n.slot.Load() != 0 && !n.lost.Load() && n.cutOff(now) {
		n.lost.Store(true)
		n.log.Error("cluster: cut off from the cluster for longer than node_timeout: ending this node's sessions; it rejoins when NATS is back",
			"node_timeout", n.cfg.NodeTimeout)
		n.mu.Lock()
		onLost := n.onLost
		n.mu.Unlock()
		for _, f := range onLost {
			f()
		}
	}
	if n.nc.IsConnected() && !n.lost.Load() && n.slot.Load() != 0 {
		data, _ := json.Marshal(heartbeat{Node: n.cfg.Node, Epoch: n.epoch.Load(), Slot: int(n.slot.Load())})
		_ = n.nc.Publish(n.Subject("hb"), data)
	}
	// Peers silent for NodeTimeout are down. While this node is itself cut off it judges
	// nobody: the silence may be its own.
	if !n.nc.IsConnected() || n.lost.Load() {
		return
	}
	var down []Peer
	n.mu.Lock()
	for name, p := range n.peers {
		if now.Sub(p.LastSeen) > n.cfg.NodeTimeout {
			down = append(down, *p)
			delete(n.peers, name)
		}
	}
	onDown := n.onDown
	n.mu.Unlock()
	for _, p := range down {
		n.log.Warn("cluster: node down: dropping its sessions and subscriptions", "peer", p.Name,
			"silent_for", now.Sub(p.LastSeen).Round(time.Millisecond))
		for _, f := range onDown {
			f(p)
		}
	}
}

func slotKey(slot int) string { return "slot." + strconv.Itoa(slot) }

// refreshSlot confirms the node's slot in the nodes bucket (whose entries expire after
// NodeTimeout), claiming one first if it has none.
func (n *Node) refreshSlot(ctx context.Context) error {
	if !n.nc.IsConnected() {
		return errors.New("no NATS connection")
	}
	if n.slots == nil {
		kv, err := n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: n.Bucket("nodes"),
			Description: "Pawl cluster nodes' slots", History: 1, TTL: n.cfg.NodeTimeout, Replicas: n.cfg.Replicas})
		if err != nil {
			return fmt.Errorf("nodes bucket: %w", err)
		}
		n.slots = kv
	}
	if n.lost.Load() && n.slot.Load() != 0 {
		// Called down meanwhile: this is a new run, which claims a slot afresh.
		n.slot.Store(0)
		n.epoch.Store(newEpoch())
	}
	value, _ := json.Marshal(heartbeat{Node: n.cfg.Node, Epoch: n.epoch.Load()})
	if slot := int(n.slot.Load()); slot != 0 {
		rev, err := n.slots.Update(ctx, slotKey(slot), value, n.slotRev)
		if err != nil {
			return fmt.Errorf("refresh slot %d: %w", slot, err)
		}
		n.slotRev = rev
		return nil
	}
	// Claim: start where the node's name hashes to, so that a restarted node usually gets its
	// slot back, and probe on.
	h := fnv.New32a()
	h.Write([]byte(n.cfg.Node))
	start := int(h.Sum32() % MaxSlots)
	var lastErr error
	for i := range MaxSlots {
		if ctx.Err() != nil {
			return fmt.Errorf("claim a slot: %w", ctx.Err())
		}
		slot := (start+i)%MaxSlots + 1
		rev, err := n.slots.Create(ctx, slotKey(slot), value)
		if err == nil {
			n.slotRev = rev
			n.joinedAt.Store(time.Now().UnixNano())
			n.slot.Store(int32(slot))
			n.log.Info("cluster: joined", "slot", slot, "epoch", n.epoch.Load())
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("claim a slot: %w", err)
		}
		lastErr = err
	}
	return fmt.Errorf("no free slot among %d: %w", MaxSlots, lastErr)
}
