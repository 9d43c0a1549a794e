package wamp

import (
	"errors"
	"reflect"
	"testing"
)

// The fuzz targets feed arbitrary bytes to Decode: any input must give a message or an error
// wrapping ErrInvalid, never a panic; a decoded message must encode, and the encoding must
// decode again to the same attributes (payload values included).

func FuzzJSONDecode(f *testing.F) {
	for _, data := range vectorSamples(f, "json") {
		f.Add(data)
	}
	for _, seed := range []string{
		`[16,1,{"a":[1.5,-0,1e400,"\ud800\udc00"]},"t",[null,true,"\u0000AQID"],{"k":{}}]`,
		`[337,1]`, `[35,0,{}]`, `[8,48,1,{},"e","\u0000"]`, `[1,"r",{"roles":{}}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeRoundTrip(t, JSON, data)
	})
}

func FuzzMsgPackDecode(f *testing.F) {
	for _, data := range vectorSamples(f, "msgpack") {
		f.Add(data)
	}
	f.Add([]byte{0x96, 0x10, 0x01, 0x81, 0xa1, 'k', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 0xa1, 't', 0x91, 0xc4, 0x01, 0x00, 0x81, 0xa1, 'x', 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x92, 0xcd, 0x01, 0x51, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeRoundTrip(t, MsgPack, data)
	})
}

func checkDecodeRoundTrip(t *testing.T, codec Codec, data []byte) {
	input := append([]byte(nil), data...)
	m, err := codec.Decode(data)
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		return
	}
	_ = Validate(m) // must not panic either
	enc, err := codec.Encode(nil, m)
	if err != nil {
		t.Fatalf("decoded %q but cannot encode it: %v", data, err)
	}
	m2, err := codec.Decode(enc)
	if err != nil {
		t.Fatalf("re-encoding %q of %q does not decode: %v", enc, data, err)
	}
	want := canonicalAttributes(t, m)
	if got := canonicalAttributes(t, m2); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip of %q changed the message:\n got %v\nwant %v", data, got, want)
	}
	// The payload may have been decoded lazily; the input must be untouched either way.
	if string(input) != string(data) {
		t.Fatalf("decoding modified its input")
	}
	// JSON always transcodes to MessagePack (the reverse can fail: NaN has no JSON form).
	if codec == JSON {
		mp, err := MsgPack.Encode(nil, m)
		if err != nil {
			t.Fatalf("cannot transcode %q to msgpack: %v", data, err)
		}
		m3, err := MsgPack.Decode(mp)
		if err != nil {
			t.Fatalf("transcoded %q does not decode: %v", data, err)
		}
		if got := canonicalAttributes(t, m3); !reflect.DeepEqual(got, want) {
			t.Fatalf("transcoding %q changed the message:\n got %v\nwant %v", data, got, want)
		}
	}
}

func canonicalAttributes(t *testing.T, m Message) any {
	a := messageAttributes(t, m)
	out := map[string]any{}
	for k, v := range a {
		if k == "payload" {
			out[k] = v
			continue
		}
		if isEmptyValue(v) && (k == "args" || k == "kwargs") {
			continue
		}
		out[k] = canonical(v)
	}
	return out
}

func FuzzCBORDecode(f *testing.F) {
	for _, data := range vectorSamples(f, "cbor") {
		f.Add(data)
	}
	// Indefinite lengths, a float16, a byte string payload, 2^64-1 and -2^63.
	f.Add([]byte{0x9f, 0x10, 0x05, 0xbf, 0x61, 'k', 0xf9, 0x3c, 0x00, 0xff, 0x7f, 0x61, 't', 0xff, 0x82, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x85, 0x10, 0x01, 0xa0, 0x61, 't', 0x43, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeRoundTrip(t, CBOR, data)
	})
}
