package websocket

import "sync"

// The WebSocket subprotocols of WAMP, each naming a serializer (the codec registry in wamp/
// finds codecs by that name) and the kind of frame its messages travel in. A new one is one
// line in init.
var subprotocols struct {
	sync.RWMutex
	byName map[string]subprotocol // by subprotocol
	order  []string               // registration order: the server's preference
}

type subprotocol struct {
	serializer string
	binary     bool
}

func init() {
	RegisterSubprotocol("wamp.2.json", "json", false)
	RegisterSubprotocol("wamp.2.msgpack", "msgpack", true)
	RegisterSubprotocol("wamp.2.cbor", "cbor", true)
}

// RegisterSubprotocol makes a WebSocket subprotocol carry the named serializer, in binary
// (true) or text frames. Connections that negotiated it report the serializer (Conn.Serializer)
// and send in that kind of frame.
func RegisterSubprotocol(name, serializer string, binary bool) {
	subprotocols.Lock()
	defer subprotocols.Unlock()
	if subprotocols.byName == nil {
		subprotocols.byName = map[string]subprotocol{}
	}
	if _, ok := subprotocols.byName[name]; !ok {
		subprotocols.order = append(subprotocols.order, name)
	}
	subprotocols.byName[name] = subprotocol{serializer: serializer, binary: binary}
}

// SubprotocolsFor lists the subprotocols carrying the given serializers, in the serializers'
// order (then in registration order), for a server's or a dialer's offer.
func SubprotocolsFor(serializers ...string) []string {
	subprotocols.RLock()
	defer subprotocols.RUnlock()
	var out []string
	for _, s := range serializers {
		for _, name := range subprotocols.order {
			if subprotocols.byName[name].serializer == s {
				out = append(out, name)
			}
		}
	}
	return out
}

// subprotocolInfo is what a negotiated subprotocol says; the zero value for an unknown one
// (a plain WebSocket component's own subprotocol, or none).
func subprotocolInfo(name string) subprotocol {
	subprotocols.RLock()
	defer subprotocols.RUnlock()
	return subprotocols.byName[name]
}
