package wamp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestCBORCrossCodecValues: a JSON PUBLISH converted to CBOR keeps integers integers (2^53,
// 2^64-1, negatives), floats floats, and turns "\u0000"+base64 into a byte string; CBOR
// converted to MessagePack gives bin; and everything comes back unchanged.
func TestCBORCrossCodecValues(t *testing.T) {
	in := `[16, 7, {"x": 1.0}, "com.t", [3, 9007199254740992, 1.5, "\u0000AQID", [[], {}, [1, [2]]],` +
		` "h\u00e9llo \u2603 \ud83d\ude00", "", null, true, false, 18446744073709551615, -5, 2.5e-8, -9223372036854775808],` +
		` {"nested": {"list": [1, "a", {"b": null}]}, "big": 9223372036854775808}]`
	want := List{int64(3), int64(1 << 53), 1.5, []byte{1, 2, 3}, List{List{}, Dict{}, List{int64(1), List{int64(2)}}},
		"héllo ☃ 😀", "", nil, true, false, uint64(math.MaxUint64), int64(-5), 2.5e-8, int64(math.MinInt64)}
	wantKw := Dict{"nested": Dict{"list": List{int64(1), "a", Dict{"b": nil}}}, "big": uint64(1 << 63)}

	m, err := JSON.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := CBOR.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	for name, frag := range map[string]string{
		"binary as a byte string": "43010203",
		"2^53 as an unsigned int": "1b0020000000000000",
		"2^64-1":                  "1bffffffffffffffff",
		"-5 as a negative int":    "24",
		"-2^63":                   "3b7fffffffffffffff",
		"1.5 as a float":          "fa3fc00000",
	} {
		if !bytes.Contains(cb, mustHex(t, frag)) {
			t.Errorf("%s: %s not in %x", name, frag, cb)
		}
	}
	m2, err := CBOR.Decode(cb)
	if err != nil {
		t.Fatal(err)
	}
	checkPublishValues(t, "cbor", m2, want, wantKw)

	// CBOR to MessagePack: the byte string becomes bin, the integers stay integers.
	mp, err := MsgPack.Encode(nil, m2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mp, []byte{0xc4, 3, 1, 2, 3}) {
		t.Errorf("CBOR byte string not converted to msgpack bin: %x", mp)
	}
	m3, err := MsgPack.Decode(mp)
	if err != nil {
		t.Fatal(err)
	}
	checkPublishValues(t, "msgpack from cbor", m3, want, wantKw)

	// CBOR to JSON: the binary convention and exact integers.
	js, err := JSON.Encode(nil, m2)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"\u0000AQID"`, `9007199254740992`, `18446744073709551615`, `-9223372036854775808`, `"x":1.0`} {
		if !bytes.Contains(js, []byte(frag)) {
			t.Errorf("JSON %s lacks %s", js, frag)
		}
	}
	// And back to CBOR from each.
	for _, via := range []Message{m3, mustDecode(t, JSON, js)} {
		back, err := CBOR.Encode(nil, via)
		if err != nil {
			t.Fatal(err)
		}
		checkPublishValues(t, "cbor again", mustDecode(t, CBOR, back), want, wantKw)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDecode(t *testing.T, c Codec, data []byte) Message {
	t.Helper()
	m, err := c.Decode(data)
	if err != nil {
		t.Fatalf("%s: decode %x: %v", c.Name(), data, err)
	}
	return m
}

// TestCBORSplicing: a CBOR peer's payload reaches CBOR recipients byte for byte, without being
// decoded; a JSON recipient makes it be decoded once, and later CBOR encodings still splice.
func TestCBORSplicing(t *testing.T) {
	// [16, 1, {}, "t", [h'00ff', 1.1 as a half float, {"k": -1}], {"z": [true]}] with a float16,
	// which our encoder never writes, so a re-encoded payload would differ.
	args := mustHex(t, "8342"+"00ff"+"f93c66"+"a1616b20")
	kwargs := mustHex(t, "a1617a81f5")
	msg := append(append(mustHex(t, "86"+"10"+"01"+"a0"+"6174"), args...), kwargs...)
	m := mustDecode(t, CBOR, msg)
	p := &m.(*Publish).Payload
	if !bytes.Equal(p.Raw.Args, args) || !bytes.Equal(p.Raw.Kwargs, kwargs) {
		t.Fatalf("raw payload %x %x, want %x %x", p.Raw.Args, p.Raw.Kwargs, args, kwargs)
	}
	ev := &Event{Subscription: 2, Publication: 3, Details: Dict{}, Payload: *p}
	out, err := CBOR.Encode(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append(mustHex(t, "86"+"18"+"24"+"02"+"03"+"a0"), args...), kwargs...); !bytes.Equal(out, want) {
		t.Errorf("CBOR event %x, want %x", out, want)
	}
	if ev.Payload.decoded {
		t.Error("a same-codec encoding decoded the payload")
	}
	js, err := JSON.Encode(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[36,2,3,{},["\u0000AP8=",1.099609375,{"k":-1}],{"z":[true]}]`; string(js) != want {
		t.Errorf("JSON event %s, want %s", js, want)
	}
	again, err := CBOR.Encode(nil, ev)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("CBOR after JSON: %x, %v; want the spliced %x", again, err, out)
	}
}

// TestCBORIndefiniteLengths: streaming encoders write indefinite-length arrays, maps and
// strings; they decode like definite ones, and a raw payload keeps the sender's bytes.
func TestCBORIndefiniteLengths(t *testing.T) {
	// [_ 16, 5, {_ "acknowledge": true}, (_ "com.", "t"), [_ 1, (_ h'01', h'02')]]
	msg := mustHex(t, "9f"+"10"+"05"+"bf"+"6b61636b6e6f776c65646765"+"f5"+"ff"+"7f"+"64636f6d2e"+"6174"+"ff"+"9f"+"01"+"5f"+"4101"+"4102"+"ff"+"ff"+"ff")
	m := mustDecode(t, CBOR, msg)
	pub := m.(*Publish)
	if pub.Topic != "com.t" || pub.Options["acknowledge"] != true || pub.Request != 5 {
		t.Errorf("decoded %#v", pub)
	}
	args, _, err := pub.Values()
	if err != nil {
		t.Fatal(err)
	}
	if want := (List{int64(1), []byte{1, 2}}); !equalValues(args, want) {
		t.Errorf("args %#v, want %#v", args, want)
	}
	if want := mustHex(t, "9f01"+"5f41014102ff"+"ff"); !bytes.Equal(pub.Payload.Raw.Args, want) {
		t.Errorf("raw args %x, want %x", pub.Payload.Raw.Args, want)
	}
	// An indefinite-length binary payload (passthru) is joined.
	m = mustDecode(t, CBOR, mustHex(t, "9f"+"10"+"05"+"a0"+"6174"+"5f"+"4101"+"4102"+"ff"+"ff"))
	if got := m.(*Publish).Payload.Opaque; !bytes.Equal(got, []byte{1, 2}) {
		t.Errorf("passthru payload %x, want 0102", got)
	}
}

func equalValues(a, b any) bool { return reflect.DeepEqual(canonical(a), canonical(b)) }

// TestCBORBignums: autobahn.js (the npm cbor package) writes every BigInt as a bignum tag,
// 2^53 included. Bignums that fit 64 bits are the same integers as plain CBOR integers
// (RFC 8949), so they decode, and convert, as integers.
func TestCBORBignums(t *testing.T) {
	// PUBLISH with args [2^53, 2^64-1, -2^63, -2^53, 0 with leading zero bytes].
	msg := mustHex(t, "8510"+"01"+"a0"+"6174"+"85"+"c24720000000000000"+"c248ffffffffffffffff"+
		"c3487fffffffffffffff"+"c3471fffffffffffff"+"c243000000")
	m := mustDecode(t, CBOR, msg)
	args, _, err := m.(*Publish).Values()
	if err != nil {
		t.Fatal(err)
	}
	want := List{int64(1 << 53), uint64(math.MaxUint64), int64(math.MinInt64), int64(-1 << 53), int64(0)}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args %#v, want %#v", args, want)
	}
	js, err := JSON.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[16,1,{},"t",[9007199254740992,18446744073709551615,-9223372036854775808,-9007199254740992,0]]`; string(js) != want {
		t.Errorf("as JSON %s, want %s", js, want)
	}
}

// TestCBORMalformed: every malformed or un-WAMP-like message gives an error wrapping
// ErrInvalid that names the problem, never a panic.
func TestCBORMalformed(t *testing.T) {
	deep := strings.Repeat("81", maxNesting) + "00"
	for _, tc := range []struct{ hex, want string }{
		{"", "EOF"},
		{"a0", "must be an array"},
		{"80", "empty message array"},
		{"8120", "message type"},
		{"811903e7", "unknown message type"},
		{"8211", "EOF"},                   // announces 2 elements, has 1
		{"8311", "EOF"},                   // truncated
		{"83110102ff", "extraneous data"}, // trailing byte (the library's check)
		{"8410" + "01" + "a1" + "6161" + "c100" + "6174", "tag 1 is not used"},
		{"8510" + "01" + "a0" + "6174" + "81" + "c249010000000000000000", "beyond 64 bits"},
		{"8510" + "01" + "a0" + "6174" + "81" + "c3488000000000000000", "below -2^63"},
		{"8510" + "01" + "a0" + "6174" + "81" + "c201", "byte string"},
		{"8410" + "01" + "a1" + "6161" + "f0" + "6174", "simple value"}, // simple value 16 in Options
		{"8311" + "01" + "fc", "invalid"},                               // reserved additional information
		{"84101a00000001a0" + "62c328", "UTF-8"},                        // SUBSCRIBE topic "\xc3(" is not UTF-8
		{"84101a00000001a10102" + "6174", "text"},                       // dict key 1
		{"8311" + "20" + "01", "Request must be an integer"},            // PUBLISHED with request -1
		{"83111b0020000000000001" + "01", "range"},                      // request 2^53+1
		{"8510" + "01" + "a0" + "6174" + "81" + "3bffffffffffffffff", "below -2^63"},
		{"8510" + "01" + "a0" + "6174" + "61" + "78", "list or a binary"},
		{"8610" + "01" + "a0" + "6174" + "80" + "80", "dict"},
		{"8610" + "01" + "a0" + "6174" + "4101" + "a0", "not allowed after a binary"},
		{"8510" + "01" + "a0" + "6174" + deep, "nest"},
		{"9f10" + "01" + "a0" + "6174", "EOF"}, // an indefinite array without its break
		{"9f10" + "01" + "a0" + "7f" + "4101" + "ff" + "ff", "indefinite-length"},
	} {
		data := mustHex(t, tc.hex)
		m, err := CBOR.Decode(data)
		if err == nil {
			t.Errorf("%s: decoded %#v, want an error", tc.hex, m)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", tc.hex, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.hex, err, tc.want)
		}
	}
}

// TestCBORAllocations: the hot path (decode a PUBLISH, encode its EVENT with the raw payload)
// costs no more allocations in CBOR than in MessagePack, and the spliced encoding none.
func TestCBORAllocations(t *testing.T) {
	decodeAllocs := func(c Codec) float64 {
		data := benchPublishData(t, c)
		return testing.AllocsPerRun(200, func() {
			if _, err := c.Decode(data); err != nil {
				t.Fatal(err)
			}
		})
	}
	if cb, mp := decodeAllocs(CBOR), decodeAllocs(MsgPack); cb > mp {
		t.Errorf("CBOR decode of a PUBLISH: %v allocations, MessagePack %v", cb, mp)
	}
	m := mustDecode(t, CBOR, benchPublishData(t, CBOR))
	ev := &Event{Subscription: 5512315355, Publication: 4429313566, Details: Dict{}, Payload: m.(*Publish).Payload}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(200, func() {
		var err error
		if buf, err = CBOR.Encode(buf[:0], ev); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("CBOR encode of an EVENT with a raw payload: %v allocations, want 0", n)
	}
}

func benchPublishData(t testing.TB, c Codec) []byte {
	m, err := JSON.Decode([]byte(benchPublishJSON))
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func BenchmarkCBORDecodePublish(b *testing.B)  { benchDecodePublish(b, CBOR) }
func BenchmarkCBOREncodeEventRaw(b *testing.B) { benchEncodeEventRaw(b, CBOR) }
