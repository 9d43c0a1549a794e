// Package wamp is Pawl's vocabulary: the WAMP v2 messages as Go types, IDs, URIs,
// the standard error URIs, and the codecs that turn messages into wire bytes and back.
package wamp

// ID is a WAMP identifier: a session, publication, subscription, registration or request ID.
// Valid IDs lie in 1..2^53 so that they survive a trip through a JavaScript number.
type ID uint64

// URI names a topic, procedure or error.
type URI string

// Dict is a WAMP dictionary: Details, Options and keyword arguments.
// Values are nil, bool, int64, uint64 (only above MaxInt64), float64, string, []byte,
// List or Dict after decoding; encoding accepts those and the other Go integer and float kinds.
type Dict map[string]any

// List is a WAMP list: positional arguments and any list inside a Dict.
type List []any

// Bool returns d[key] as a bool and whether it is present with that type.
func (d Dict) Bool(key string) (v bool, ok bool) {
	v, ok = d[key].(bool)
	return v, ok
}

// String returns d[key] as a string and whether it is present with that type.
func (d Dict) String(key string) (v string, ok bool) {
	v, ok = d[key].(string)
	return v, ok
}

// Dict returns d[key] as a Dict and whether it is present with that type.
func (d Dict) Dict(key string) (v Dict, ok bool) {
	switch x := d[key].(type) {
	case Dict:
		return x, true
	case map[string]any:
		return Dict(x), true
	}
	return nil, false
}

// Int returns d[key] as an int64 when it is an integer that fits.
func (d Dict) Int(key string) (int64, bool) {
	return AsInt64(d[key])
}

// AsInt64 converts any Go integer kind (and integral floats, which some JSON peers send) to int64.
func AsInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case uint64:
		if x > 1<<63-1 {
			return 0, false
		}
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint:
		if uint64(x) > 1<<63-1 {
			return 0, false
		}
		return int64(x), true
	case float64:
		// The range guard first: converting an out-of-range float is platform-dependent.
		if x >= -(1<<63) && x < 1<<63 && x == float64(int64(x)) {
			return int64(x), true
		}
	}
	return 0, false
}

// AsID converts an integer value to an ID when it lies in the valid ID range.
func AsID(v any) (ID, bool) {
	n, ok := AsInt64(v)
	if !ok || n < 1 || n > MaxID {
		return 0, false
	}
	return ID(n), true
}
