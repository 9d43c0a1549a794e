package websocket

import (
	"slices"
	"testing"
)

// TestSubprotocolsNameSerializers pins how WebSocket negotiation maps onto serializer names,
// the codec registry's keys, and frame kinds.
func TestSubprotocolsNameSerializers(t *testing.T) {
	for _, tc := range []struct {
		subprotocol, serializer string
		binary                  bool
	}{
		{"wamp.2.json", "json", false},
		{"wamp.2.msgpack", "msgpack", true},
		{"wamp.2.cbor", "cbor", true},
		{"chat.v1", "", false}, // a plain component's own subprotocol names no serializer
	} {
		if got := subprotocolInfo(tc.subprotocol); got.serializer != tc.serializer || got.binary != tc.binary {
			t.Errorf("%q: serializer %q binary %v, want %q %v", tc.subprotocol, got.serializer, got.binary, tc.serializer, tc.binary)
		}
		c := newConnState(nil, tc.subprotocol, Options{}, nil)
		if c.Serializer() != tc.serializer || c.binary != tc.binary {
			t.Errorf("conn over %q: serializer %q binary %v", tc.subprotocol, c.Serializer(), c.binary)
		}
	}
	if got := SubprotocolsFor("msgpack", "json"); !slices.Equal(got, []string{"wamp.2.msgpack", "wamp.2.json"}) {
		t.Errorf("SubprotocolsFor(msgpack, json) = %v", got)
	}
	if got := SubprotocolsFor("cbor"); !slices.Equal(got, []string{"wamp.2.cbor"}) {
		t.Errorf("SubprotocolsFor(cbor) = %v", got)
	}
	if got := SubprotocolsFor("nope"); len(got) != 0 {
		t.Errorf("SubprotocolsFor(nope) = %v", got)
	}
}
