package realm

import (
	"errors"
	"fmt"

	"github.com/pawl-wamp/pawl/pubsub"
)

// Reconfigure applies a new configuration of the realm without dropping a session. From the
// next handshake on, sessions are authenticated by the new principals, anonymous settings,
// dynamic authenticator and rate limit settings (failures counted so far carry over while the
// limits stay the same); from the next request on, every session — also one that joined
// before — is authorized by the new roles (cached authorizer answers are forgotten), kill
// requests follow disable_session_kill, and publications are kept in history by the new
// rules. A session keeps the authid and authrole it joined with.
//
// What only a restart can change is left as it was and named in restartNeeded: strict_uris,
// call_queue_limit, limits, and event history for a realm that started without it.
func (r *Realm) Reconfigure(cfg Config) (restartNeeded []string, err error) {
	if cfg.Name != r.config.Name {
		return nil, fmt.Errorf("realm %q: cannot be reconfigured as %q", r.config.Name, cfg.Name)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.StrictURIs != r.config.StrictURIs {
		restartNeeded = append(restartNeeded, "strict_uris")
	}
	if cfg.CallQueueLimit != r.config.CallQueueLimit {
		restartNeeded = append(restartNeeded, "call_queue_limit")
	}
	if cfg.Limits != r.config.Limits {
		restartNeeded = append(restartNeeded, "limits")
	}
	if b, ok := r.broker.(interface {
		SetHistoryRules(pubsub.HistoryConfig) error
	}); ok {
		if err := b.SetHistoryRules(cfg.History); errors.Is(err, pubsub.ErrNoHistory) {
			restartNeeded = append(restartNeeded, "history")
		} else if err != nil {
			return nil, fmt.Errorf("realm %q: %w", cfg.Name, err)
		}
	}
	r.secState.Store(r.newSecurity(cfg, r.sec()))
	return restartNeeded, nil
}
