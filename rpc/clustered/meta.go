package clustered

import (
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// metaProcedures answer from this node's copy of the directory: every node's registrations.
func (d *Dealer) metaProcedures() map[wamp.URI]session.LocalProcedure {
	return map[wamp.URI]session.LocalProcedure{
		"wamp.registration.list":          d.metaList,
		"wamp.registration.lookup":        d.metaLookup,
		"wamp.registration.match":         d.metaMatch,
		"wamp.registration.get":           d.metaGet,
		"wamp.registration.list_callees":  d.metaListCallees,
		"wamp.registration.count_callees": d.metaCountCallees,
	}
}

func (d *Dealer) metaList(_ *session.Session, _ wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	out := wamp.Dict{}
	for match, ids := range d.dir.ids() {
		l := make(wamp.List, len(ids))
		for i, id := range ids {
			l[i] = id
		}
		out[match] = l
	}
	return wamp.List{out}, nil, nil
}

func uriArg(args wamp.List) (wamp.URI, error) {
	if len(args) < 1 {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "missing procedure URI argument")
	}
	u, ok := args[0].(string)
	if !ok {
		return "", wamp.NewError(wamp.ErrInvalidArgument, "procedure URI must be a string")
	}
	return wamp.URI(u), nil
}

func (d *Dealer) metaLookup(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, err := uriArg(args)
	if err != nil {
		return nil, nil, err
	}
	match := wamp.MatchExact
	if len(args) > 1 {
		if opts, ok := args[1].(wamp.Dict); ok {
			if m, ok := opts.String("match"); ok {
				match = m
			}
		}
	}
	if e := d.dir.get(u, match); e != nil {
		return wamp.List{e.ID}, nil, nil
	}
	return wamp.List{nil}, nil, nil
}

func (d *Dealer) metaMatch(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, err := uriArg(args)
	if err != nil {
		return nil, nil, err
	}
	if e := d.dir.best(u); e != nil {
		return wamp.List{e.ID}, nil, nil
	}
	return wamp.List{nil}, nil, nil
}

func (d *Dealer) registration(args wamp.List) (*entry, error) {
	if len(args) < 1 {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, "missing ID argument")
	}
	id, ok := wamp.AsID(args[0])
	if !ok {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, "ID must be an integer in 1..2^53")
	}
	e := d.dir.byRegistration(id)
	if e == nil {
		return nil, wamp.NewError(wamp.ErrNoSuchRegistration, "no registration with that ID")
	}
	return e, nil
}

func (d *Dealer) metaGet(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	e, err := d.registration(args)
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{wamp.Dict{
		"id":      e.ID,
		"created": e.Created.UTC().Format("2006-01-02T15:04:05.000Z"),
		"uri":     string(e.URI),
		"match":   e.Match,
		"invoke":  e.Invoke,
	}}, nil, nil
}

func (d *Dealer) metaListCallees(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	e, err := d.registration(args)
	if err != nil {
		return nil, nil, err
	}
	ids := make(wamp.List, len(e.Callees))
	for i, c := range e.Callees {
		ids[i] = c.Session
	}
	return wamp.List{ids}, nil, nil
}

func (d *Dealer) metaCountCallees(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	e, err := d.registration(args)
	if err != nil {
		return nil, nil, err
	}
	return wamp.List{int64(len(e.Callees))}, nil, nil
}
