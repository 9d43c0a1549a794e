package rpc

import (
	"log/slog"
	"sync"
	"time"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

type registration struct {
	id        wamp.ID
	procedure wamp.URI
	callee    *session.Session
	created   time.Time
}

// invocation is one call in flight, known to both its caller's and its callee's peer state.
type invocation struct {
	id        wamp.ID // the INVOCATION request ID: unique dealer-wide
	caller    *session.Session
	callerReq wamp.ID
	callee    *session.Session
}

// peer is the dealer's state for one session. Only its own mutex guards it, so calls between
// different sessions never contend on a dealer-wide lock.
type peer struct {
	mu            sync.Mutex
	gone          bool
	calls         map[wamp.ID]*invocation // as caller, by CALL request ID
	invocations   map[wamp.ID]*invocation // as callee, by INVOCATION request ID
	registrations map[wamp.ID]*registration
}

// addInvocation records an invocation the peer is to serve, unless the peer has left.
func (p *peer) addInvocation(inv *invocation) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return false
	}
	p.invocations[inv.id] = inv
	return true
}

// Local is the in-process dealer.
type Local struct {
	log    *slog.Logger
	strict bool

	procedures sync.Map // wamp.URI -> *registration, read lock-free on call
	peers      sync.Map // *session.Session -> *peer

	mu    sync.Mutex // serializes registration changes
	byID  map[wamp.ID]*registration
	regID wamp.IDGen
	invID wamp.IDGen
}

// NewLocal returns an empty in-process dealer.
func NewLocal(log *slog.Logger, strictURIs bool) *Local {
	if log == nil {
		log = slog.Default()
	}
	return &Local{log: log, strict: strictURIs, byID: make(map[wamp.ID]*registration)}
}

// Features of this dealer.
func (d *Local) Features() wamp.Dict {
	return wamp.Dict{}
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
	if p, ok := d.peers.Load(s); ok {
		return p.(*peer)
	}
	p, _ := d.peers.LoadOrStore(s, &peer{
		calls:         make(map[wamp.ID]*invocation),
		invocations:   make(map[wamp.ID]*invocation),
		registrations: make(map[wamp.ID]*registration),
	})
	return p.(*peer)
}

// Register makes s the callee of a procedure.
func (d *Local) Register(s *session.Session, m *wamp.Register) {
	match, _ := m.Options.String("match")
	if match != "" && match != wamp.MatchExact {
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrOptionNotAllowed,
			"match policy "+match+" is not supported")
		return
	}
	if invoke, _ := m.Options.String("invoke"); invoke != "" && invoke != "single" {
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrOptionNotAllowed,
			"invocation policy "+invoke+" is not supported")
		return
	}
	if !wamp.ValidURI(m.Procedure, d.strict, false) {
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrInvalidURI, "invalid procedure URI: "+string(m.Procedure))
		return
	}
	p := d.peer(s)
	d.mu.Lock()
	if _, exists := d.procedures.Load(m.Procedure); exists {
		d.mu.Unlock()
		s.SendError(wamp.TypeRegister, m.Request, wamp.ErrProcedureAlreadyExists,
			"procedure already registered: "+string(m.Procedure))
		return
	}
	reg := &registration{id: d.regID.Next(), procedure: m.Procedure, callee: s, created: time.Now()}
	d.byID[reg.id] = reg
	d.procedures.Store(m.Procedure, reg)
	p.mu.Lock()
	p.registrations[reg.id] = reg
	p.mu.Unlock()
	d.mu.Unlock()
	s.Send(&wamp.Registered{Request: m.Request, Registration: reg.id})
}

// Unregister removes a registration s holds.
func (d *Local) Unregister(s *session.Session, m *wamp.Unregister) {
	p := d.peer(s)
	d.mu.Lock()
	reg, ok := d.byID[m.Registration]
	if ok && reg.callee == s {
		d.dropRegistration(p, reg)
	} else {
		ok = false
	}
	d.mu.Unlock()
	if !ok {
		s.SendError(wamp.TypeUnregister, m.Request, wamp.ErrNoSuchRegistration)
		return
	}
	s.Send(&wamp.Unregistered{Request: m.Request})
}

// dropRegistration forgets reg. Caller holds d.mu.
func (d *Local) dropRegistration(p *peer, reg *registration) {
	delete(d.byID, reg.id)
	d.procedures.CompareAndDelete(reg.procedure, reg)
	p.mu.Lock()
	delete(p.registrations, reg.id)
	p.mu.Unlock()
}

// Call sends an INVOCATION to the procedure's callee.
func (d *Local) Call(s *session.Session, m *wamp.Call) {
	v, ok := d.procedures.Load(m.Procedure)
	if !ok {
		s.SendError(wamp.TypeCall, m.Request, wamp.ErrNoSuchProcedure, "no callee registered for procedure "+string(m.Procedure))
		return
	}
	reg := v.(*registration)
	inv := &invocation{id: d.invID.Next(), caller: s, callerReq: m.Request, callee: reg.callee}
	callee := d.existing(reg.callee)
	if callee == nil || !callee.addInvocation(inv) {
		s.SendError(wamp.TypeCall, m.Request, wamp.ErrNoSuchProcedure, "no callee registered for procedure "+string(m.Procedure))
		return
	}
	caller := d.peer(s)
	caller.mu.Lock()
	caller.calls[m.Request] = inv
	caller.mu.Unlock()
	reg.callee.Send(&wamp.Invocation{Request: inv.id, Registration: reg.id, Details: wamp.Dict{}, Payload: m.Payload})
}

// Cancel stops waiting for a call: the caller gets wamp.error.canceled at once and whatever
// the callee answers later is dropped.
func (d *Local) Cancel(s *session.Session, m *wamp.Cancel) {
	inv := d.takeCall(d.peer(s), m.Request)
	if inv == nil {
		return // already answered: the caller has its one final message
	}
	d.forgetInvocation(inv)
	s.SendError(wamp.TypeCall, m.Request, wamp.ErrCanceled, "call canceled")
}

// takeCall removes and returns the caller's pending call with request ID req.
func (d *Local) takeCall(caller *peer, req wamp.ID) *invocation {
	caller.mu.Lock()
	defer caller.mu.Unlock()
	inv := caller.calls[req]
	delete(caller.calls, req)
	return inv
}

// takeInvocation removes and returns the callee's pending invocation with request ID req.
func (d *Local) takeInvocation(callee *peer, req wamp.ID) *invocation {
	callee.mu.Lock()
	defer callee.mu.Unlock()
	inv := callee.invocations[req]
	delete(callee.invocations, req)
	return inv
}

// forgetInvocation removes inv from its callee's pending set.
func (d *Local) forgetInvocation(inv *invocation) {
	callee := d.existing(inv.callee)
	if callee == nil {
		return
	}
	callee.mu.Lock()
	if callee.invocations[inv.id] == inv {
		delete(callee.invocations, inv.id)
	}
	callee.mu.Unlock()
}

// finish removes inv from its caller's pending set, reporting whether the caller still waits.
func (d *Local) finish(inv *invocation) bool {
	caller := d.existing(inv.caller)
	if caller == nil {
		return false
	}
	caller.mu.Lock()
	defer caller.mu.Unlock()
	if caller.gone || caller.calls[inv.callerReq] != inv {
		return false
	}
	delete(caller.calls, inv.callerReq)
	return true
}

// Yield passes a callee's result to the caller. A YIELD for an invocation that no longer
// exists (canceled, caller gone) is dropped quietly.
func (d *Local) Yield(s *session.Session, m *wamp.Yield) {
	inv := d.takeInvocation(d.peer(s), m.Request)
	if inv == nil || !d.finish(inv) {
		return
	}
	inv.caller.Send(&wamp.Result{Request: inv.callerReq, Details: wamp.Dict{}, Payload: m.Payload})
}

// Error passes a callee's error for an invocation to the caller.
func (d *Local) Error(s *session.Session, m *wamp.Error) {
	inv := d.takeInvocation(d.peer(s), m.Request)
	if inv == nil || !d.finish(inv) {
		return
	}
	details := m.Details
	if details == nil {
		details = wamp.Dict{}
	}
	inv.caller.Send(&wamp.Error{RequestType: wamp.TypeCall, Request: inv.callerReq, Details: details,
		Error: m.Error, Payload: m.Payload})
}

// Leave drops the session's registrations, fails the calls it was serving and forgets the
// calls it was waiting for.
func (d *Local) Leave(s *session.Session) {
	v, ok := d.peers.LoadAndDelete(s)
	if !ok {
		return
	}
	p := v.(*peer)
	d.mu.Lock()
	p.mu.Lock()
	regs := make([]*registration, 0, len(p.registrations))
	for _, reg := range p.registrations {
		regs = append(regs, reg)
	}
	p.mu.Unlock()
	for _, reg := range regs {
		d.dropRegistration(p, reg)
	}
	d.mu.Unlock()

	p.mu.Lock()
	p.gone = true
	serving, waiting := p.invocations, p.calls
	p.invocations, p.calls = nil, nil
	p.mu.Unlock()
	for _, inv := range serving {
		if d.finish(inv) {
			inv.caller.SendError(wamp.TypeCall, inv.callerReq, wamp.ErrCanceled, "callee left before answering")
		}
	}
	for _, inv := range waiting {
		d.forgetInvocation(inv)
	}
}

// Pending reports how many calls the dealer holds in flight and how many sessions it tracks:
// for tests proving that nothing is left behind.
func (d *Local) Pending() (calls, peers int) {
	d.peers.Range(func(_, v any) bool {
		p := v.(*peer)
		p.mu.Lock()
		calls += len(p.calls)
		p.mu.Unlock()
		peers++
		return true
	})
	return calls, peers
}
