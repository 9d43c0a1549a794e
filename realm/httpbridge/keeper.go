package httpbridge

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

// keeper holds a service's one long-lived session: it joins the realm with the service's
// authrole, runs setup (subscribe, register) on each new session, and joins again, with
// backoff, whenever the session ends (killed through the meta API, say) until the bridge
// closes. One goroutine per service; requests only read the current session.
type keeper struct {
	rt     *realm.Router
	realm  wamp.URI
	role   string
	authID string
	log    *slog.Logger
	setup  func(ctx context.Context, c *client.Client) error

	mu     sync.Mutex
	client *client.Client
	joined chan struct{} // closed once the first session joined (or the keeper stopped)
}

func newKeeper(rt *realm.Router, realmName wamp.URI, role, authID string, log *slog.Logger,
	setup func(context.Context, *client.Client) error) *keeper {
	return &keeper{rt: rt, realm: realmName, role: role, authID: authID, log: log, setup: setup,
		joined: make(chan struct{})}
}

// current is the joined session, or nil between sessions.
func (k *keeper) current() *client.Client {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.client
}

// run keeps a session joined until ctx ends, then closes it.
func (k *keeper) run(ctx context.Context) {
	var once sync.Once
	markJoined := func() { once.Do(func() { close(k.joined) }) }
	defer markJoined()
	delay := 50 * time.Millisecond
	for ctx.Err() == nil {
		c, err := k.join(ctx)
		if err != nil {
			k.log.Warn("http bridge: service session could not join; retrying", "realm", k.realm,
				"authrole", k.role, "authid", k.authID, "retry_in", delay, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
			continue
		}
		delay = 50 * time.Millisecond
		k.mu.Lock()
		k.client = c
		k.mu.Unlock()
		markJoined()
		select {
		case <-ctx.Done():
		case <-c.Done():
			k.log.Warn("http bridge: service session ended; joining again", "realm", k.realm,
				"authid", k.authID, "err", c.Err())
		}
		k.mu.Lock()
		k.client = nil
		k.mu.Unlock()
		c.Close()
	}
}

func (k *keeper) join(ctx context.Context) (*client.Client, error) {
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := k.rt.ServiceClient(jctx, k.realm, k.role, client.Options{AuthID: k.authID, Logger: k.log})
	if err != nil {
		return nil, err
	}
	if k.setup != nil {
		if err := k.setup(jctx, c); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}
