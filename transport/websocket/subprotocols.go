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
	// batched: each WebSocket message carries one or more WAMP messages, each followed by
	// the byte 0x18 (text) or preceded by its length in 4 octets, big-endian (binary), as
	// Autobahn|Python and Crossbar.io frame them.
	batched bool
}

func init() {
	RegisterSubprotocol("wamp.2.json", "json", false)
	RegisterSubprotocol("wamp.2.msgpack", "msgpack", true)
	RegisterSubprotocol("wamp.2.cbor", "cbor", true)
	registerBatched("wamp.2.json.batched", "json", false)
	registerBatched("wamp.2.msgpack.batched", "msgpack", true)
	registerBatched("wamp.2.cbor.batched", "cbor", true)
}

// registerBatched registers a batched variant of a serializer's subprotocol: the server
// offers it after the plain ones (ServerSubprotocolsFor); the Go client never asks for it.
func registerBatched(name, serializer string, binary bool) {
	RegisterSubprotocol(name, serializer, binary)
	subprotocols.Lock()
	defer subprotocols.Unlock()
	sp := subprotocols.byName[name]
	sp.batched = true
	subprotocols.byName[name] = sp
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

// SubprotocolsFor lists the subprotocols carrying the given serializers one message per
// WebSocket message, in the serializers' order (then in registration order), for a dialer's
// offer.
func SubprotocolsFor(serializers ...string) []string {
	return subprotocolsFor(serializers, false)
}

// ServerSubprotocolsFor lists, for a server, the subprotocols carrying the given
// serializers: those of SubprotocolsFor first (the server's preference), then their batched
// variants (wamp.2.json.batched, ...), which Autobahn|Python offers first when asked to batch.
func ServerSubprotocolsFor(serializers ...string) []string {
	return append(subprotocolsFor(serializers, false), subprotocolsFor(serializers, true)...)
}

func subprotocolsFor(serializers []string, batched bool) []string {
	subprotocols.RLock()
	defer subprotocols.RUnlock()
	var out []string
	for _, s := range serializers {
		for _, name := range subprotocols.order {
			if sp := subprotocols.byName[name]; sp.serializer == s && sp.batched == batched {
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
