package wamp

import "testing"

// TestUndefinedOptionsAreAbsent pins how JavaScript's undefined arrives from wampy.js, which
// leaves unset options undefined in its SUBSCRIBE and REGISTER: MessagePack libraries encode
// it as the extension d4 00 00, CBOR as the simple value undefined (0xf7). An option that is
// undefined is an option not given — as JSON.stringify drops it — not a malformed message.
func TestUndefinedOptionsAreAbsent(t *testing.T) {
	for _, tc := range []struct {
		codec Codec
		data  []byte
	}{
		{MsgPack, append(append([]byte{0x94, 0x20, 0x01, 0x82, 0xa5}, "match"...),
			append(append([]byte{0xd4, 0x00, 0x00, 0xa3}, "get"...), append([]byte{0xc3, 0xa3}, "a.b"...)...)...)},
		{CBOR, append(append([]byte{0x84, 0x18, 0x20, 0x01, 0xa2, 0x65}, "match"...),
			append(append([]byte{0xf7, 0x63}, "get"...), append([]byte{0xf5, 0x63}, "a.b"...)...)...)},
	} {
		m, err := tc.codec.Decode(tc.data)
		if err != nil {
			t.Fatalf("%s: %v", tc.codec.Name(), err)
		}
		sub, ok := m.(*Subscribe)
		if !ok {
			t.Fatalf("%s: decoded %T", tc.codec.Name(), m)
		}
		if _, has := sub.Options["match"]; has || sub.Options["get"] != true || sub.Topic != "a.b" {
			t.Errorf("%s: options %v, topic %q", tc.codec.Name(), sub.Options, sub.Topic)
		}
	}
}
