package dispatch

import "github.com/pawl-wamp/pawl/wamp"

// Table is a table from message type to handler: typed dispatch instead of a switch on the
// wire. P is who received the message: *session.Session on the router side, *client.Client on the client side.
// A message type with no handler is a protocol violation.
type Table[P any] struct {
	table map[wamp.MessageType]func(P, wamp.Message)
}

// Handle registers f for messages of type t.
func (d *Table[P]) Handle(t wamp.MessageType, f func(P, wamp.Message)) {
	if d.table == nil {
		d.table = make(map[wamp.MessageType]func(P, wamp.Message))
	}
	d.table[t] = f
}

// Lookup returns the handler for type t.
func (d *Table[P]) Lookup(t wamp.MessageType) (func(P, wamp.Message), bool) {
	f, ok := d.table[t]
	return f, ok
}

// On registers a typed handler: the message reaches f as its own Go type.
func On[P any, M wamp.Message](d *Table[P], f func(P, M)) {
	var zero M
	d.Handle(zero.Type(), func(p P, m wamp.Message) { f(p, m.(M)) })
}
