package meta

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/realm/authz"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// Sessions is what the meta API reads of a realm's session table.
type Sessions interface {
	// Session returns a joined session by ID.
	Session(id wamp.ID) (*session.Session, bool)
	// Where returns the joined sessions for which keep is true, by ID.
	Where(keep func(*session.Session) bool) []*session.Session
}

// Publisher publishes in the realm: as a session (its testaments), or as the router itself
// (a nil publisher: the meta events). A pubsub.Broker is one.
type Publisher interface {
	Publish(publisher *session.Session, m *wamp.Publish)
}

// Settings are the parts of a realm's configuration the meta API reads.
type Settings struct {
	// DisableSessionKill turns off the kill family; AnonymousSessionKill lets sessions of
	// AnonymousRole use it.
	DisableSessionKill   bool
	AnonymousSessionKill bool
	AnonymousRole        string
	// StrictURIs, MaxURILength (0: none) and TestamentBytes (0: none) bound testaments.
	StrictURIs     bool
	MaxURILength   int
	TestamentBytes int64
}

// Refusals are the counters the meta API adds one to when a limit refuses a request.
type Refusals struct {
	URITooLong     *atomic.Int64 // a testament topic longer than MaxURILength
	AnonymousKills *atomic.Int64 // the kill family refused to the anonymous role
	TestamentBytes *atomic.Int64 // a testament past TestamentBytes
}

// Options connect the meta API to its realm. Every field is required.
type Options struct {
	Sessions  Sessions
	Publisher Publisher
	// Settings returns the realm's configuration of the moment (a reconfigured realm's
	// kill settings apply at once).
	Settings func() Settings
	// Authorizer returns the realm's authorization of the moment: a testament needs the right
	// to publish, the kill family is open to trusted sessions.
	Authorizer func() *authz.Authorizer
	Refusals   Refusals
	Logger     *slog.Logger
	// Directory, on a cluster node, shares the realm's sessions with the other nodes
	// (cluster.go). Optional: nil on a single node.
	Directory Directory
}

// API is one realm's session and testament meta API: its procedures, the on_join and
// on_leave events, and the testaments it keeps for sessions until they leave.
type API struct {
	sessions   Sessions
	publisher  Publisher
	settings   func() Settings
	authorizer func() *authz.Authorizer
	refusals   Refusals
	log        *slog.Logger
	directory  Directory // nil on a single node

	mu         sync.Mutex
	testaments map[*session.Session]*testaments
	// silenced sessions leave without testaments or meta events (wamp.session.kill_all).
	silenced map[*session.Session]bool
}

// New returns a realm's meta API.
func New(opts Options) *API {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &API{sessions: opts.Sessions, publisher: opts.Publisher, settings: opts.Settings,
		authorizer: opts.Authorizer, refusals: opts.Refusals, log: log, directory: opts.Directory,
		testaments: make(map[*session.Session]*testaments), silenced: make(map[*session.Session]bool)}
}

// Procedures are the session and testament meta procedures, by URI.
func (api *API) Procedures() map[wamp.URI]session.LocalProcedure {
	return map[wamp.URI]session.LocalProcedure{
		"wamp.session.count":            api.metaSessionCount,
		"wamp.session.list":             api.metaSessionList,
		"wamp.session.get":              api.metaSessionGet,
		"wamp.session.kill":             api.metaSessionKill,
		"wamp.session.kill_by_authid":   api.metaSessionKillByAuthID,
		"wamp.session.kill_by_authrole": api.metaSessionKillByAuthRole,
		"wamp.session.kill_all":         api.metaSessionKillAll,
		"wamp.session.add_testament":    api.metaAddTestament,
		"wamp.session.flush_testaments": api.metaFlushTestaments,
	}
}

// Features are what the realm announces for the meta API in WELCOME. The session meta API
// needs both roles and is announced by both; the testament meta API is a dealer feature in
// the spec and a broker one in practice (the broker publishes): a realm adds these to both.
func Features() wamp.Dict {
	return wamp.Dict{"session_meta_api": true, "testament_meta_api": true}
}

// publishMeta publishes a meta event from the router itself.
func (api *API) publishMeta(topic wamp.URI, args wamp.List, kwargs wamp.Dict) {
	api.publisher.Publish(nil, &wamp.Publish{Options: wamp.Dict{}, Topic: topic, Payload: wamp.Payload{Args: args, Kwargs: kwargs}})
}
