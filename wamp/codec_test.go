package wamp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCodecRegistry(t *testing.T) {
	for _, tc := range []struct {
		codec  Codec
		name   string
		binary bool
	}{
		{JSON, "json", false},
		{MsgPack, "msgpack", true},
		{CBOR, "cbor", true},
	} {
		if c, ok := CodecNamed(tc.name); !ok || c != tc.codec {
			t.Errorf("CodecNamed(%q) = %v, %v", tc.name, c, ok)
		}
		if tc.codec.Binary() != tc.binary {
			t.Errorf("%s: Binary() = %v", tc.name, tc.codec.Binary())
		}
		if _, ok := tc.codec.(ValueEncoder); !ok {
			t.Errorf("%s does not implement ValueEncoder", tc.name)
		}
	}
	// Codecs are found by serializer name only: a WebSocket subprotocol is the transport's.
	for _, name := range []string{"wamp.2.json", "JSON", ""} {
		if c, ok := CodecNamed(name); ok {
			t.Errorf("CodecNamed(%q) = %v, want none", name, c)
		}
	}
}

// payloadOf returns the payload of a message that has one.
func payloadOf(m Message) *Payload {
	switch m := m.(type) {
	case *Error:
		return &m.Payload
	case *Publish:
		return &m.Payload
	case *Event:
		return &m.Payload
	case *EventReceived:
		return &m.Payload
	case *Call:
		return &m.Payload
	case *Result:
		return &m.Payload
	case *Invocation:
		return &m.Payload
	case *Yield:
		return &m.Payload
	}
	return nil
}

// plainPayload decodes a raw payload and drops the raw bytes, so that a decoded message
// compares equal to one built by hand.
func plainPayload(t *testing.T, m Message) {
	t.Helper()
	if p := payloadOf(m); p != nil {
		if _, _, err := p.Values(); err != nil {
			t.Fatal(err)
		}
		p.Raw, p.decoded = RawPayload{}, false
	}
}

func allMessages() []Message {
	args := List{int64(1), "two", List{int64(3)}, Dict{"four": 4.5}}
	kwargs := Dict{"k": "v", "n": int64(-7), "b": []byte{0, 1, 2}}
	return []Message{
		&Hello{Realm: "realm1", Details: Dict{"roles": Dict{"caller": Dict{}}}},
		&Welcome{Session: MaxID, Details: Dict{"roles": Dict{"dealer": Dict{}}}},
		&Abort{Details: Dict{"message": "no"}, Reason: ErrNoSuchRealm},
		&Challenge{AuthMethod: "wampcra", Extra: Dict{"challenge": "{}"}},
		&Authenticate{Signature: "sig", Extra: Dict{}},
		&Goodbye{Details: Dict{}, Reason: CloseNormal},
		&Error{RequestType: TypeCall, Request: 5, Details: Dict{}, Error: ErrInvalidArgument},
		&Error{RequestType: TypeCall, Request: 5, Details: Dict{}, Error: ErrInvalidArgument, Payload: Payload{Args: args}},
		&Error{RequestType: TypeCall, Request: 5, Details: Dict{}, Error: ErrInvalidArgument, Payload: Payload{Args: args, Kwargs: kwargs}},
		&Publish{Request: 1, Options: Dict{"acknowledge": true}, Topic: "com.t"},
		&Publish{Request: 1, Options: Dict{}, Topic: "com.t", Payload: Payload{Args: List{}, Kwargs: kwargs}},
		&Publish{Request: 1, Options: Dict{}, Topic: "com.t", Payload: Payload{Opaque: []byte{0xde, 0xad}}},
		&Published{Request: 1, Publication: 2},
		&Subscribe{Request: 1, Options: Dict{"match": "prefix"}, Topic: "com."},
		&Subscribed{Request: 1, Subscription: 2},
		&Unsubscribe{Request: 1, Subscription: 2},
		&Unsubscribed{Request: 1},
		&Unsubscribed{Request: 0, Details: Dict{"subscription": int64(2), "reason": "wamp.close.killed"}},
		&Event{Subscription: 1, Publication: 2, Details: Dict{}, Payload: Payload{Args: args}},
		&Event{Subscription: 1, Publication: 2, Details: Dict{}},
		&EventReceived{Publication: 2},
		&EventReceived{Publication: 2, Details: Dict{}},
		&EventReceived{Publication: 2, Details: Dict{}, Payload: Payload{Args: args, Kwargs: kwargs}},
		&Call{Request: 1, Options: Dict{"timeout": int64(1000)}, Procedure: "com.p", Payload: Payload{Args: args}},
		&Cancel{Request: 1, Options: Dict{"mode": "kill"}},
		&Result{Request: 1, Details: Dict{}, Payload: Payload{Args: args, Kwargs: kwargs}},
		&Result{Request: 1, Details: Dict{"progress": true}},
		&Register{Request: 1, Options: Dict{}, Procedure: "com.p"},
		&Registered{Request: 1, Registration: 2},
		&Unregister{Request: 1, Registration: 2},
		&Unregistered{Request: 1},
		&Unregistered{Request: 0, Details: Dict{"registration": int64(2)}},
		&Invocation{Request: 1, Registration: 2, Details: Dict{}, Payload: Payload{Args: args}},
		&Interrupt{Request: 1, Options: Dict{"mode": "killnowait"}},
		&Yield{Request: 1, Options: Dict{}, Payload: Payload{Opaque: []byte{}}},
	}
}

// TestRoundTripAllTypes encodes every message type (and every optional form) in both codecs
// and through the other codec, and checks the decoded message equals the original.
func TestRoundTripAllTypes(t *testing.T) {
	seen := map[MessageType]bool{}
	for _, codec := range vectorCodecs {
		for i, orig := range allMessages() {
			seen[orig.Type()] = true
			t.Run(fmt.Sprintf("%s/%d-%v", codec.Name(), i, orig.Type()), func(t *testing.T) {
				enc, err := codec.Encode(nil, orig)
				if err != nil {
					t.Fatal(err)
				}
				got, err := codec.Decode(enc)
				if err != nil {
					t.Fatalf("decode %q: %v", enc, err)
				}
				// Re-encode with the raw payload spliced, then via the other codec.
				enc2, err := codec.Encode(nil, got)
				if err != nil {
					t.Fatal(err)
				}
				if len(enc2) != len(enc) {
					t.Errorf("re-encoding changed the length: %q vs %q", enc, enc2)
				}
				via := []Message{got}
				for _, other := range otherCodecs(codec) {
					cross, err := other.Encode(nil, got)
					if err != nil {
						t.Fatal(err)
					}
					viaOther, err := other.Decode(cross)
					if err != nil {
						t.Fatalf("decode %s %q: %v", other.Name(), cross, err)
					}
					via = append(via, viaOther)
				}
				for _, m := range via {
					plainPayload(t, m)
					if !reflect.DeepEqual(m, orig) {
						t.Errorf("round trip:\n got %#v\nwant %#v", m, orig)
					}
				}
			})
		}
	}
	if len(seen) != len(typeNames) {
		t.Errorf("allMessages covers %d of %d message types", len(seen), len(typeNames))
	}
}

// TestCrossCodecValues: a JSON PUBLISH re-encoded as MessagePack keeps integers integers,
// floats floats, and turns "\u0000"+base64 into bin; and back.
func TestCrossCodecValues(t *testing.T) {
	in := `[16, 7, {"x": 1.0}, "com.t", [3, 9007199254740992, 1.5, "\u0000AQID", [[], {}, [1, [2]]],` +
		` "h\u00e9llo \u2603 \ud83d\ude00", "", null, true, false, 18446744073709551615, -5, 2.5e-8],` +
		` {"nested": {"list": [1, "a", {"b": null}]}, "big": 9223372036854775808}]`
	want := List{int64(3), int64(1 << 53), 1.5, []byte{1, 2, 3}, List{List{}, Dict{}, List{int64(1), List{int64(2)}}},
		"héllo ☃ 😀", "", nil, true, false, uint64(math.MaxUint64), int64(-5), 2.5e-8}
	wantKw := Dict{"nested": Dict{"list": List{int64(1), "a", Dict{"b": nil}}}, "big": uint64(1 << 63)}

	m, err := JSON.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if o := m.(*Publish).Options["x"]; o != 1.0 {
		t.Errorf("1.0 decoded as %T %v, want float64", o, o)
	}
	mp, err := MsgPack.Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mp, []byte{0xc4, 3, 1, 2, 3}) {
		t.Errorf("binary not encoded as msgpack bin8: %x", mp)
	}
	// uint 64 or int 64: both are integers.
	if !bytes.Contains(mp, []byte{0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0}) && !bytes.Contains(mp, []byte{0xd3, 0, 0x20, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("2^53 not encoded as an integer: %x", mp)
	}
	m2, err := MsgPack.Decode(mp)
	if err != nil {
		t.Fatal(err)
	}
	checkPublishValues(t, "msgpack", m2, want, wantKw)

	js, err := JSON.Encode(nil, m2)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"\u0000AQID"`, `9007199254740992`, `18446744073709551615`, `1.5`, `"x":1.0`} {
		if !bytes.Contains(js, []byte(frag)) {
			t.Errorf("JSON %s lacks %s", js, frag)
		}
	}
	m3, err := JSON.Decode(js)
	if err != nil {
		t.Fatal(err)
	}
	checkPublishValues(t, "json again", m3, want, wantKw)
}

func checkPublishValues(t *testing.T, stage string, m Message, want List, wantKw Dict) {
	t.Helper()
	p := m.(*Publish)
	args, kwargs, err := p.Values()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("%s: args\n got %#v\nwant %#v", stage, args, want)
	}
	if !reflect.DeepEqual(kwargs, wantKw) {
		t.Errorf("%s: kwargs\n got %#v\nwant %#v", stage, kwargs, wantKw)
	}
	if x, ok := p.Options["x"].(float64); !ok || x != 1 {
		t.Errorf("%s: options x = %#v, want float64 1", stage, p.Options["x"])
	}
}

func TestMsgPackCompactIntegers(t *testing.T) {
	for _, tc := range []struct {
		m      Message
		prefix []byte
	}{
		{&Publish{Request: 1, Options: Dict{}, Topic: "t"}, []byte{0x94, 0x10, 0x01}},
		{&Publish{Request: 300, Options: Dict{}, Topic: "t", Payload: WithArgs(1)}, []byte{0x95, 0x10, 0xcd, 0x01, 0x2c}},
		{&EventReceived{Publication: 5}, []byte{0x92, 0xcd, 0x01, 0x51, 0x05}},
		{&Welcome{Session: MaxID, Details: Dict{}}, []byte{0x93, 0x02, 0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0}},
	} {
		b, err := MsgPack.Encode(nil, tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, tc.prefix) {
			t.Errorf("%v encoded as %x, want prefix %x", tc.m.Type(), b, tc.prefix)
		}
	}
	b, _ := MsgPack.(ValueEncoder).EncodeValue(nil, List{int64(-1), int64(-33), int64(127), int64(128), 2.0})
	if want := []byte{0x95, 0xff, 0xd0, 0xdf, 0x7f, 0xcc, 0x80, 0xcb}; !bytes.HasPrefix(b, want) {
		t.Errorf("values encoded as %x, want prefix %x", b, want)
	}
}

// TestSplicing: a payload decoded from one peer goes to others without being decoded when
// they use the same codec, and decoded once otherwise.
func TestSplicing(t *testing.T) {
	rawArgs := `[ 1, "two" , {"three": 3.0, "four": "\u0000BAQ="} ]`
	rawKwargs := `{"k" : [true]}`
	pub, err := JSON.Decode([]byte(`[16, 9, {}, "com.t", ` + rawArgs + `, ` + rawKwargs + `]`))
	if err != nil {
		t.Fatal(err)
	}
	p := pub.(*Publish).Payload
	if string(p.Raw.Args) != rawArgs || string(p.Raw.Kwargs) != rawKwargs {
		t.Fatalf("raw payload = %q, %q", p.Raw.Args, p.Raw.Kwargs)
	}
	if p.Args != nil || p.decoded {
		t.Fatalf("payload decoded eagerly")
	}
	ev := &Event{Subscription: 3, Publication: 4, Details: Dict{}, Payload: p}
	js, err := JSON.Encode(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[36,3,4,{},` + rawArgs + `,` + rawKwargs + `]`; string(js) != want {
		t.Errorf("JSON event = %s, want %s", js, want)
	}
	mp, err := MsgPack.Encode(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MsgPack.Decode(mp)
	if err != nil {
		t.Fatal(err)
	}
	args, kwargs, err := got.(*Event).Values()
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := List{int64(1), "two", Dict{"three": 3.0, "four": []byte{4, 4}}}
	if !reflect.DeepEqual(args, wantArgs) || !reflect.DeepEqual(kwargs, Dict{"k": List{true}}) {
		t.Errorf("msgpack event values = %#v, %#v", args, kwargs)
	}

	// And the other way: the msgpack raw payload is spliced into msgpack, transcoded to JSON.
	mpEv := got.(*Event)
	mpEv.Payload = Payload{Raw: mpEv.Payload.Raw} // forget the decoded values
	res := &Result{Request: 8, Details: Dict{}, Payload: mpEv.Payload}
	mp2, err := MsgPack.Encode(nil, res)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(mp2, append(append([]byte{}, mpEv.Payload.Raw.Args...), mpEv.Payload.Raw.Kwargs...)) {
		t.Errorf("msgpack raw payload not spliced: %x", mp2)
	}
	js2, err := JSON.Encode(nil, res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js2), `"four":"\u0000BAQ="`) {
		t.Errorf("JSON result = %s", js2)
	}
}

func TestEventReceivedAndAckForms(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{`[337, 5512315355]`, `[337,5512315355]`},
		{`[337,5,{}]`, `[337,5,{}]`},
		{`[337,5,{},[1]]`, `[337,5,{},[1]]`},
		{`[35,85346237]`, `[35,85346237]`},
		{`[35,0,{"reason":"wamp.close.killed"}]`, `[35,0,{"reason":"wamp.close.killed"}]`},
		{`[67,0,{}]`, `[67,0,{}]`},
		{`[16,1,{},"t",[],{}]`, `[16,1,{},"t",[],{}]`},
		{`[16,1,{},"t","\u0000"]`, `[16,1,{},"t","\u0000"]`},
	} {
		m, err := JSON.Decode([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		out, err := JSON.Encode(nil, m)
		if err != nil || string(out) != tc.out {
			t.Errorf("%s: encoded %s, %v; want %s", tc.in, out, err, tc.out)
		}
	}
}

func TestJSONStrings(t *testing.T) {
	for in, want := range map[string]any{
		`"\ud83d\ude00"`:             "😀",
		`"\ud800"`:                   "\ufffd",
		`"\ud800\u0041"`:             "\ufffdA",
		`"\udc00x"`:                  "\ufffdx",
		`"\"\\\/\b\f\n\r\t"`:         "\"\\/\b\f\n\r\t",
		`"\u00E9\u00e9é"`:            "ééé",
		`""`:                         "",
		`"\u0000"`:                   []byte{},
		`"\u0000AQ"`:                 []byte{1},
		`"\u0000AQ=="`:               []byte{1},
		`["a\u0000b"]`:               List{"a\x00b"},
		` {"\u0000k": "v"} `:         Dict{"\x00k": "v"},
		`-0`:                         int64(0),
		`-9223372036854775808`:       int64(math.MinInt64),
		`-9223372036854775809`:       -9223372036854775809.0,
		`18446744073709551616`:       18446744073709551616.0,
		`1E2`:                        100.0,
		`0.5e-1`:                     0.05,
		`[true,false,null]`:          List{true, false, nil},
		`{"a":{"b":[{"c":[]}]}}`:     Dict{"a": Dict{"b": List{Dict{"c": List{}}}}},
		"\t[ 1 ,\n 2\r ] ":           List{int64(1), int64(2)},
		`{"dup": 1, "dup": 2}`:       Dict{"dup": int64(2)},
		`"tab\u0009and\u001fctl"`:    "tab\tand\x1fctl",
		`"long ascii then \u00e9"`:   "long ascii then é",
		`"\u0041\u0042\u0043\u0044"`: "ABCD",
	} {
		got, err := JSON.DecodeValue([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", in, got, want)
		}
	}
	// Encoding escapes what it must and round-trips every string.
	for _, s := range []string{"", "plain", "q\"b\\s/", "ctl\x00\x01\x1f\x7f", "\n\r\t", "é☃😀", "\u2028"} {
		enc, err := JSON.(ValueEncoder).EncodeValue(nil, List{s})
		if err != nil {
			t.Fatal(err)
		}
		got, err := JSON.DecodeValue(enc)
		if err != nil || !reflect.DeepEqual(got, List{s}) {
			t.Errorf("%q: encoded %s, decoded %#v, %v", s, enc, got, err)
		}
	}
	enc, _ := JSON.(ValueEncoder).EncodeValue(nil, "bad\xffutf8")
	if string(enc) != `"bad\ufffdutf8"` {
		t.Errorf("invalid UTF-8 encoded as %s", enc)
	}
}

func TestEncodeValueTypes(t *testing.T) {
	type tagged struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	in := Dict{
		"int": 1, "int8": int8(-8), "int16": int16(16), "int32": int32(-32), "int64": int64(64),
		"uint": uint(1), "uint8": uint8(8), "uint16": uint16(16), "uint32": uint32(32), "uint64": uint64(math.MaxUint64),
		"float32": float32(0.1), "float64": 3.0, "bool": true, "nil": nil, "str": "s", "bytes": []byte("b"),
		"list": List{1}, "slice": []any{"x"}, "dict": Dict{"a": 1}, "map": map[string]any{"b": 2},
		"strings": []string{"p", "q"}, "id": ID(9), "uri": URI("com.u"), "struct": tagged{"z", 2},
		"ptr": &tagged{"y", 3}, "named": []int{1, 2},
	}
	want := Dict{
		"int": int64(1), "int8": int64(-8), "int16": int64(16), "int32": int64(-32), "int64": int64(64),
		"uint": int64(1), "uint8": int64(8), "uint16": int64(16), "uint32": int64(32), "uint64": uint64(math.MaxUint64),
		"float32": 0.1, "float64": 3.0, "bool": true, "nil": nil, "str": "s", "bytes": []byte("b"),
		"list": List{int64(1)}, "slice": List{"x"}, "dict": Dict{"a": int64(1)}, "map": Dict{"b": int64(2)},
		"strings": List{"p", "q"}, "id": int64(9), "uri": "com.u", "struct": Dict{"name": "z", "n": int64(2)},
		"ptr": Dict{"name": "y", "n": int64(3)}, "named": List{int64(1), int64(2)},
	}
	for _, codec := range vectorCodecs {
		enc, err := codec.(ValueEncoder).EncodeValue(nil, in)
		if err != nil {
			t.Fatalf("%s: %v", codec.Name(), err)
		}
		got, err := codec.DecodeValue(enc)
		if err != nil {
			t.Fatalf("%s: %v", codec.Name(), err)
		}
		gd := got.(Dict)
		if codec == MsgPack || codec == CBOR {
			// float32 travels as float32 in MessagePack and CBOR: compare at float32 precision.
			if f, ok := gd["float32"].(float64); ok && float32(f) == float32(0.1) {
				gd["float32"] = 0.1
			}
		}
		if !reflect.DeepEqual(gd, want) {
			for k := range want {
				if !reflect.DeepEqual(gd[k], want[k]) {
					t.Errorf("%s: %s = %#v, want %#v", codec.Name(), k, gd[k], want[k])
				}
			}
		}
	}
}

func TestJSONFloats(t *testing.T) {
	for f, want := range map[float64]string{
		3.0: "3.0", -2: "-2.0", 0: "0.0", 1.5: "1.5", 1e21: "1e+21", 123456789: "123456789.0",
		1e-7: "1e-07", 1e-6: "0.000001", 1.5e300: "1.5e+300", -0.25: "-0.25", 1712345678.123: "1712345678.123", 0.1: "0.1", math.MaxFloat64: "1.7976931348623157e+308",
	} {
		enc, err := JSON.(ValueEncoder).EncodeValue(nil, f)
		if err != nil || string(enc) != want {
			t.Errorf("%v encoded as %s, %v; want %s", f, enc, err, want)
			continue
		}
		back, err := JSON.DecodeValue(enc)
		if err != nil || back != f {
			t.Errorf("%s decoded as %#v, %v", enc, back, err)
		}
	}
	for _, f := range []any{math.NaN(), math.Inf(1), float32(math.Inf(-1)), List{Dict{"x": math.NaN()}}} {
		if enc, err := JSON.(ValueEncoder).EncodeValue(nil, f); err == nil {
			t.Errorf("%v encoded as %s, want an error", f, enc)
		}
	}
	// MessagePack carries NaN and infinities.
	enc, err := MsgPack.(ValueEncoder).EncodeValue(nil, math.Inf(-1))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := MsgPack.DecodeValue(enc); v != math.Inf(-1) {
		t.Errorf("-Inf came back as %v", v)
	}
}

func TestEncodeErrors(t *testing.T) {
	cyclic := List{nil}
	cyclic[0] = cyclic
	deep := any("leaf")
	for range maxNesting {
		deep = List{deep}
	}
	for _, codec := range vectorCodecs {
		for _, other := range otherCodecs(codec) {
			for name, m := range map[string]Message{
				"nil":            nil,
				"cyclic":         &Publish{Request: 1, Options: Dict{}, Topic: "t", Payload: Payload{Args: cyclic}},
				"too deep":       &Call{Request: 1, Options: Dict{"x": deep}, Procedure: "p"},
				"opaque+kwargs":  &Yield{Request: 1, Options: Dict{}, Payload: Payload{Opaque: []byte{1}, Kwargs: Dict{"a": 1}}},
				"unencodable":    &Hello{Realm: "r", Details: Dict{"ch": make(chan int)}},
				"bad raw":        &Event{Details: Dict{}, Payload: Payload{Raw: RawPayload{Codec: other, Args: []byte{0xff, 0xff}}}},
				"raw not a list": &Event{Details: Dict{}, Payload: Payload{Raw: RawPayload{Codec: other, Args: mustEncode(t, other, "s")}}},
			} {
				dst := []byte("prefix")
				out, err := codec.Encode(dst, m)
				if err == nil {
					t.Errorf("%s: %s: encoded %q, want an error", codec.Name(), name, out)
				} else if string(out) != "prefix" {
					t.Errorf("%s: %s: dst not returned unchanged on error: %q", codec.Name(), name, out)
				}
			}
		}
	}
}

func mustEncode(t *testing.T, c Codec, v any) []byte {
	b, err := c.(ValueEncoder).EncodeValue(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func nested(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

// TestJSONMalformed: every malformed message gives an error wrapping ErrInvalid that names
// the problem, never a panic.
func TestJSONMalformed(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "end of input"},
		{`   `, "end of input"},
		{`{}`, "'['"},
		{`[]`, "message type"},
		{`[`, "message type"},
		{`[16`, "missing Request"},
		{`[16,`, "end of input"},
		{`[16 1]`, "','"},
		{`["16",1,{},"t"]`, "message type"},
		{`[-16,1,{},"t"]`, "message type"},
		{`[16.0,1,{},"t"]`, "message type"},
		{`[999,1]`, "unknown message type 999"},
		{`[99999999999999999999999,1]`, "unknown message type"},
		{`[7,1]`, "unknown message type 7"},
		{`[16,"1",{},"t"]`, "Request must be an integer"},
		{`[16,0,{},"t"]`, "Request 0 out of range"},
		{`[16,-1,{},"t"]`, "Request must be an integer"},
		{`[16,1.5,{},"t"]`, "Request must be an integer"},
		{`[16,1e3,{},"t"]`, "Request must be an integer"},
		{`[16,9007199254740993,{},"t"]`, "out of range"},
		{`[16,1,[],"t"]`, "Options must be a dict"},
		{`[16,1,null,"t"]`, "Options must be a dict"},
		{`[16,1,{},1]`, "Topic must be a string"},
		{`[16,1,{}]`, "missing Topic"},
		{`[16,1,{},"t",{}]`, "Arguments must be a list"},
		{`[16,1,{},"t",null]`, "Arguments must be a list"},
		{`[16,1,{},"t","plain"]`, "Arguments must be a list or a binary value"},
		{`[16,1,{},"t","\u0000!!"]`, "base64"},
		{`[16,1,{},"t","\u0000AQ==",{}]`, "ArgumentsKw not allowed"},
		{`[16,1,{},"t",[1,{"b":"\u00000"}]]`, "base64"},
		{`[16,1,{},"t",[],{"b":["\u0000!"]}]`, "base64"},
		{`[16,1,{},"t",[],[]]`, "ArgumentsKw must be a dict"},
		{`[16,1,{},"t",[],{},3]`, "too many elements"},
		{`[16,1,{},"t",[1,]]`, "a value"},
		{`[16,1,{},"t",[1 2]]`, "',' or ']'"},
		{`[16,1,{},"t",[],{"a" 1}]`, "':'"},
		{`[16,1,{},"t",[],{a:1}]`, "string key"},
		{`[16,1,{},"t",[],{"a":1,}]`, "string key"},
		{`[16,1,{},"t"] x`, "after the message"},
		{`[16,1,{},"t"]]`, "after the message"},
		{`[16,1,{},"t"`, "']'"},
		{"[16,1,{},\"t\x01\"]", "control character"},
		{"[16,1,{},\"t\xff\"]", "invalid UTF-8"},
		{"[16,1,{},\"t\",[\"\xc3\"]]", "invalid UTF-8"},
		{`[16,1,{},"t\x"]`, "invalid escape"},
		{`[16,1,{},"t\u12"]`, "\\u escape"},
		{`[16,1,{},"t\u12G4"]`, "\\u escape"},
		{`[16,1,{},"t`, "unterminated string"},
		{`[16,1,{},"t\`, "unterminated"},
		{`[16,1,{"a":01},"t"]`, "',' or '}'"},
		{`[16,1,{"a":1.},"t"]`, "digit after '.'"},
		{`[16,1,{"a":1e},"t"]`, "exponent"},
		{`[16,1,{"a":-},"t"]`, "digit"},
		{`[16,1,{"a":1e999},"t"]`, "out of range"},
		{`[16,1,{},"t",[1e999]]`, "out of range"},
		{`[16,1,{},"t",[],{"a":-1E+400}]`, "out of range"},
		{`[16,1,{},"t",[1` + strings.Repeat("0", 400) + `]]`, "out of range"},
		{`[16,1,{"a":tru},"t"]`, "true"},
		{`[16,1,{"a":nul},"t"]`, "null"},
		{`[16,1,{"a":+1},"t"]`, "a value"},
		{`[16,1,{},"t",` + nested("[", "]", 70) + `]`, "nested deeper"},
		{`[16,1,{"a":` + nested("[", "]", 70) + `},"t"]`, "nested deeper"},
		{`[16,1,{},"t",[],{"a":` + nested(`{"b":`, "}", 70)[:0] + nested("[", "]", 100) + `}]`, "nested deeper"},
		{`[8,1,1,{},"e",[],{},1]`, "too many"},
		{`[8,70000,1,{},"e"]`, "RequestType"},
		{`[35]`, "missing Request"},
		{`[35,0,{},1]`, "too many"},
		{`[35,0,[]]`, "Details must be a dict"},
		{`[337]`, "missing Publication"},
		{`[337,1,{},"x"]`, "Arguments"},
		{`[1,"realm"]`, "missing Details"},
		{`[2,"s",{}]`, "Session must be an integer"},
		{`[5,1,{}]`, "Signature must be a string"},
	} {
		m, err := JSON.Decode([]byte(tc.in))
		if err == nil {
			t.Errorf("%s: decoded %#v, want error containing %q", tc.in, m, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.in, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.in, err, tc.want)
		}
	}
	// Nesting up to the limit is fine: message array, args list, and 62 more levels.
	ok := `[16,1,{},"t",` + nested("[", "]", maxNesting-1) + `]`
	if _, err := JSON.Decode([]byte(ok)); err != nil {
		t.Errorf("nesting at the limit: %v", err)
	}
	if _, err := JSON.Decode([]byte(`[16,1,{},"t",` + nested("[", "]", maxNesting) + `]`)); err == nil {
		t.Errorf("nesting one past the limit accepted")
	}
}

// mp builds MessagePack bytes from values with the library's reflection encoder (tests only).
func mp(t *testing.T, v ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	for _, x := range v {
		if err := enc.Encode(x); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestMsgPackMalformed(t *testing.T) {
	deepArgs := cat(bytes.Repeat([]byte{0x91}, 100), []byte{0x01})
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "end of data"},
		{"not an array", mp(t, map[string]any{}), "must be an array"},
		{"nil", []byte{0xc0}, "must be an array"},
		{"empty array", []byte{0x90}, "empty message"},
		{"type string", mp(t, []any{"16", 1, map[string]any{}, "t"}), "message type"},
		{"type negative", mp(t, []any{-16, 1, map[string]any{}, "t"}), "unknown message type -16"},
		{"type float", mp(t, []any{16.0, 1, map[string]any{}, "t"}), "message type"},
		{"unknown type", mp(t, []any{999, 1}), "unknown message type 999"},
		{"request string", mp(t, []any{16, "1", map[string]any{}, "t"}), "Request must be an integer"},
		{"request zero", mp(t, []any{16, 0, map[string]any{}, "t"}), "out of range"},
		{"request negative", mp(t, []any{16, -1, map[string]any{}, "t"}), "out of range"},
		{"request float", mp(t, []any{16, 1.0, map[string]any{}, "t"}), "Request must be an integer"},
		{"request too big", mp(t, []any{16, uint64(MaxID + 1), map[string]any{}, "t"}), "out of range"},
		{"request uint64 max", mp(t, []any{16, uint64(math.MaxUint64), map[string]any{}, "t"}), "out of range"},
		{"options list", mp(t, []any{16, 1, []any{}, "t"}), "Options must be a dict"},
		{"options nil", mp(t, []any{16, 1, nil, "t"}), "Options must be a dict"},
		{"topic int", mp(t, []any{16, 1, map[string]any{}, 5}), "Topic must be a string"},
		{"topic bin", mp(t, []any{16, 1, map[string]any{}, []byte("t")}), "Topic must be a string"},
		{"missing topic", mp(t, []any{16, 1, map[string]any{}}), "missing Topic"},
		{"args dict", mp(t, []any{16, 1, map[string]any{}, "t", map[string]any{}}), "Arguments must be a list"},
		{"args string", mp(t, []any{16, 1, map[string]any{}, "t", "s"}), "Arguments must be a list"},
		{"kwargs list", mp(t, []any{16, 1, map[string]any{}, "t", []any{}, []any{}}), "ArgumentsKw must be a dict"},
		{"bin then kwargs", mp(t, []any{16, 1, map[string]any{}, "t", []byte{1}, map[string]any{}}), "ArgumentsKw not allowed"},
		{"too many", mp(t, []any{16, 1, map[string]any{}, "t", []any{}, map[string]any{}, 1}), "too many elements"},
		{"trailing data", cat(mp(t, []any{17, 1, 2}), []byte{0x00}), "after the message"},
		{"int key in options", cat([]byte{0x94, 0x10, 0x01}, mp(t, map[int]any{1: 2}), mp(t, "t")), "key must be a string"},
		{"bin key in options", cat([]byte{0x94, 0x10, 0x01, 0x81, 0xc4, 0x01, 'k', 0x01}, mp(t, "t")), "key must be a string"},
		{"int key in kwargs", cat([]byte{0x96, 0x10, 0x01, 0x80, 0xa1, 't', 0x90}, mp(t, map[int]any{1: 2})), "key must be a string"},
		{"int key nested in args", cat([]byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't', 0x91}, mp(t, map[int]any{1: 2})), "key must be a string"},
		{"ext in options", cat([]byte{0x94, 0x10, 0x01, 0x81, 0xa1, 'k', 0xd4, 0x01, 0x00, 0xa1, 't'}), "extension"},
		{"ext in args", cat([]byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't', 0x91, 0xd4, 0x01, 0x00}), "extension"},
		{"0xc1 in args", cat([]byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't', 0x91, 0xc1}), "0xc1"},
		{"0xc1 in options", cat([]byte{0x94, 0x10, 0x01, 0x81, 0xa1, 'k', 0xc1, 0xa1, 't'}), "0xc1"},
		{"deep args", cat([]byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't'}, deepArgs), "nested deeper"},
		{"deep options", cat([]byte{0x94, 0x10, 0x01, 0x81, 0xa1, 'k'}, deepArgs, []byte{0xa1, 't'}), "nested deeper"},
		{"huge message array", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x10}, "end of data"},
		{"huge options map", []byte{0x94, 0x10, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'k'}, "end of data"},
		{"huge options list value", []byte{0x94, 0x10, 0x01, 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, "end of data"},
		{"huge topic", []byte{0x94, 0x10, 0x01, 0x80, 0xdb, 0xff, 0xff, 0xff, 0xff, 't'}, "end of data"},
		{"huge bin in options", []byte{0x94, 0x10, 0x01, 0x81, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xff, 0xa1, 't'}, "end of data"},
		{"huge args list", []byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, "end of data"},
		{"huge args bin", []byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't', 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01}, "end of data"},
		{"huge kwargs map", []byte{0x96, 0x10, 0x01, 0x80, 0xa1, 't', 0x90, 0xdf, 0xff, 0xff, 0xff, 0xff}, "end of data"},
		{"truncated int64 in args", []byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't', 0x91, 0xd3, 0x30}, "end of data"},
		{"truncated float in options", []byte{0x94, 0x10, 0x01, 0x81, 0xa1, 'k', 0xcb, 0x30, 0xa1, 't'}, "end of data"},
		{"huge str in args", []byte{0x95, 0x10, 0x01, 0x80, 0xa1, 't', 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff}, "end of data"},
		{"unsubscribed details list", mp(t, []any{35, 0, []any{}}), "Details must be a dict"},
		{"event received args string", mp(t, []any{337, 1, map[string]any{}, "x"}), "Arguments"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := MsgPack.Decode(tc.in)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s (%x): decoded %#v, want error containing %q", tc.name, tc.in, m, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: decoding allocated %d bytes", tc.name, grew)
		}
	}
	for _, in := range [][]byte{
		{0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdf, 0xff, 0xff, 0xff, 0xff}, {0xdb, 0xff, 0xff, 0xff, 0xff},
		{0xc6, 0xff, 0xff, 0xff, 0xff}, {0x92, 0x01}, {0x81, 0x01, 0x01}, {0xc7, 0x01, 0x01, 0x00}, {}, {0x01, 0x02},
	} {
		if v, err := MsgPack.DecodeValue(in); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeValue(%x) = %#v, %v; want an ErrInvalid error", in, v, err)
		}
	}
}

// TestTruncated: every proper prefix of every valid sample is an error, not a panic.
func TestTruncated(t *testing.T) {
	for _, codec := range vectorCodecs {
		for _, data := range vectorSamples(t, codec.Name()) {
			for i := 0; i < len(data); i++ {
				prefix := data[:i]
				if codec == JSON && strings.TrimSpace(string(data[i:])) == "" {
					continue // only whitespace cut off: still the whole message
				}
				if m, err := codec.Decode(prefix); err == nil {
					t.Errorf("%s: prefix %q of %q decoded as %#v", codec.Name(), prefix, data, m)
				} else if !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: %v does not wrap ErrInvalid", codec.Name(), err)
				}
			}
		}
	}
}

func TestDecodeValue(t *testing.T) {
	for _, codec := range vectorCodecs {
		enc := mustEncode(t, codec, List{Dict{"a": List{int64(1), "b"}}, []byte{9}})
		v, err := codec.DecodeValue(enc)
		if err != nil {
			t.Fatal(err)
		}
		want := List{Dict{"a": List{int64(1), "b"}}, []byte{9}}
		if !reflect.DeepEqual(v, want) {
			t.Errorf("%s: %#v, want %#v", codec.Name(), v, want)
		}
	}
	if _, err := JSON.DecodeValue([]byte(`[1] [2]`)); err == nil {
		t.Error("JSON DecodeValue accepted two values")
	}
}

// TestConcurrentUse exercises the pooled readers and writers from many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	msgs := allMessages()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				codec := vectorCodecs[(g+i)%2]
				m := msgs[i%len(msgs)]
				enc, err := codec.Encode(nil, m)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := codec.Decode(enc); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestEncodeAppends(t *testing.T) {
	for _, codec := range vectorCodecs {
		dst := []byte("head")
		out, err := codec.Encode(dst, &Published{Request: 1, Publication: 2})
		if err != nil || !bytes.HasPrefix(out, []byte("head")) {
			t.Errorf("%s: %q, %v", codec.Name(), out, err)
		}
		if _, err := codec.Decode(out[4:]); err != nil {
			t.Errorf("%s: %v", codec.Name(), err)
		}
	}
}

// Benchmarks: the router's hot path is decode PUBLISH, encode EVENT with the raw payload.

const benchPublishJSON = `[16,239714735,{"acknowledge":true},"com.myapp.topic1",["Hello, world!",42,{"x":1.5}],{"priority":"high","count":5}]`

func benchPublish(b *testing.B, codec Codec) []byte {
	m, err := JSON.Decode([]byte(benchPublishJSON))
	if err != nil {
		b.Fatal(err)
	}
	data, err := codec.Encode(nil, m)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func benchDecodePublish(b *testing.B, codec Codec) {
	data := benchPublish(b, codec)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncodeEventRaw(b *testing.B, codec Codec) {
	m, err := codec.Decode(benchPublish(b, codec))
	if err != nil {
		b.Fatal(err)
	}
	ev := &Event{Subscription: 5512315355, Publication: 4429313566, Details: Dict{}, Payload: m.(*Publish).Payload}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = codec.Encode(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkJSONDecodePublish(b *testing.B)    { benchDecodePublish(b, JSON) }
func BenchmarkMsgPackDecodePublish(b *testing.B) { benchDecodePublish(b, MsgPack) }
func BenchmarkJSONEncodeEventRaw(b *testing.B)   { benchEncodeEventRaw(b, JSON) }
func BenchmarkMsgPackEncodeEventRaw(b *testing.B) {
	benchEncodeEventRaw(b, MsgPack)
}

// BenchmarkTranscodeEvent: a JSON payload delivered to a MessagePack peer (decoded once,
// then encoded from values on each delivery).
func BenchmarkTranscodeEvent(b *testing.B) {
	m, err := JSON.Decode([]byte(benchPublishJSON))
	if err != nil {
		b.Fatal(err)
	}
	ev := &Event{Subscription: 1, Publication: 2, Details: Dict{}, Payload: m.(*Publish).Payload}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = MsgPack.Encode(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
}

// A message built with no details (the dealer leaves INVOCATION's and RESULT's nil when they
// have none, to allocate no dict per call) still carries the empty dict the spec requires:
// `{}` in every codec, which peers decode as an empty details object.
func TestNilDetailsEncodeAsEmptyDict(t *testing.T) {
	msgs := []Message{
		&Invocation{Request: 7, Registration: 9, Payload: Payload{Args: List{1}}},
		&Result{Request: 7},
	}
	empty := map[string][]byte{"json": []byte("{}"), "msgpack": {0x80}, "cbor": {0xa0}}
	for _, c := range []Codec{JSON, MsgPack, CBOR} {
		for _, m := range msgs {
			b, err := c.Encode(nil, m)
			if err != nil {
				t.Fatalf("%s %T: %v", c.Name(), m, err)
			}
			if !bytes.Contains(b, empty[c.Name()]) {
				t.Errorf("%s %T = %x, want an empty dict (%x) in it", c.Name(), m, b, empty[c.Name()])
			}
			got, err := c.Decode(b)
			if err != nil {
				t.Fatalf("%s %T: decoding our own encoding: %v", c.Name(), m, err)
			}
			var details Dict
			switch g := got.(type) {
			case *Invocation:
				details = g.Details
			case *Result:
				details = g.Details
			}
			if len(details) != 0 {
				t.Errorf("%s %T decoded with details %v, want none", c.Name(), m, details)
			}
		}
	}
	js, _ := JSON.Encode(nil, msgs[1])
	if string(js) != `[50,7,{}]` {
		t.Errorf("JSON RESULT = %s, want [50,7,{}]", js)
	}
}
