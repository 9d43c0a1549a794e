package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/wamp"
)

// payload is one args/kwargs pair from testdata/payload.json, in canonical
// form (see canon).
type payload struct {
	Args   []any
	Kwargs map[string]any
}

// loadPayload reads a section ("full" or "cross") of testdata/payload.json,
// the value set shared with the JS and Python drivers.
func loadPayload(t *testing.T, section string) payload {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(data, &sections); err != nil {
		t.Fatalf("testdata/payload.json: %v", err)
	}
	raw, ok := sections[section]
	if !ok {
		t.Fatalf("testdata/payload.json has no section %q", section)
	}
	var p struct {
		Args   []any          `json:"args"`
		Kwargs map[string]any `json:"kwargs"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep 42 and 1.5 apart, and 2^53 exact
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("testdata/payload.json section %q: %v", section, err)
	}
	return payload{Args: canon(p.Args).([]any), Kwargs: canon(p.Kwargs).(map[string]any)}
}

// list and dict convert the payload to the nexus client's types for sending.
func (p payload) list() wamp.List { return wamp.List(p.Args) }
func (p payload) dict() wamp.Dict { return wamp.Dict(p.Kwargs) }

// canon converts a decoded value into a canonical form: every integer becomes
// int64 (uint64 only above MaxInt64), every float float64, lists []any and
// dicts map[string]any. reflect.DeepEqual on canonical values therefore also
// tells an integer from a float that happens to have the same value.
func canon(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		f, err := x.Float64()
		if err != nil {
			panic(fmt.Sprintf("bad number %q in payload.json", s))
		}
		return f
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint:
		return canonUint(uint64(x))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return canonUint(x)
	case float32:
		return float64(x)
	case wamp.List:
		return canon([]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canon(e)
		}
		return out
	case wamp.Dict:
		return canon(map[string]any(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canon(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = canon(e)
		}
		return out
	default:
		return v
	}
}

func canonUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return u
}

// diffValues returns "" when want and got (both canonical) are equal, else a
// description of the first difference, with the Go types involved.
func diffValues(path string, want, got any) string {
	switch w := want.(type) {
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want list %v, got %T %v", path, w, got, got)
		}
		if len(w) != len(g) {
			return fmt.Sprintf("%s: want list of length %d, got %d: %v", path, len(w), len(g), g)
		}
		for i := range w {
			if d := diffValues(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want dict %v, got %T %v", path, w, got, got)
		}
		if wk, gk := sortedKeys(w), sortedKeys(g); !reflect.DeepEqual(wk, gk) {
			return fmt.Sprintf("%s: want keys %q, got %q", path, wk, gk)
		}
		for _, k := range sortedKeys(w) {
			if d := diffValues(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	default:
		if reflect.TypeOf(want) != reflect.TypeOf(got) || !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: want %T %#v, got %T %#v", path, want, want, got, got)
		}
		return ""
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkPayload fails t unless args/kwargs as received equal want exactly,
// integers arriving as integers and floats as floats.
func checkPayload(t *testing.T, what string, want payload, args wamp.List, kwargs wamp.Dict) {
	t.Helper()
	gotArgs := canon([]any(args))
	gotKwargs := canon(map[string]any(kwargs))
	if kwargs == nil {
		gotKwargs = map[string]any{} // an absent ArgumentsKw equals an empty one
	}
	if args == nil {
		gotArgs = []any{}
	}
	if d := diffValues("args", want.Args, gotArgs); d != "" {
		t.Errorf("%s: %s", what, d)
	}
	if d := diffValues("kwargs", want.Kwargs, gotKwargs); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

func TestCanonTellsIntegersFromFloats(t *testing.T) {
	// The comparisons are only meaningful if an integer that turned into a
	// float (a classic JSON<->msgpack conversion bug) is reported.
	want := canon([]any{json.Number("42"), json.Number("1.5"), json.Number("9007199254740992")})
	cases := []struct {
		got      any
		mismatch bool
	}{
		{[]any{uint64(42), 1.5, uint64(1 << 53)}, false},
		{[]any{int8(42), float32(1.5), int64(1 << 53)}, false},
		{[]any{float64(42), 1.5, uint64(1 << 53)}, true},
		{[]any{uint64(42), 1.5, float64(1 << 53)}, true},
		{[]any{uint64(42), 1.5}, true},
		{[]any{"42", 1.5, uint64(1 << 53)}, true},
	}
	for _, c := range cases {
		d := diffValues("v", want, canon(c.got))
		if (d != "") != c.mismatch {
			t.Errorf("diffValues(%v, %#v) = %q, want mismatch=%v", want, c.got, d, c.mismatch)
		}
	}
}
