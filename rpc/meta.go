package rpc

import (
	"sort"

	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// MetaProcedures returns the registration meta API. The router's own procedures are not
// registrations, so they never show up in these lists.
func (d *Local) MetaProcedures() map[wamp.URI]session.LocalProcedure {
	return map[wamp.URI]session.LocalProcedure{
		"wamp.registration.list":          d.metaList,
		"wamp.registration.lookup":        d.metaLookup,
		"wamp.registration.match":         d.metaMatch,
		"wamp.registration.get":           d.metaGet,
		"wamp.registration.list_callees":  d.metaListCallees,
		"wamp.registration.count_callees": d.metaCountCallees,
	}
}

func (d *Local) metaList(_ *session.Session, _ wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	lists := map[string][]wamp.ID{wamp.MatchExact: {}, wamp.MatchPrefix: {}, wamp.MatchWildcard: {}}
	d.mu.RLock()
	for _, reg := range d.byID {
		lists[reg.match] = append(lists[reg.match], reg.id)
	}
	d.mu.RUnlock()
	out := wamp.Dict{}
	for match, ids := range lists {
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		l := make(wamp.List, len(ids))
		for i, id := range ids {
			l[i] = id
		}
		out[match] = l
	}
	return wamp.List{out}, nil, nil
}

// ProcedureArg reads the first positional argument of a registration meta procedure as a
// procedure URI. Dealers built on Local (rpc/clustered) answer the same meta API with it.
func ProcedureArg(args wamp.List) (wamp.URI, error) {
	if len(args) < 1 {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "missing procedure URI argument")
	}
	u, ok := args[0].(string)
	if !ok {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "procedure URI must be a string")
	}
	return wamp.URI(u), nil
}

// RegistrationIDArg reads the first positional argument of a registration meta procedure as
// a registration ID.
func RegistrationIDArg(args wamp.List) (wamp.ID, error) {
	if len(args) < 1 {
		return 0, wamp.NewError(wamp.ErrInvalidArgument, "missing ID argument")
	}
	id, ok := wamp.AsID(args[0])
	if !ok {
		return 0, wamp.NewError(wamp.ErrInvalidArgument, "ID must be an integer in 1..2^53")
	}
	return id, nil
}

// LookupArgs reads wamp.registration.lookup's arguments: [procedure, options{match}], the
// match exact unless the options say otherwise.
func LookupArgs(args wamp.List) (procedure wamp.URI, match string, err error) {
	procedure, err = ProcedureArg(args)
	if err != nil {
		return "", "", err
	}
	match = wamp.MatchExact
	if len(args) > 1 {
		if opts, ok := args[1].(wamp.Dict); ok {
			if m, ok := opts.String("match"); ok {
				match = m
			}
		}
	}
	return procedure, match, nil
}

// metaLookup: [procedure, options{match}] → registration ID or null.
func (d *Local) metaLookup(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, match, err := LookupArgs(args)
	if err != nil {
		return nil, nil, err
	}
	d.mu.RLock()
	reg, ok := d.patterns.Get(u, match)
	d.mu.RUnlock()
	if !ok {
		return wamp.List{nil}, nil, nil
	}
	return wamp.List{reg.id}, nil, nil
}

// metaMatch: [procedure] → the registration a call to it would reach, or null.
func (d *Local) metaMatch(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, err := ProcedureArg(args)
	if err != nil {
		return nil, nil, err
	}
	d.mu.RLock()
	reg, _, _, ok := d.patterns.Best(u)
	d.mu.RUnlock()
	if !ok {
		return wamp.List{nil}, nil, nil
	}
	return wamp.List{reg.id}, nil, nil
}

func (d *Local) registration(args wamp.List) (*registration, error) {
	id, err := RegistrationIDArg(args)
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	reg := d.byID[id]
	d.mu.RUnlock()
	if reg == nil {
		return nil, wamp.NewError(wamp.ErrNoSuchRegistration, "no registration with that ID")
	}
	return reg, nil
}

func (d *Local) metaGet(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	reg, err := d.registration(args)
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{reg.details()}, nil, nil
}

func (d *Local) metaListCallees(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	reg, err := d.registration(args)
	if err != nil {
		return nil, nil, err
	}
	reg.mu.Lock()
	ids := make(wamp.List, len(reg.callees))
	for i, c := range reg.callees {
		ids[i] = c.session.ID
	}
	reg.mu.Unlock()
	return wamp.List{ids}, nil, nil
}

func (d *Local) metaCountCallees(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	reg, err := d.registration(args)
	if err != nil {
		return nil, nil, err
	}
	reg.mu.Lock()
	n := len(reg.callees)
	reg.mu.Unlock()
	return wamp.List{int64(n)}, nil, nil
}
