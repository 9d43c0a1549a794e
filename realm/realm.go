package realm

import (
	"log/slog"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/internal/version"
	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm/meta"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/session/dispatch"
	"github.com/pawl-wamp/pawl/wamp"
)

// Realm is a routing domain: sessions in one realm see only each other's topics and procedures.
type Realm struct {
	config   Config
	log      *slog.Logger
	broker   pubsub.Broker
	dealer   rpc.Dealer
	handlers session.Handlers
	procs    map[wamp.URI]session.LocalProcedure // the router's own procedures (procedures.go)

	sessions sessionTable

	sessionMeta    *meta.API // the session and testament meta API (realm/meta)
	brokerFeatures wamp.Dict // announced in WELCOME
	dealerFeatures wamp.Dict

	router   *Router                  // the router serving the realm (for its own calls: dynamic auth)
	secState atomic.Pointer[security] // authentication and authorization (security.go); Reconfigure swaps it

	traffic  session.Traffic // messages of the realm's sessions, by type (for metrics)
	observed                 // authentications, slow-consumer cut-offs (observe.go)
}

// New builds a realm with an in-process broker and dealer.
func New(cfg Config, log *slog.Logger) *Realm {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("realm", cfg.Name)
	r := &Realm{}
	dealerOpts := rpc.Options{StrictURIs: cfg.StrictURIs, CallQueueLimit: cfg.CallQueueLimit,
		MaxRegistrationsPerSession: cfg.Limits.maxRegistrations(), MaxInvocationsPerCallee: cfg.Limits.calleeConcurrency(),
		MaxQueuedCallBytes: cfg.Limits.maxQueuedCallBytes(),
		PublishMeta:        r.PublishMeta, Logger: log}
	var dealer rpc.Dealer
	if cfg.NewDealer != nil {
		dealer = cfg.NewDealer(dealerOpts)
	} else {
		dealer = rpc.NewLocal(dealerOpts)
	}
	broker := pubsub.NewLocal(pubsub.Options{Realm: cfg.Name, StrictURIs: cfg.StrictURIs, History: cfg.History,
		HistoryStore: cfg.HistoryStore, PublishMeta: r.PublishMeta, Traffic: &r.traffic, Logger: log,
		MaxSubscriptionsPerSession: cfg.Limits.maxSubscriptions(),
		RetainedTopics:             cfg.Limits.retainedTopics(), RetainedBytes: cfg.Limits.retainedBytes(),
		Bus: cfg.Bus, SubscriptionID: cfg.SubscriptionID})
	if a, ok := cfg.Bus.(interface{ Attach(*pubsub.Local) }); ok {
		a.Attach(broker) // the bus delivers other nodes' publications to this broker
	}
	r.init(cfg, log, broker, dealer)
	if a, ok := cfg.Sessions.(interface{ Attach(*Realm) }); ok {
		a.Attach(r) // other nodes' kills and dead nodes' testaments come through it
	}
	return r
}

// NewWith builds a realm around the given broker and dealer.
func NewWith(cfg Config, log *slog.Logger, b pubsub.Broker, d rpc.Dealer) *Realm {
	r := &Realm{}
	r.init(cfg, log, b, d)
	return r
}

func (r *Realm) init(cfg Config, log *slog.Logger, b pubsub.Broker, d rpc.Dealer) {
	r.config, r.log, r.broker, r.dealer = cfg, log, b, d
	r.sessions.newID = r.newSessionID
	r.initProcedures()
	h := &r.handlers
	dispatch.On(h, b.Subscribe)
	dispatch.On(h, b.Unsubscribe)
	dispatch.On(h, b.HandlePublish)
	dispatch.On(h, d.Register)
	dispatch.On(h, d.Unregister)
	dispatch.On(h, r.handleCall)
	dispatch.On(h, d.Cancel)
	dispatch.On(h, d.Yield)
	dispatch.On(h, r.handleError)
	r.initSecurity() // decorates the handlers above with authorization checks
	r.initLimits()   // and, before them, the URI checks
	r.initCluster()  // and, before everything, a cluster node's refusal while cut off
}

// Name is the realm's URI.
func (r *Realm) Name() wamp.URI { return r.config.Name }

// Handlers is the realm's dispatch table.
func (r *Realm) Handlers() *session.Handlers { return &r.handlers }

// handleError routes ERROR messages: a peer may only send them in answer to an INVOCATION.
func (r *Realm) handleError(s *session.Session, m *wamp.Error) {
	if m.RequestType != wamp.TypeInvocation {
		s.Abort(wamp.ErrProtocolViolation, "ERROR is only valid in answer to INVOCATION, not "+m.RequestType.String())
		return
	}
	r.dealer.Error(s, m)
}

// join registers a session under a fresh ID.
func (r *Realm) join(s *session.Session) {
	r.sessions.add(s)
	r.sessionMeta.Joined(s)
}

// Leave releases everything a session held in this realm.
func (r *Realm) Leave(s *session.Session) {
	r.sessions.remove(s)
	r.observeLeave(s)
	r.sessionMeta.PublishTestaments(s)
	r.broker.Leave(s)
	r.dealer.Leave(s)
	r.sessionMeta.Left(s)
	r.sec().authz.Forget(s)
}

// SessionCount is the number of sessions joined to the realm.
func (r *Realm) SessionCount() int {
	return r.sessions.count()
}

// Session returns a joined session by ID.
func (r *Realm) Session(id wamp.ID) (*session.Session, bool) {
	return r.sessions.Session(id)
}

// welcomeDetails announces the router's roles and features and the session's identity.
func (r *Realm) welcomeDetails(s *session.Session) wamp.Dict {
	return wamp.Dict{
		"realm":        string(r.config.Name),
		"authid":       s.AuthID,
		"authrole":     s.AuthRole,
		"authmethod":   s.AuthMethod,
		"authprovider": s.AuthProvider,
		"agent":        Agent,
		"roles": wamp.Dict{
			"broker": wamp.Dict{"features": r.brokerFeatures},
			"dealer": wamp.Dict{"features": r.dealerFeatures},
		},
	}
}

// Agent is the router's name and version, sent in WELCOME: "pawl/" and the module version
// from the binary's build information (internal/version).
var Agent = version.Agent()

// Broker is the realm's broker.
func (r *Realm) Broker() pubsub.Broker { return r.broker }

// Dealer is the realm's dealer.
func (r *Realm) Dealer() rpc.Dealer { return r.dealer }
