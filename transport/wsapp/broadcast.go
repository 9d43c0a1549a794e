package wsapp

import (
	"slices"
	"sync"
)

// Group is a set of connections to broadcast to, safe for concurrent use: the chat room of
// Ratchet's MyChat (its SplObjectStorage of clients). Typically a component adds a peer in
// OnOpen and removes it in OnClose. The zero value is an empty group.
type Group struct {
	mu    sync.RWMutex
	peers map[*Peer]struct{}
}

// Add puts p in the group; it reports false when p was already in it.
func (g *Group) Add(p *Peer) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.peers == nil {
		g.peers = make(map[*Peer]struct{})
	}
	if _, ok := g.peers[p]; ok {
		return false
	}
	g.peers[p] = struct{}{}
	return true
}

// Remove takes p out of the group; it reports false when p was not in it.
func (g *Group) Remove(p *Peer) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.peers[p]; !ok {
		return false
	}
	delete(g.peers, p)
	return true
}

// Contains reports whether p is in the group.
func (g *Group) Contains(p *Peer) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.peers[p]
	return ok
}

// Len is the number of connections in the group.
func (g *Group) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.peers)
}

// Peers returns the group's connections in the order they were opened (by ID).
func (g *Group) Peers() []*Peer {
	g.mu.RLock()
	out := make([]*Peer, 0, len(g.peers))
	for p := range g.peers {
		out = append(out, p)
	}
	g.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Peer) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return out
}

// Broadcast queues m to every connection in the group except except (which may be nil) and
// returns how many it was queued to. It never blocks: a connection whose queue is full is cut
// off (see Peer.SendMessage) and the others still get m. The message's data is shared by all
// recipients and must not change afterwards.
func (g *Group) Broadcast(m Message, except *Peer) int {
	g.mu.RLock()
	targets := make([]*Peer, 0, len(g.peers))
	for p := range g.peers {
		if p != except {
			targets = append(targets, p)
		}
	}
	g.mu.RUnlock()
	sent := 0
	for _, p := range targets {
		if p.send(m, true) == nil {
			sent++
		}
	}
	return sent
}
