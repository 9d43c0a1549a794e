package wamp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The WAMP test vectors (wamp-proto's testsuite/, CC-BY-SA 3.0) live in testdata/wamp-testvectors.

type vectorFile struct {
	path        string
	MessageType string         `json:"wamp_message_type"`
	Samples     []vectorSample `json:"samples"`
}

type vectorSample struct {
	Description        string                        `json:"description"`
	Serializers        map[string][]vectorSerialized `json:"serializers"`
	ExpectedAttributes map[string]any                `json:"expected_attributes"`
	TestCategory       string                        `json:"test_category"`
	Wmsg               []any                         `json:"wmsg"`
	ExpectedError      *struct {
		Type     string `json:"type"`
		Contains string `json:"contains"`
	} `json:"expected_error"`
}

type vectorSerialized struct {
	Bytes       *string `json:"bytes"`
	BytesHex    string  `json:"bytes_hex"`
	BytesBase64 string  `json:"bytes_base64"`
}

// raw returns the sample's bytes from whichever representation it has.
func (s vectorSerialized) raw() ([]byte, error) {
	switch {
	case s.BytesHex != "":
		return hex.DecodeString(s.BytesHex)
	case s.BytesBase64 != "":
		return base64.StdEncoding.DecodeString(s.BytesBase64)
	case s.Bytes != nil:
		return []byte(*s.Bytes), nil
	}
	return nil, fmt.Errorf("sample has no bytes")
}

// vectorsDir is the repository's copy of the WAMP test vectors (see its NOTICE.md).
const vectorsDir = "testdata/wamp-testvectors"

func loadVectors(tb testing.TB) []vectorFile {
	tb.Helper()
	dir := vectorsDir
	var files []vectorFile
	err := filepath.WalkDir(filepath.Join(dir, "singlemessage"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var f vectorFile
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		f.path, _ = filepath.Rel(dir, path)
		files = append(files, f)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no test vector files under %s", dir)
	}
	return files
}

// vectorSamples returns every serialized sample of a codec's serializer.
func vectorSamples(tb testing.TB, serializer string) (out [][]byte) {
	for _, f := range loadVectors(tb) {
		for _, s := range f.Samples {
			for _, rep := range s.Serializers[serializer] {
				b, err := rep.raw()
				if err != nil {
					tb.Fatalf("%s: %s: %v", f.path, s.Description, err)
				}
				out = append(out, b)
			}
		}
	}
	return out
}

var vectorCodecs = []Codec{JSON, MsgPack, CBOR}

// otherCodecs returns the codecs a router converts a message of c into.
func otherCodecs(c Codec) (out []Codec) {
	for _, o := range vectorCodecs {
		if o != c {
			out = append(out, o)
		}
	}
	return out
}

func TestVectorsSerialization(t *testing.T) {
	samples := 0
	for _, f := range loadVectors(t) {
		for i, s := range f.Samples {
			if s.Serializers == nil {
				continue
			}
			for _, codec := range vectorCodecs {
				reps := s.Serializers[codec.Name()]
				for j, rep := range reps {
					name := fmt.Sprintf("%s/%d/%s/%d", f.path, i, codec.Name(), j)
					t.Run(name, func(t *testing.T) {
						data, err := rep.raw()
						if err != nil {
							t.Fatal(err)
						}
						checkVectorSample(t, codec, data, reps, s)
					})
					samples++
				}
			}
		}
	}
	if samples < 120 {
		t.Errorf("only %d json/msgpack/cbor samples found; the vectors look incomplete", samples)
	}
}

func checkVectorSample(t *testing.T, codec Codec, data []byte, reps []vectorSerialized, s vectorSample) {
	m, err := codec.Decode(data)
	if err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	checkAttributes(t, "decoded", m, s.ExpectedAttributes)

	enc, err := codec.Encode(nil, m)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	m2, err := codec.Decode(enc)
	if err != nil {
		t.Fatalf("decode re-encoded %q: %v", enc, err)
	}
	checkAttributes(t, "re-encoded", m2, s.ExpectedAttributes)

	// Where no dict has two keys (whose order a map loses), the encoding must be one of the
	// sample's representations byte for byte: compact ints, no spaces, same layout.
	if maxDictKeys(s.ExpectedAttributes) <= 1 {
		matched := false
		for _, rep := range reps {
			if b, _ := rep.raw(); bytes.Equal(b, enc) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("encoding %x (%q) matches none of the sample's representations", enc, enc)
		}
	}

	// Through each other codec and back: what a router does between peers of different codecs.
	for _, other := range otherCodecs(codec) {
		crossEnc, err := other.Encode(nil, m)
		if err != nil {
			t.Fatalf("encode as %s: %v", other.Name(), err)
		}
		m3, err := other.Decode(crossEnc)
		if err != nil {
			t.Fatalf("decode %s %q: %v", other.Name(), crossEnc, err)
		}
		checkAttributes(t, "via "+other.Name(), m3, s.ExpectedAttributes)
		back, err := codec.Encode(nil, m3)
		if err != nil {
			t.Fatalf("encode back to %s: %v", codec.Name(), err)
		}
		m4, err := codec.Decode(back)
		if err != nil {
			t.Fatalf("decode back %q: %v", back, err)
		}
		checkAttributes(t, "back from "+other.Name(), m4, s.ExpectedAttributes)
	}
}

func maxDictKeys(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		n = len(x)
		for k, e := range x {
			if k == "expected_attributes" {
				continue
			}
			n = max(n, maxDictKeys(e))
		}
	case []any:
		for _, e := range x {
			n = max(n, maxDictKeys(e))
		}
	}
	return n
}

// messageAttributes maps a message to the test vectors' attribute names.
func messageAttributes(t testing.TB, m Message) map[string]any {
	t.Helper()
	a := map[string]any{"message_type": int64(m.Type())}
	var p *Payload
	switch m := m.(type) {
	case *Hello:
		a["realm"], a["details"] = string(m.Realm), m.Details
	case *Welcome:
		a["session_id"], a["details"] = m.Session, m.Details
	case *Abort:
		a["details"], a["reason"] = m.Details, string(m.Reason)
	case *Challenge:
		a["method"], a["extra"] = m.AuthMethod, m.Extra
	case *Authenticate:
		a["signature"], a["extra"] = m.Signature, m.Extra
	case *Goodbye:
		a["details"], a["reason"] = m.Details, string(m.Reason)
	case *Error:
		a["request_type"], a["request_id"], a["details"], a["error"] = int64(m.RequestType), m.Request, m.Details, string(m.Error)
		p = &m.Payload
	case *Publish:
		a["request_id"], a["options"], a["topic"] = m.Request, m.Options, string(m.Topic)
		p = &m.Payload
	case *Published:
		a["request_id"], a["publication_id"] = m.Request, m.Publication
	case *Subscribe:
		a["request_id"], a["options"], a["topic"] = m.Request, m.Options, string(m.Topic)
	case *Subscribed:
		a["request_id"], a["subscription_id"] = m.Request, m.Subscription
	case *Unsubscribe:
		a["request_id"], a["subscription_id"] = m.Request, m.Subscription
	case *Unsubscribed:
		a["request_id"], a["details"] = m.Request, m.Details
	case *Event:
		a["subscription_id"], a["publication_id"], a["details"] = m.Subscription, m.Publication, m.Details
		p = &m.Payload
	case *EventReceived:
		a["publication_id"], a["details"] = m.Publication, m.Details
		p = &m.Payload
	case *Call:
		a["request_id"], a["options"], a["procedure"] = m.Request, m.Options, string(m.Procedure)
		p = &m.Payload
	case *Cancel:
		a["request_id"], a["options"] = m.Request, m.Options
	case *Result:
		a["request_id"], a["details"] = m.Request, m.Details
		p = &m.Payload
	case *Register:
		a["request_id"], a["options"], a["procedure"] = m.Request, m.Options, string(m.Procedure)
	case *Registered:
		a["request_id"], a["registration_id"] = m.Request, m.Registration
	case *Unregister:
		a["request_id"], a["registration_id"] = m.Request, m.Registration
	case *Unregistered:
		a["request_id"], a["details"] = m.Request, m.Details
	case *Invocation:
		a["request_id"], a["registration_id"], a["details"] = m.Request, m.Registration, m.Details
		p = &m.Payload
	case *Interrupt:
		a["request_id"], a["options"] = m.Request, m.Options
	case *Yield:
		a["request_id"], a["options"] = m.Request, m.Options
		p = &m.Payload
	default:
		t.Fatalf("unexpected message %T", m)
	}
	if p != nil {
		args, kwargs, err := p.Values()
		if err != nil {
			t.Fatalf("payload values: %v", err)
		}
		a["args"], a["kwargs"] = args, kwargs
		if p.Opaque != nil {
			a["payload"] = hex.EncodeToString(p.Opaque)
		}
	}
	return a
}

// attributeAliases maps the vectors' alternative names to ours.
var attributeAliases = map[string]string{
	"subscription": "subscription_id",
	"publication":  "publication_id",
	"registration": "registration_id",
	"session":      "session_id",
}

func checkAttributes(t *testing.T, stage string, m Message, expected map[string]any) {
	t.Helper()
	actual := messageAttributes(t, m)
	for key, want := range expected {
		name := key
		if alias, ok := attributeAliases[key]; ok {
			name = alias
		}
		var got any
		switch {
		case key == "roles":
			// HELLO/WELCOME: roles sit inside Details.
			d, _ := actual["details"].(Dict)
			got = d["roles"]
		default:
			var ok bool
			if got, ok = actual[name]; !ok && want != nil {
				t.Errorf("%s: attribute %q not mapped for %v", stage, key, m.Type())
				continue
			}
		}
		if want == nil {
			// null means absent or empty (kwargs null == no kwargs).
			if !isEmptyValue(got) {
				t.Errorf("%s: %s = %v, want none", stage, key, got)
			}
			continue
		}
		if key == "payload" {
			if got != want {
				t.Errorf("%s: payload = %v, want %v", stage, got, want)
			}
			continue
		}
		if cg, cw := canonical(got), canonical(want); !reflect.DeepEqual(cg, cw) {
			t.Errorf("%s: %s = %v, want %v", stage, key, cg, cw)
		}
	}
}

func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case List:
		return len(x) == 0
	case Dict:
		return len(x) == 0
	case string:
		return x == ""
	}
	return false
}

// canonical turns decoded and expected values into one comparable form that keeps the
// integer/float distinction: ints as "int:N", floats as "float:F", binaries as "bin:HEX".
func canonical(v any) any {
	switch x := v.(type) {
	case nil, bool:
		return x
	case string:
		return "str:" + x
	case URI:
		return "str:" + string(x)
	case []byte:
		return "bin:" + hex.EncodeToString(x)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return fmt.Sprintf("int:%d", i)
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return fmt.Sprintf("int:%d", u)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return canonical(f)
	case float64:
		if math.IsNaN(x) {
			return "float:NaN"
		}
		return "float:" + strconv.FormatFloat(x, 'g', -1, 64)
	case List:
		return canonicalList(x)
	case []any:
		return canonicalList(x)
	case Dict:
		return canonicalDict(x)
	case map[string]any:
		return canonicalDict(x)
	}
	if n, ok := AsInt64(v); ok {
		return fmt.Sprintf("int:%d", n)
	}
	if u, ok := v.(uint64); ok {
		return fmt.Sprintf("int:%d", u)
	}
	if id, ok := v.(ID); ok {
		return fmt.Sprintf("int:%d", id)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

func canonicalList(l []any) any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = canonical(v)
	}
	return out
}

func canonicalDict(d map[string]any) any {
	out := make(map[string]any, len(d))
	for k, v := range d {
		out[k] = canonical(v)
	}
	return out
}

// TestVectorsValidation runs the wmsg samples (options_validation, details_validation):
// the raw message goes through the JSON codec and Validate, and must fail exactly when the
// sample has an expected_error, naming the offending key.
func TestVectorsValidation(t *testing.T) {
	samples := 0
	for _, f := range loadVectors(t) {
		for i, s := range f.Samples {
			if s.Wmsg == nil {
				continue
			}
			samples++
			t.Run(fmt.Sprintf("%s/%d", f.path, i), func(t *testing.T) {
				text := wmsgJSON(t, s.Wmsg)
				m, err := JSON.Decode(text)
				if err != nil {
					t.Fatalf("%s: decode %s: %v", s.Description, text, err)
				}
				checkValidation(t, s, text, m)
				// The same message through MessagePack and CBOR must validate the same way.
				for _, c := range []Codec{MsgPack, CBOR} {
					enc, err := c.Encode(nil, m)
					if err != nil {
						t.Fatal(err)
					}
					m2, err := c.Decode(enc)
					if err != nil {
						t.Fatalf("%s: %v", c.Name(), err)
					}
					checkValidation(t, s, text, m2)
				}
			})
		}
	}
	if samples < 50 {
		t.Errorf("only %d validation samples found", samples)
	}
}

func checkValidation(t *testing.T, s vectorSample, text []byte, m Message) {
	t.Helper()
	err := Validate(m)
	if s.ExpectedError == nil {
		if err != nil {
			t.Errorf("%s: %s: unexpected error %v", s.Description, text, err)
		}
		return
	}
	switch {
	case err == nil:
		t.Errorf("%s: %s: no error, want one containing %q", s.Description, text, s.ExpectedError.Contains)
	case !errors.Is(err, ErrInvalid):
		t.Errorf("%s: error %v does not wrap ErrInvalid", s.Description, err)
	case !strings.Contains(err.Error(), s.ExpectedError.Contains):
		t.Errorf("%s: error %q does not contain %q", s.Description, err, s.ExpectedError.Contains)
	}
}

// payloadIndex is the position of the arguments element per message type.
var payloadIndex = map[int64]int{8: 5, 16: 4, 36: 4, 337: 3, 48: 4, 50: 3, 68: 4, 70: 3}

// wmsgJSON renders a wmsg sample as JSON text. The samples are language-neutral: a passthru
// payload appears as a plain string (hex), which on the JSON wire is a binary, "\u0000"+base64.
func wmsgJSON(t *testing.T, wmsg []any) []byte {
	msg := append([]any(nil), wmsg...)
	if typ, ok := msg[0].(json.Number); ok {
		n, _ := typ.Int64()
		if i, ok := payloadIndex[n]; ok && i < len(msg) {
			if s, ok := msg[i].(string); ok {
				b, err := hex.DecodeString(s)
				if err != nil {
					b = []byte(s)
				}
				msg[i] = "\x00" + base64.StdEncoding.EncodeToString(b)
			}
		}
	}
	text, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TestVectorsCoverAllTypes makes sure the vectors exercise every message type we have
// (so a codec bug in a rarely used type does not slip by).
func TestVectorsCoverAllTypes(t *testing.T) {
	seen := map[MessageType]bool{}
	for _, f := range loadVectors(t) {
		for _, s := range f.Samples {
			if data := s.Serializers["json"]; len(data) > 0 {
				b, _ := data[0].raw()
				if m, err := JSON.Decode(b); err == nil {
					seen[m.Type()] = true
				}
			}
		}
	}
	var missing []string
	for typ := range typeNames {
		if !seen[typ] {
			missing = append(missing, typ.String())
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Logf("message types without a vector (covered by TestRoundTripAllTypes): %v", missing)
	}
}
