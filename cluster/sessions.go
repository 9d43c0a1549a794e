package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// ReasonNodeDown is the on_leave reason of the sessions of a node that died.
const ReasonNodeDown wamp.URI = "pawl.close.node_down"

// Sessions shares every node's sessions, with their testaments, through the "sess"
// Directory: the session meta API and the kill family of any node see the whole cluster,
// and when a node dies one survivor — the one with the least name among those alive —
// publishes its sessions' testaments and wamp.session.on_leave.
type Sessions struct {
	n    *Node
	dir  *Directory
	kill *nats.Subscription

	mu     sync.RWMutex
	realms map[wamp.URI]*RealmSessions

	// Orphaned counts the sessions of dead nodes this node published the testaments of.
	Orphaned atomic.Int64
}

// NewSessions starts the node's session directory.
func NewSessions(n *Node) (*Sessions, error) {
	ss := &Sessions{n: n, realms: make(map[wamp.URI]*RealmSessions)}
	var err error
	if ss.dir, err = NewDirectory(n, "sess"); err != nil {
		return nil, err
	}
	ss.dir.OnChange(ss.changed)
	if ss.kill, err = n.Conn().Subscribe(n.Subject("sess", "kill", n.Name()), ss.killHere); err != nil {
		ss.dir.Close()
		return nil, fmt.Errorf("cluster sessions: %w", err)
	}
	return ss, nil
}

// Close stops sharing.
func (ss *Sessions) Close() {
	_ = ss.kill.Unsubscribe()
	ss.dir.Close()
}

// RealmSessions is one realm's realm.SessionDirectory.
type RealmSessions struct {
	ss    *Sessions
	realm wamp.URI
	r     atomic.Pointer[realm.Realm]

	mu     sync.RWMutex
	remote map[wamp.ID]remoteSession
}

type remoteSession struct {
	node  string
	entry wamp.Dict
}

// Realm returns a realm's directory, made on first use.
func (ss *Sessions) Realm(name wamp.URI) *RealmSessions {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	rs := ss.realms[name]
	if rs == nil {
		rs = &RealmSessions{ss: ss, realm: name, remote: make(map[wamp.ID]remoteSession)}
		ss.realms[name] = rs
		prefix := sessionPrefix(name)
		ss.dir.Each(prefix, func(node, key string, v []byte) {
			if node == ss.n.Name() {
				return
			}
			if id, err := strconv.ParseUint(key[len(prefix):], 10, 64); err == nil {
				if entry, err := decodeEntry(v); err == nil {
					rs.remote[wamp.ID(id)] = remoteSession{node: node, entry: entry}
				}
			}
		})
	}
	return rs
}

// Attach makes r the realm that other nodes' kills and dead nodes' testaments go to.
func (rs *RealmSessions) Attach(r *realm.Realm) { rs.r.Store(r) }

func sessionPrefix(realm wamp.URI) string { return "s\x00" + string(realm) + "\x00" }

func sessionKey(realm wamp.URI, id wamp.ID) string {
	return sessionPrefix(realm) + strconv.FormatUint(uint64(id), 10)
}

func encodeEntry(entry wamp.Dict) ([]byte, error) {
	return wamp.MsgPack.(wamp.ValueEncoder).EncodeValue(nil, entry)
}

func decodeEntry(data []byte) (wamp.Dict, error) {
	v, err := wamp.MsgPack.DecodeValue(data)
	if err != nil {
		return nil, err
	}
	d, ok := v.(wamp.Dict)
	if !ok {
		return nil, fmt.Errorf("session entry is a %T", v)
	}
	return d, nil
}

// Publish announces one of this node's sessions (realm.SessionDirectory).
func (rs *RealmSessions) Publish(id wamp.ID, entry wamp.Dict) {
	data, err := encodeEntry(entry)
	if err == nil {
		err = rs.ss.dir.Put(sessionKey(rs.realm, id), data, false)
	}
	if err != nil {
		rs.ss.n.log.Error("cluster: session not announced", "realm", rs.realm, "session", id, "err", err)
	}
}

// Remove withdraws a session that left (realm.SessionDirectory).
func (rs *RealmSessions) Remove(id wamp.ID) {
	if err := rs.ss.dir.Delete(sessionKey(rs.realm, id), false); err != nil {
		rs.ss.n.log.Error("cluster: session leaving not announced", "realm", rs.realm, "session", id, "err", err)
	}
}

// Each calls f for every session of the other nodes (realm.SessionDirectory).
func (rs *RealmSessions) Each(f func(entry wamp.Dict)) {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	for _, s := range rs.remote {
		f(s.entry)
	}
}

type killRequest struct {
	Realm  string     `msgpack:"r"`
	Kill   realm.Kill `msgpack:"k"`
	Caller uint64     `msgpack:"c"`
}

// Kill asks the nodes holding sessions k selects to end them (realm.SessionDirectory).
func (rs *RealmSessions) Kill(ctx context.Context, k realm.Kill) ([]wamp.ID, error) {
	nodes := map[string]bool{}
	rs.mu.RLock()
	for id, s := range rs.remote {
		d, _ := s.entry["details"].(wamp.Dict)
		authid, _ := d.String("authid")
		authrole, _ := d.String("authrole")
		switch {
		case k.Session != 0 && id == k.Session,
			k.AuthID != "" && authid == k.AuthID,
			k.AuthRole != "" && authrole == k.AuthRole,
			k.All:
			nodes[s.node] = true
		}
	}
	rs.mu.RUnlock()
	req, _ := msgpack.Marshal(&killRequest{Realm: string(rs.realm), Kill: k})
	ctx, cancel := context.WithTimeout(ctx, rs.ss.n.cfg.NodeTimeout)
	defer cancel()
	var killed []wamp.ID
	for node := range nodes {
		m, err := rs.ss.n.Conn().RequestWithContext(ctx, rs.ss.n.Subject("sess", "kill", node), req)
		if err != nil {
			return killed, fmt.Errorf("node %s: %w", node, err)
		}
		var ids []uint64
		if err := msgpack.Unmarshal(m.Data, &ids); err != nil {
			return killed, fmt.Errorf("node %s: %w", node, err)
		}
		for _, id := range ids {
			killed = append(killed, wamp.ID(id))
		}
	}
	return killed, nil
}

func (ss *Sessions) killHere(m *nats.Msg) {
	var req killRequest
	if msgpack.Unmarshal(m.Data, &req) != nil {
		return
	}
	var ids []uint64
	ss.mu.RLock()
	rs := ss.realms[wamp.URI(req.Realm)]
	ss.mu.RUnlock()
	if rs != nil {
		if r := rs.r.Load(); r != nil {
			for _, id := range r.KillHere(req.Kill, wamp.ID(req.Caller)) {
				ids = append(ids, uint64(id))
			}
		}
	}
	data, _ := msgpack.Marshal(ids)
	_ = m.Respond(data)
}

func (ss *Sessions) changed(c Change) {
	rest, ok := strings.CutPrefix(c.Key, "s\x00")
	if !ok {
		return
	}
	i := strings.LastIndexByte(rest, 0)
	if i < 0 {
		return
	}
	realmName := wamp.URI(rest[:i])
	id64, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil {
		return
	}
	id := wamp.ID(id64)
	ss.mu.RLock()
	rs := ss.realms[realmName]
	ss.mu.RUnlock()
	if rs == nil {
		return
	}
	if !c.Deleted {
		entry, err := decodeEntry(c.Value)
		if err != nil {
			ss.n.log.Warn("cluster: undecodable session entry", "peer", c.Node, "err", err)
			return
		}
		rs.mu.Lock()
		rs.remote[id] = remoteSession{node: c.Node, entry: entry}
		rs.mu.Unlock()
		return
	}
	rs.mu.Lock()
	gone, had := rs.remote[id]
	delete(rs.remote, id)
	rs.mu.Unlock()
	if !had || !c.NodeDown || !ss.heir() {
		return
	}
	if r := rs.r.Load(); r != nil {
		ss.Orphaned.Add(1)
		r.Gone(gone.entry, ReasonNodeDown)
	}
}

// heir reports whether this node speaks for the dead: the least name among the live nodes.
func (ss *Sessions) heir() bool {
	for _, p := range ss.n.Peers() {
		if p.Name < ss.n.Name() {
			return false
		}
	}
	return true
}
