package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/internal/uriindex"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// invocation is one call from its CALL to the last message about it. Its state is guarded by
// its registration's mutex.
type invocation struct {
	id        wamp.ID // the INVOCATION request ID: unique dealer-wide
	reg       *registration
	caller    *session.Session
	callerReq wamp.ID
	procedure wamp.URI // the URI called, which differs from reg.procedure for patterns
	callee    *callee  // nil while queued

	pending          *wamp.Call // the CALL while queued
	receiveProgress  bool
	progressiveInput bool // the caller still streams CALLs into this invocation
	discloseCaller   bool
	timeout          int64 // ms

	callerWaits bool // the caller still expects its final answer
	calleeOwes  bool // the callee still owes its final answer
	killWait    bool // canceled with mode kill: the callee's answer goes to the caller

	deadline  time.Time
	heapIndex int
	started   int64 // now() at the CALL: for the latency histogram

	wakeCallee bool // finishing freed a slot of a callee at its in-flight bound (endForCallee)

	callerPeer *peer // while queued with queuedSize counted against the caller's queued bytes
	queuedSize int64

	// backlog holds the chunks of a progressive call that arrived while the call waited in
	// the queue (or while its INVOCATION was on its way, see delivering), oldest first. Their
	// bytes count in queuedSize; their number is bounded by Options.CallQueueLimit.
	backlog []*wamp.Call
	// delivering is set while a call taken from the queue has not yet had its INVOCATION
	// and backlog sent: the sender runs on another session's goroutine, so chunks arriving
	// meanwhile join the backlog instead of overtaking it (deliver sends them in order).
	delivering bool
}

// unqueued releases what a call that leaves the queue counted against its caller's bound on
// queued call bytes. Caller holds inv.reg.mu.
func (d *Local) unqueued(inv *invocation) {
	if inv.callerPeer != nil {
		inv.callerPeer.queuedBytes.Add(-inv.queuedSize)
		inv.callerPeer, inv.queuedSize = nil, 0
	}
}

// peer is the dealer's state for one session, guarded by its own mutex: calls between
// different sessions never contend on a dealer-wide lock.
type peer struct {
	mu            sync.Mutex
	gone          bool
	calls         map[wamp.ID]*invocation // as caller, by CALL request ID
	invocations   map[wamp.ID]*invocation // as callee, by INVOCATION request ID
	registrations map[wamp.ID]*registration
	// inFlight counts the invocations this session serves, on all its registrations, for
	// Options.MaxInvocationsPerCallee. Changed under the registration's lock of each one.
	inFlight atomic.Int64
	// queuedBytes counts the payload bytes of this session's calls waiting in call queues,
	// for Options.MaxQueuedCallBytes.
	queuedBytes atomic.Int64
	// over remembers this session's progressive calls that ended (canceled, refused, timed
	// out, answered) while the caller was still streaming: their later chunks are dropped
	// instead of starting a new call. An entry goes when the final chunk arrives; at most
	// maxOverCalls are kept, the oldest forgotten first (overOrder is their ring).
	over      map[wamp.ID]struct{}
	overOrder []wamp.ID
	overNext  int

	// invokeMu orders this session's INVOCATIONs as callee: it is held from the moment one
	// takes its request ID (lastInvocation, the session's own sequence, 1, 2, 3, ...) until
	// it is queued on the session's connection, so that the IDs reach the callee in
	// increasing order whichever callers' readers dispatch at once. The nexus client drops
	// an INVOCATION whose ID is not above the last one it got, as a stale duplicate.
	invokeMu       sync.Mutex
	lastInvocation wamp.ID // under mu
}

// maxOverCalls bounds how many ended-but-still-streaming progressive calls one session's
// state remembers. A caller stops streaming once it hears the final answer, so only the
// chunks already in flight need matching; the bound keeps a hostile caller from growing it.
const maxOverCalls = 64

// rememberOver records that the progressive call req of this session is over while its
// caller still streams. Caller holds p.mu.
func (p *peer) rememberOver(req wamp.ID) {
	if p.over == nil {
		p.over = make(map[wamp.ID]struct{})
	}
	if len(p.overOrder) < maxOverCalls {
		p.overOrder = append(p.overOrder, req)
	} else {
		delete(p.over, p.overOrder[p.overNext])
		p.overOrder[p.overNext] = req
		p.overNext = (p.overNext + 1) % maxOverCalls
	}
	p.over[req] = struct{}{}
}

// refused answers a CALL the dealer does not take. A refused first chunk of a progressive
// call is remembered so that its later chunks are dropped rather than taken as new calls.
func (d *Local) refused(s *session.Session, p *peer, m *wamp.Call, reason wamp.URI, message string) {
	if more, _ := m.Options.Bool("progress"); more {
		p.mu.Lock()
		p.rememberOver(m.Request)
		p.mu.Unlock()
	}
	s.SendError(wamp.TypeCall, m.Request, reason, message)
}

// Local is the in-process dealer.
type Local struct {
	opts Options

	exact sync.Map // wamp.URI -> *registration for exact registrations: read lock-free on call
	peers sync.Map // *session.Session -> *peer

	mu       sync.RWMutex // guards the pattern index, byID, and registration changes
	patterns *uriindex.Index[*registration]
	byID     map[wamp.ID]*registration
	regID    wamp.IDGen
	timeouts timeouts

	counts counters // calls and their latency, for metrics (counters.go)
}

// NewLocal returns an empty in-process dealer.
func NewLocal(opts Options) *Local {
	if opts.CallQueueLimit <= 0 {
		opts.CallQueueLimit = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Local{opts: opts, patterns: uriindex.New[*registration](), byID: make(map[wamp.ID]*registration)}
	d.timeouts.expire = d.expire
	return d
}

// Features of this dealer.
func (d *Local) Features() wamp.Dict { return features }

// Close releases the dealer's timer.
func (d *Local) Close() { d.timeouts.stop() }

func (d *Local) publishMeta(topic wamp.URI, args ...any) {
	if d.opts.PublishMeta != nil {
		d.opts.PublishMeta(topic, wamp.List(args), nil)
	}
}

// existing returns the state of a session the dealer tracks, or nil once it has left.
func (d *Local) existing(s *session.Session) *peer {
	if p, ok := d.peers.Load(s); ok {
		return p.(*peer)
	}
	return nil
}

// peer returns the state of a live session, creating it on first use. Only the session's own
// handlers call it, so a session that has left is never brought back.
func (d *Local) peer(s *session.Session) *peer {
	if p := d.existing(s); p != nil {
		return p
	}
	p, _ := d.peers.LoadOrStore(s, &peer{
		calls:         make(map[wamp.ID]*invocation),
		invocations:   make(map[wamp.ID]*invocation),
		registrations: make(map[wamp.ID]*registration),
	})
	return p.(*peer)
}

// lookup finds the registration a call goes to: exact first (lock-free), then patterns.
func (d *Local) lookup(procedure wamp.URI) *registration {
	if v, ok := d.exact.Load(procedure); ok {
		return v.(*registration)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if !d.patterns.Patterns() {
		return nil
	}
	reg, _, match, ok := d.patterns.Best(procedure)
	if !ok || match == wamp.MatchExact {
		return nil
	}
	return reg
}

// Register adds s as a callee of a procedure pattern.
func (d *Local) Register(s *session.Session, m *wamp.Register) {
	match, _ := m.Options.String("match")
	if match == "" {
		match = wamp.MatchExact
	}
	invoke, _ := m.Options.String("invoke")
	if invoke == "" {
		invoke = InvokeSingle
	}
	if !validInvokePolicy(invoke) {
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrInvalidArgument, "unknown invocation policy "+invoke)
		return
	}
	if !wamp.ValidPattern(m.Procedure, match, d.opts.StrictURIs) || match == wamp.MatchExact && m.Procedure == "" {
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrInvalidURI, "invalid procedure URI: "+string(m.Procedure))
		return
	}
	if wamp.Reserved(m.Procedure, match) {
		if n := LimitStats.ReservedNamespace.Add(1); n&(n-1) == 0 { // logged at 1, 2, 4, ...
			d.opts.Logger.Warn("refused a registration in the router's namespace", "session", s.ID, "authid", s.AuthID,
				"procedure", m.Procedure, "match", match, "refused_so_far", n)
		}
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrInvalidURI,
			"procedures under wamp. and pawl. are reserved for the router")
		return
	}
	concurrency, _ := m.Options.Int("concurrency")
	if concurrency < 0 {
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrInvalidArgument, "concurrency must be positive")
		return
	}
	p := d.peer(s)
	c := &callee{session: s, peer: p, concurrency: int(concurrency), maxInFlight: d.opts.MaxInvocationsPerCallee}
	c.discloseCaller, _ = m.Options.Bool("disclose_caller")
	c.forwardTimeout, _ = m.Options.Bool("forward_timeout")

	if max := d.opts.MaxRegistrationsPerSession; max > 0 {
		p.mu.Lock()
		n := len(p.registrations)
		p.mu.Unlock()
		if n >= max {
			if n := LimitStats.RegistrationLimit.Add(1); n&(n-1) == 0 {
				d.opts.Logger.Warn("limit: registrations per session", "session", s.ID, "authid", s.AuthID,
					"max_registrations_per_session", max, "refused_so_far", n)
			}
			s.SendError(wamp.TypeRegister, m.Request, wamp.ErrNotAuthorized,
				fmt.Sprintf("a session may hold at most %d registrations (max_registrations_per_session)", max))
			return
		}
	}
	// A session's handlers run one at a time, so the count above holds until this one ends.
	var dirID wamp.ID
	var dirCreated bool
	if dir := d.opts.Directory; dir != nil {
		id, created, err := dir.Join(s, m.Procedure, match, invoke)
		if err != nil {
			var aerr *wamp.ApplicationError
			if errors.As(err, &aerr) {
				s.Send(&wamp.Error{RequestType: wamp.TypeRegister, Request: m.Request, Details: wamp.Dict{},
					Error: aerr.URI, Payload: wamp.Payload{Args: aerr.Args, Kwargs: aerr.Kwargs}})
			} else {
				s.SendError(wamp.TypeRegister, m.Request, wamp.ErrUnavailable, err.Error())
			}
			return
		}
		dirID, dirCreated = id, created
	}

	d.mu.Lock()
	reg, _ := d.patterns.Get(m.Procedure, match)
	created := reg == nil
	if dir := d.opts.Directory; dir != nil {
		created = dirCreated
		if reg != nil && reg.id != dirID {
			// This node still holds a registration the directory has replaced (another node
			// dropped its callees, as it drops a dead node's): refused until those leave.
			d.mu.Unlock()
			dir.Leave(s, dirID, m.Procedure, match)
			s.SendError(wamp.TypeRegister, m.Request, wamp.ErrUnavailable,
				"this node's registration of "+string(m.Procedure)+" is out of step with the cluster; try again")
			return
		}
	}
	if reg != nil {
		reg.mu.Lock()
		switch {
		case reg.calleeOf(s) != nil:
			reg.mu.Unlock()
			d.mu.Unlock()
			s.SendError(wamp.TypeRegister, m.Request, wamp.ErrProcedureAlreadyExists, "this session already registered "+string(m.Procedure))
			return
		case reg.invoke == InvokeSingle || reg.invoke != invoke:
			reg.mu.Unlock()
			d.mu.Unlock()
			s.SendError(wamp.TypeRegister, m.Request, wamp.ErrProcedureAlreadyExists,
				"procedure "+string(m.Procedure)+" is already registered with invocation policy "+reg.invoke)
			return
		}
		reg.callees = append(reg.callees, c)
		reg.mu.Unlock()
	} else {
		id := dirID
		if d.opts.Directory == nil {
			id = d.regID.Next()
		}
		reg = &registration{id: id, procedure: m.Procedure, match: match, invoke: invoke,
			created: time.Now(), callees: []*callee{c}}
		d.patterns.Put(m.Procedure, match, reg)
		d.byID[reg.id] = reg
		if match == wamp.MatchExact {
			d.exact.Store(m.Procedure, reg)
		}
	}
	p.mu.Lock()
	p.registrations[reg.id] = reg
	p.mu.Unlock()
	d.mu.Unlock()

	s.Send(&wamp.Registered{Request: m.Request, Registration: reg.id})
	if created {
		d.publishMeta("wamp.registration.on_create", s.ID, reg.details())
	}
	d.publishMeta("wamp.registration.on_register", s.ID, reg.id)
}

// Unregister removes s from a registration it holds.
func (d *Local) Unregister(s *session.Session, m *wamp.Unregister) {
	p := d.peer(s)
	p.mu.Lock()
	reg := p.registrations[m.Registration]
	p.mu.Unlock()
	if reg == nil {
		s.SendError(wamp.TypeUnregister, m.Request, wamp.ErrNoSuchRegistration)
		return
	}
	d.detach(p, s, reg)
	s.Send(&wamp.Unregistered{Request: m.Request})
}

// detach takes s off reg, deleting reg when it was the last callee. Calls waiting in the
// queue of a deleted registration fail with wamp.error.canceled.
func (d *Local) detach(p *peer, s *session.Session, reg *registration) {
	d.mu.Lock()
	reg.mu.Lock()
	kept := reg.callees[:0]
	for _, c := range reg.callees {
		if c.session != s {
			kept = append(kept, c)
		}
	}
	clear(reg.callees[len(kept):])
	reg.callees = kept
	var orphans []*invocation
	deleted := len(kept) == 0
	if deleted {
		reg.deleted = true
		orphans, reg.queue = reg.queue, nil
		for _, inv := range orphans {
			d.unqueued(inv)
		}
		d.patterns.Delete(reg.procedure, reg.match)
		delete(d.byID, reg.id)
		if reg.match == wamp.MatchExact {
			d.exact.CompareAndDelete(reg.procedure, reg)
		}
	}
	for _, inv := range orphans {
		d.endForCaller(inv)
		d.timeouts.remove(inv)
	}
	reg.mu.Unlock()
	d.mu.Unlock()
	p.mu.Lock()
	delete(p.registrations, reg.id)
	p.mu.Unlock()

	for _, inv := range orphans {
		inv.caller.SendError(wamp.TypeCall, inv.callerReq, wamp.ErrCanceled, "the procedure was unregistered")
	}
	if dir := d.opts.Directory; dir != nil {
		deleted = dir.Leave(s, reg.id, reg.procedure, reg.match)
	}
	d.publishMeta("wamp.registration.on_unregister", s.ID, reg.id)
	if deleted {
		d.publishMeta("wamp.registration.on_delete", s.ID, reg.id)
	}
}

// Call routes a CALL: a continuation of a progressive call goes to its invocation, a new call
// to a callee of the best-matching registration.
func (d *Local) Call(s *session.Session, m *wamp.Call) {
	caller := d.peer(s)
	caller.mu.Lock()
	inv := caller.calls[m.Request]
	if inv == nil {
		if _, over := caller.over[m.Request]; over {
			// A chunk of a progressive call that already ended: the caller has (or will
			// get) its one final answer, so the chunk is dropped; the final chunk also
			// ends the memory of the call.
			if more, _ := m.Options.Bool("progress"); !more {
				delete(caller.over, m.Request)
			}
			caller.mu.Unlock()
			return
		}
	}
	caller.mu.Unlock()
	if inv != nil {
		d.continueCall(caller, inv, m)
		return
	}
	d.counts.calls.Add(1)
	reg := d.lookup(m.Procedure)
	if reg == nil {
		d.noSuchProcedure(s, caller, m)
		return
	}
	inv = &invocation{reg: reg, caller: s, callerReq: m.Request, procedure: m.Procedure,
		callerWaits: true, heapIndex: -1, started: now()}
	inv.receiveProgress, _ = m.Options.Bool("receive_progress")
	inv.progressiveInput, _ = m.Options.Bool("progress")
	inv.discloseCaller, _ = m.Options.Bool("disclose_me")
	inv.timeout, _ = m.Options.Int("timeout")

	reg.mu.Lock()
	if reg.deleted {
		reg.mu.Unlock()
		d.noSuchProcedure(s, caller, m)
		return
	}
	c := reg.pick()
	size := int64(m.Payload.Size())
	if c == nil && d.opts.MaxQueuedCallBytes > 0 && size > 0 {
		// The queued CALLs of one caller, on every registration, are bounded in bytes (one
		// always fits): a flood of large calls to a busy callee cannot make the router hold
		// call_queue_limit full messages per registration.
		if n := caller.queuedBytes.Add(size); n > int64(d.opts.MaxQueuedCallBytes) && n != size {
			caller.queuedBytes.Add(-size)
			reg.mu.Unlock()
			if n := LimitStats.QueuedCallBytes.Add(1); n&(n-1) == 0 {
				d.opts.Logger.Warn("limit: queued call bytes per caller, calls refused with wamp.error.unavailable",
					"procedure", m.Procedure, "caller", s.ID, "max_queued_call_bytes", d.opts.MaxQueuedCallBytes, "refused_so_far", n)
			}
			d.refused(s, caller, m, wamp.ErrUnavailable,
				"all callees are busy and this caller's queued calls are at their byte bound (max_queued_call_bytes)")
			return
		}
		inv.callerPeer, inv.queuedSize = caller, size
	}
	if c == nil && len(reg.queue) >= d.opts.CallQueueLimit {
		d.unqueued(inv)
		reg.mu.Unlock()
		if n := LimitStats.CallQueueFull.Add(1); n&(n-1) == 0 { // logged at 1, 2, 4, 8, ...
			d.opts.Logger.Warn("limit: call queue full, calls refused with wamp.error.unavailable",
				"procedure", m.Procedure, "caller", s.ID, "call_queue_limit", d.opts.CallQueueLimit, "refused_so_far", n)
		}
		d.refused(s, caller, m, wamp.ErrUnavailable, "all callees are busy and the call queue is full")
		return
	}
	if inv.progressiveInput && c != nil && !c.session.HasFeature("callee", "progressive_call_invocations") {
		reg.mu.Unlock()
		d.refused(s, caller, m, wamp.ErrFeatureNotSupported, "the callee does not support progressive call invocations")
		return
	}
	caller.mu.Lock()
	caller.calls[m.Request] = inv
	caller.mu.Unlock()
	if c == nil {
		LimitStats.CallsQueued.Add(1)
		inv.pending = m
		reg.queue = append(reg.queue, inv)
	} else if !d.dispatch(inv, c, m, s) {
		// s: the INVOCATION is held until this caller's read is handled, so that the
		// INVOCATIONs of many callers' reads reach the callee in one write.
		d.endForCaller(inv)
		reg.mu.Unlock()
		s.SendError(wamp.TypeCall, m.Request, wamp.ErrCanceled, "the callee left")
		return
	}
	if inv.timeout > 0 && (c == nil || !c.forwardTimeout) {
		// A queued call times out while it waits; a dispatched one's INVOCATION is queued
		// for its callee already, so the timeout's INTERRUPT can never reach it first.
		inv.deadline = time.Now().Add(time.Duration(inv.timeout) * time.Millisecond)
		d.timeouts.add(inv)
	}
	reg.mu.Unlock()
}

// noSuchProcedure answers a call that no registration takes.
func (d *Local) noSuchProcedure(s *session.Session, p *peer, m *wamp.Call) {
	d.refused(s, p, m, wamp.ErrNoSuchProcedure, "no callee registered for procedure "+string(m.Procedure))
}

// dispatch assigns inv to callee c, gives it the callee's next request ID and queues its
// INVOCATION on the callee's connection: with via (the caller, on its reading goroutine) held
// until via's read is handled (Session.SendReply), else written at once. It reports false
// when the callee is leaving (its Leave fails the call). Caller holds reg.mu.
//
// The ID is taken and the INVOCATION queued under the callee's invokeMu, and nothing can
// INTERRUPT the invocation before reg.mu is released: the callee gets its INVOCATIONs in
// increasing ID order, and an INTERRUPT only after the INVOCATION it names.
func (d *Local) dispatch(inv *invocation, c *callee, m *wamp.Call, via *session.Session) bool {
	cp := d.existing(c.session)
	if cp == nil {
		return false // the callee is leaving; its Leave will fail this call
	}
	cp.invokeMu.Lock()
	defer cp.invokeMu.Unlock()
	cp.mu.Lock()
	if cp.gone {
		cp.mu.Unlock()
		return false
	}
	cp.lastInvocation++
	inv.id = cp.lastInvocation
	cp.invocations[inv.id] = inv
	cp.mu.Unlock()
	inv.callee, inv.calleeOwes, inv.pending = c, true, nil
	c.running++
	c.peer.inFlight.Add(1)
	// Most INVOCATIONs carry no details: nil encodes as {}, and allocates nothing.
	var details wamp.Dict
	first, _ := m.Options.Bool("progress")
	if inv.reg.match != wamp.MatchExact || inv.receiveProgress || first || inv.timeout > 0 && c.forwardTimeout ||
		inv.discloseCaller || c.discloseCaller {
		details = wamp.Dict{}
	}
	if inv.reg.match != wamp.MatchExact {
		details["procedure"] = string(inv.procedure)
	}
	if inv.receiveProgress {
		details["receive_progress"] = true
	}
	if first {
		// From the first CALL: a queued progressive call may have received its last chunk
		// (inv.progressiveInput false) before this INVOCATION goes out.
		details["progress"] = true
	}
	if inv.timeout > 0 && c.forwardTimeout {
		details["timeout"] = inv.timeout
	}
	if inv.discloseCaller || c.discloseCaller {
		details["caller"] = inv.caller.ID
		details["caller_authid"] = inv.caller.AuthID
		details["caller_authrole"] = inv.caller.AuthRole
	}
	c.session.SendReply(&wamp.Invocation{Request: inv.id, Registration: inv.reg.id, Details: details, Payload: m.Payload}, via)
	return true
}

// continueCall takes one more CALL of a progressive call invocation: forwarded to its callee,
// or kept in order while the call waits in the queue. A chunk of a call that is over is
// dropped: the caller has its one final answer.
func (d *Local) continueCall(caller *peer, inv *invocation, m *wamp.Call) {
	reg := inv.reg
	more, _ := m.Options.Bool("progress")
	reg.mu.Lock()
	if !inv.progressiveInput || !inv.callerWaits || inv.killWait || inv.callee != nil && !inv.calleeOwes {
		reg.mu.Unlock()
		return // a continuation of a call that completed or is being canceled meanwhile
	}
	if inv.callee == nil || inv.delivering {
		if refusal := d.hold(caller, inv, m); refusal != "" {
			inv.progressiveInput = more
			reg.mu.Unlock()
			d.abandon(inv, CancelKillNoWait, wamp.ErrUnavailable, refusal, false)
			return
		}
		inv.progressiveInput = more
		reg.mu.Unlock()
		return
	}
	inv.progressiveInput = more
	target := inv.callee.session
	reg.mu.Unlock()
	// A caller streaming faster than its callee reads would fill the callee's outbound queue
	// and get the honest callee cut off: past twice the callee's bound on invocations in
	// flight waiting for it, the call is ended instead (the caller hears
	// wamp.error.unavailable, the callee is interrupted).
	if max := d.opts.MaxInvocationsPerCallee; max > 0 {
		if queued, _ := target.Peer().Queued(); queued > 2*max {
			if n := LimitStats.StreamTooFast.Add(1); n&(n-1) == 0 {
				d.opts.Logger.Warn("limit: streamed call input ended, the callee is not keeping up",
					"caller", inv.caller.ID, "callee", target.ID, "callee_queued", queued, "refused_so_far", n)
			}
			d.abandon(inv, CancelKillNoWait, wamp.ErrUnavailable, "the callee is not keeping up with this call's streamed input", false)
			return
		}
	}
	target.Send(chunkInvocation(inv, m))
}

// hold keeps a chunk of a progressive call that has no callee yet (or whose INVOCATION is on
// its way) in the call's backlog, within the bounds on queued calls: at most
// Options.CallQueueLimit chunks while it waits, and the chunk's bytes count against the caller's
// Options.MaxQueuedCallBytes. It returns why the chunk does not fit, or "". Caller holds
// inv.reg.mu.
func (d *Local) hold(caller *peer, inv *invocation, m *wamp.Call) string {
	// The count bound applies while the call waits for a callee: once one took it, deliver is
	// draining the backlog and only the byte bound applies to what arrives meanwhile.
	if inv.callee == nil && len(inv.backlog) >= d.opts.CallQueueLimit {
		if n := LimitStats.CallQueueFull.Add(1); n&(n-1) == 0 {
			d.opts.Logger.Warn("limit: call queue full, a waiting streamed call is refused with wamp.error.unavailable",
				"procedure", inv.procedure, "caller", inv.caller.ID, "call_queue_limit", d.opts.CallQueueLimit, "refused_so_far", n)
		}
		return "all callees are busy and this call's queued chunks are at the call queue bound (call_queue_limit)"
	}
	if size := int64(m.Payload.Size()); d.opts.MaxQueuedCallBytes > 0 && size > 0 {
		if n := caller.queuedBytes.Add(size); n > int64(d.opts.MaxQueuedCallBytes) && n != size {
			caller.queuedBytes.Add(-size)
			if n := LimitStats.QueuedCallBytes.Add(1); n&(n-1) == 0 {
				d.opts.Logger.Warn("limit: queued call bytes per caller, a waiting streamed call is refused with wamp.error.unavailable",
					"procedure", inv.procedure, "caller", inv.caller.ID, "max_queued_call_bytes", d.opts.MaxQueuedCallBytes, "refused_so_far", n)
			}
			return "all callees are busy and this caller's queued calls are at their byte bound (max_queued_call_bytes)"
		}
		inv.callerPeer = caller
		inv.queuedSize += size
	}
	inv.backlog = append(inv.backlog, m)
	return ""
}

// chunkInvocation is the INVOCATION carrying one later chunk of a progressive call.
func chunkInvocation(inv *invocation, m *wamp.Call) *wamp.Invocation {
	details := wamp.Dict{}
	if more, _ := m.Options.Bool("progress"); more {
		details["progress"] = true
	}
	return &wamp.Invocation{Request: inv.id, Registration: inv.reg.id, Details: details, Payload: m.Payload}
}

// handoff is what is left to send for a call taken from the queue once the registration's
// lock is released (its INVOCATION went out at dispatch): inv is set when the call streams
// input, whose backlog follows it.
type handoff struct {
	// to is the callee a queued call was dispatched to (its INVOCATION is queued already),
	// or nil when none was.
	to  *session.Session
	inv *invocation
	// refused are queued progressive calls the callee with room cannot take (it lacks
	// progressive call invocations): their callers get wamp.error.feature_not_supported.
	refused []*invocation
}

// deliver sends a handoff: the chunks that arrived while the call waited, in order (after
// its INVOCATION), including any that arrive while these are being sent. Caller holds no
// lock.
func (d *Local) deliver(h handoff) {
	for _, inv := range h.refused {
		inv.caller.SendError(wamp.TypeCall, inv.callerReq, wamp.ErrFeatureNotSupported,
			"the callee does not support progressive call invocations")
	}
	if h.inv == nil {
		return
	}
	inv := h.inv
	inv.reg.mu.Lock()
	for {
		chunks := inv.backlog
		inv.backlog = nil
		d.unqueued(inv)
		if len(chunks) == 0 || !inv.callerWaits || !inv.calleeOwes {
			inv.delivering = false
			inv.reg.mu.Unlock()
			return
		}
		inv.reg.mu.Unlock()
		for _, m := range chunks {
			h.to.Send(chunkInvocation(inv, m))
		}
		inv.reg.mu.Lock()
	}
}

// endForCaller removes inv from its caller's pending calls. Caller holds inv.reg.mu.
func (d *Local) endForCaller(inv *invocation) {
	if !inv.callerWaits {
		return
	}
	inv.callerWaits = false
	inv.backlog = nil
	if cp := d.existing(inv.caller); cp != nil {
		cp.mu.Lock()
		if cp.calls[inv.callerReq] == inv {
			delete(cp.calls, inv.callerReq)
			if inv.progressiveInput {
				cp.rememberOver(inv.callerReq) // its later chunks are dropped, not new calls
			}
		}
		cp.mu.Unlock()
	}
}

// endForCallee removes inv from its callee's pending invocations, frees the callee's slot and
// dispatches the next queued call. It returns that call's INVOCATION, to send once the lock
// is released. Caller holds inv.reg.mu.
//
// When the callee was at its bound on invocations in flight (Options.MaxInvocationsPerCallee),
// calls of its other registrations may wait for the slot freed here: inv.wakeCallee is set,
// and finishUnlock hands the slot to them if this registration has none waiting.
func (d *Local) endForCallee(inv *invocation) handoff {
	if !inv.calleeOwes {
		return handoff{}
	}
	if c := inv.callee; c.peer.inFlight.Add(-1) == int64(c.maxInFlight)-1 && c.maxInFlight > 0 {
		inv.wakeCallee = true
	}
	inv.calleeOwes = false
	if cp := d.existing(inv.callee.session); cp != nil {
		cp.mu.Lock()
		delete(cp.invocations, inv.id)
		cp.mu.Unlock()
	}
	inv.callee.running--
	return d.dequeue(inv.reg)
}

// dequeue dispatches the oldest queued call to a callee with room. Caller holds reg.mu.
func (d *Local) dequeue(reg *registration) handoff {
	var h handoff
	for len(reg.queue) > 0 {
		c := reg.pick()
		if c == nil {
			return h
		}
		next := reg.queue[0]
		reg.queue[0] = nil
		reg.queue = reg.queue[1:]
		d.unqueued(next)
		if !d.callerPresent(next) {
			continue // its caller is leaving; its Leave forgets the call
		}
		streams, _ := next.pending.Options.Bool("progress")
		if streams && !c.session.HasFeature("callee", "progressive_call_invocations") {
			d.endForCaller(next)
			d.timeouts.remove(next)
			h.refused = append(h.refused, next)
			continue
		}
		if d.dispatch(next, c, next.pending, nil) {
			// A timeout it has stays scheduled: its INVOCATION is queued already.
			h.to = c.session
			if streams {
				next.delivering = true // chunks wait until deliver has sent this INVOCATION
				h.inv = next
			}
			return h
		}
	}
	return h
}

// callerPresent reports whether inv's caller still waits and has not started leaving.
// Caller holds inv.reg.mu.
func (d *Local) callerPresent(inv *invocation) bool {
	if !inv.callerWaits {
		return false
	}
	cp := d.existing(inv.caller)
	if cp == nil {
		return false
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return !cp.gone
}

// takeInvocation finds the invocation a callee's YIELD or ERROR answers.
func (d *Local) takeInvocation(s *session.Session, req wamp.ID) *invocation {
	cp := d.existing(s)
	if cp == nil {
		return nil
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.invocations[req]
}

// Yield passes a callee's result (progressive or final) to the caller. A YIELD for an
// invocation that no longer exists or whose caller stopped waiting is dropped quietly.
func (d *Local) Yield(s *session.Session, m *wamp.Yield) {
	inv := d.owedBy(s, m.Request)
	if inv == nil {
		return
	}
	if progress, _ := m.Options.Bool("progress"); progress {
		// Autobahn callees send progress without announcing call canceling; it is forwarded
		// whenever the caller asked for progressive results.
		deliver := inv.callerWaits && inv.receiveProgress
		inv.reg.mu.Unlock()
		if deliver {
			inv.caller.Send(&wamp.Result{Request: inv.callerReq, Details: wamp.Dict{"progress": true}, Payload: m.Payload})
		}
		return
	}
	// No details: nil encodes as {}, and allocates nothing.
	d.finishUnlock(inv, &wamp.Result{Request: inv.callerReq, Payload: m.Payload}, s)
}

// Error passes a callee's error for an invocation to the caller.
func (d *Local) Error(s *session.Session, m *wamp.Error) {
	inv := d.owedBy(s, m.Request)
	if inv == nil {
		return
	}
	details := m.Details
	if details == nil {
		details = wamp.Dict{}
	}
	d.finishUnlock(inv, &wamp.Error{RequestType: wamp.TypeCall, Request: inv.callerReq, Details: details,
		Error: m.Error, Payload: m.Payload}, s)
}

// owedBy returns the invocation a callee's YIELD or ERROR answers, with its registration's
// mutex held, or nil when the callee owes nothing for that request (any more).
func (d *Local) owedBy(s *session.Session, req wamp.ID) *invocation {
	inv := d.takeInvocation(s, req)
	if inv == nil {
		return nil
	}
	inv.reg.mu.Lock()
	if !inv.calleeOwes || inv.callee.session != s {
		inv.reg.mu.Unlock()
		return nil
	}
	return inv
}

// finishUnlock ends an invocation whose callee answered or left: the caller, if it still
// waits, gets answer, and the callee's freed slot goes to the next queued call. The caller of
// finishUnlock holds inv.reg.mu; it is released before anything is sent. via is the callee
// when this runs on its reading goroutine (its YIELD or ERROR): the answers one read of the
// callee brings then reach each caller in one write (Session.SendReply); else nil.
func (d *Local) finishUnlock(inv *invocation, answer wamp.Message, via *session.Session) {
	deliver := inv.callerWaits
	d.endForCaller(inv)
	next := d.endForCallee(inv)
	d.timeouts.remove(inv)
	wake := inv.wakeCallee && next.to == nil
	inv.wakeCallee = false
	inv.reg.mu.Unlock()
	if deliver {
		inv.caller.SendReply(answer, via)
		d.counts.observe(inv.started)
	}
	d.deliver(next)
	if wake {
		d.wakeCallee(inv.callee.peer, inv.reg)
	}
}

// wakeCallee gives a slot freed on a callee that was at its bound on invocations in flight
// to the oldest call waiting on one of its other registrations: without it, a call queued on
// a registration where the callee runs nothing would wait for a slot nobody frees.
func (d *Local) wakeCallee(p *peer, done *registration) {
	p.mu.Lock()
	regs := make([]*registration, 0, len(p.registrations))
	for _, reg := range p.registrations {
		if reg != done {
			regs = append(regs, reg)
		}
	}
	p.mu.Unlock()
	for _, reg := range regs {
		reg.mu.Lock()
		next := d.dequeue(reg)
		reg.mu.Unlock()
		d.deliver(next)
		if next.to != nil {
			return
		}
	}
}

// Cancel modes.
const (
	CancelSkip       = "skip"
	CancelKill       = "kill"
	CancelKillNoWait = "killnowait"
)

// Cancel cancels a pending call as its mode says; the caller always gets exactly one final
// answer. Without call canceling on the callee's side every mode behaves as skip.
func (d *Local) Cancel(s *session.Session, m *wamp.Cancel) {
	mode, _ := m.Options.String("mode")
	if mode == "" {
		mode = CancelKillNoWait
	}
	if mode != CancelSkip && mode != CancelKill && mode != CancelKillNoWait {
		s.SendError(wamp.TypeCancel, m.Request, wamp.ErrInvalidArgument, "unknown cancel mode "+mode)
		return
	}
	cp := d.peer(s)
	cp.mu.Lock()
	inv := cp.calls[m.Request]
	cp.mu.Unlock()
	if inv == nil {
		return // already answered: the caller has its one final message
	}
	// A caller that settles skip/killnowait cancels itself must not get the ERROR (compat.go).
	quiet := mode != CancelKill && settlesCancelLocally(s)
	d.abandon(inv, mode, wamp.ErrCanceled, "call canceled", quiet)
}

// expire ends a call whose timeout passed: the caller gets wamp.error.timeout, the callee an
// INTERRUPT.
func (d *Local) expire(inv *invocation) {
	d.abandon(inv, CancelKillNoWait, wamp.ErrTimeout, "call timed out", false)
}

// abandon stops a call on the caller's behalf (cancel or timeout). quiet leaves out the ERROR
// to the caller, for a caller that settled the call itself.
func (d *Local) abandon(inv *invocation, mode string, reason wamp.URI, message string, quiet bool) {
	reg := inv.reg
	reg.mu.Lock()
	if !inv.callerWaits || inv.killWait {
		reg.mu.Unlock()
		return
	}
	d.timeouts.remove(inv)
	if inv.callee == nil {
		// Still queued: it never reached a callee.
		reg.queue = removeInvocation(reg.queue, inv)
		d.unqueued(inv)
		d.endForCaller(inv)
		reg.mu.Unlock()
		if !quiet {
			inv.caller.SendError(wamp.TypeCall, inv.callerReq, reason, message)
		}
		return
	}
	interruptible := inv.calleeOwes && inv.callee.session.HasFeature("callee", "call_canceling")
	if !interruptible {
		mode = CancelSkip
	}
	target := inv.callee.session
	if mode == CancelKill {
		inv.killWait = true // the callee's answer will be the caller's answer
		reg.mu.Unlock()
		target.Send(&wamp.Interrupt{Request: inv.id, Options: wamp.Dict{"mode": mode, "reason": string(reason)}})
		return
	}
	d.endForCaller(inv)
	reg.mu.Unlock()
	if !quiet {
		inv.caller.SendError(wamp.TypeCall, inv.callerReq, reason, message)
	}
	if mode == CancelKillNoWait {
		target.Send(&wamp.Interrupt{Request: inv.id, Options: wamp.Dict{"mode": mode, "reason": string(reason)}})
	}
}

func removeInvocation(q []*invocation, inv *invocation) []*invocation {
	for i, x := range q {
		if x == inv {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			return q[:len(q)-1]
		}
	}
	return q
}

// Leave detaches a session: its registrations go, callers it was serving get
// wamp.error.canceled, and calls it was waiting for are interrupted (killnowait) or dropped
// from the queue.
func (d *Local) Leave(s *session.Session) {
	v, ok := d.peers.Load(s)
	if !ok {
		return
	}
	p := v.(*peer)
	// Detach first: once off its registrations, the session is never picked for a new call,
	// so every invocation it got is in p.invocations below.
	p.mu.Lock()
	regs := make([]*registration, 0, len(p.registrations))
	for _, reg := range p.registrations {
		regs = append(regs, reg)
	}
	p.mu.Unlock()
	for _, reg := range regs {
		d.detach(p, s, reg)
	}
	p.mu.Lock()
	p.gone = true
	serving := make([]*invocation, 0, len(p.invocations))
	for _, inv := range p.invocations {
		serving = append(serving, inv)
	}
	waiting := make([]*invocation, 0, len(p.calls))
	for _, inv := range p.calls {
		waiting = append(waiting, inv)
	}
	p.mu.Unlock()
	for _, inv := range serving {
		d.calleeGone(inv)
	}
	for _, inv := range waiting {
		d.callerGone(inv)
	}
	d.peers.Delete(s)
}

// calleeGone fails a call whose callee left.
func (d *Local) calleeGone(inv *invocation) {
	inv.reg.mu.Lock()
	d.finishUnlock(inv, &wamp.Error{RequestType: wamp.TypeCall, Request: inv.callerReq, Details: wamp.Dict{},
		Error: wamp.ErrCanceled, Payload: wamp.WithArgs("callee left before answering")}, nil)
}

// callerGone forgets a call whose caller left, interrupting its callee when it can.
func (d *Local) callerGone(inv *invocation) {
	reg := inv.reg
	reg.mu.Lock()
	inv.callerWaits = false
	d.timeouts.remove(inv)
	if inv.callee == nil {
		reg.queue = removeInvocation(reg.queue, inv)
		d.unqueued(inv)
		reg.mu.Unlock()
		return
	}
	var interrupt *session.Session
	if inv.calleeOwes && inv.callee.session.HasFeature("callee", "call_canceling") {
		interrupt = inv.callee.session
	}
	reg.mu.Unlock()
	if interrupt != nil {
		interrupt.Send(&wamp.Interrupt{Request: inv.id, Options: wamp.Dict{"mode": CancelKillNoWait, "reason": string(wamp.ErrCanceled)}})
	}
}

// Stats counts what the dealer holds: for tests proving that nothing is left behind.
type Stats struct {
	Calls         int // calls whose caller still waits
	Invocations   int // invocations whose callee still owes an answer
	Queued        int // calls waiting for a callee with room
	QueuedChunks  int // later chunks of queued progressive calls, held until a callee takes them
	Timeouts      int // scheduled deadlines
	Peers         int // sessions with dealer state
	Registrations int
}

// Stats reports what the dealer holds now.
func (d *Local) Stats() Stats {
	var st Stats
	d.peers.Range(func(_, v any) bool {
		p := v.(*peer)
		p.mu.Lock()
		st.Calls += len(p.calls)
		st.Invocations += len(p.invocations)
		p.mu.Unlock()
		st.Peers++
		return true
	})
	d.mu.RLock()
	st.Registrations = len(d.byID)
	for _, reg := range d.byID {
		reg.mu.Lock()
		st.Queued += len(reg.queue)
		for _, inv := range reg.queue {
			st.QueuedChunks += len(inv.backlog)
		}
		reg.mu.Unlock()
	}
	d.mu.RUnlock()
	st.Timeouts = d.timeouts.Len()
	return st
}

// Pending reports whether a CALL request of s is a call this dealer still serves (a later
// chunk of a progressive call goes to it): for a dealer in front of this one that routes
// new calls elsewhere.
func (d *Local) Pending(s *session.Session, req wamp.ID) bool {
	p := d.existing(s)
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.calls[req]; ok {
		return true
	}
	_, over := p.over[req]
	return over
}
