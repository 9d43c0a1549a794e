package realm

import (
	"slices"
	"sync"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// sessionTable is a realm's joined sessions by ID. The meta API (realm/meta) reads it
// through the meta.Sessions interface.
type sessionTable struct {
	mu    sync.RWMutex
	byID  map[wamp.ID]*session.Session
	newID func() wamp.ID // draws a session ID (cluster-wide unique on a cluster node)
}

// add registers a session under a fresh ID: the one the router announced during
// authentication, unless it is taken.
func (t *sessionTable) add(s *session.Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID = make(map[wamp.ID]*session.Session)
	}
	for {
		if _, taken := t.byID[s.ID]; s.ID != 0 && !taken {
			break
		}
		s.ID = t.newID()
	}
	t.byID[s.ID] = s
}

func (t *sessionTable) remove(s *session.Session) {
	t.mu.Lock()
	delete(t.byID, s.ID)
	t.mu.Unlock()
}

func (t *sessionTable) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byID)
}

// Session returns a joined session by ID.
func (t *sessionTable) Session(id wamp.ID) (*session.Session, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.byID[id]
	return s, ok
}

// Where returns the joined sessions for which keep is true, by ID.
func (t *sessionTable) Where(keep func(*session.Session) bool) []*session.Session {
	t.mu.RLock()
	var out []*session.Session
	for _, s := range t.byID {
		if keep(s) {
			out = append(out, s)
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b *session.Session) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}
