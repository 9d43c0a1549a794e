package clustered

import (
	"github.com/pawl-wamp/pawl/rpc"
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

func (d *Dealer) metaLookup(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, match, err := rpc.LookupArgs(args)
	if err != nil {
		return nil, nil, err
	}
	if e := d.dir.get(u, match); e != nil {
		return wamp.List{e.ID}, nil, nil
	}
	return wamp.List{nil}, nil, nil
}

func (d *Dealer) metaMatch(_ *session.Session, args wamp.List, _ wamp.Dict) (wamp.List, wamp.Dict, error) {
	u, err := rpc.ProcedureArg(args)
	if err != nil {
		return nil, nil, err
	}
	if e := d.dir.best(u); e != nil {
		return wamp.List{e.ID}, nil, nil
	}
	return wamp.List{nil}, nil, nil
}

func (d *Dealer) registration(args wamp.List) (*entry, error) {
	id, err := rpc.RegistrationIDArg(args)
	if err != nil {
		return nil, err
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
