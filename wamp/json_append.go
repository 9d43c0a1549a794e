package wamp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// The JSON appender: hand-written for the same reason as the scanner (no reflection on the
// hot path). Dicts are written in map order.

// appendJSONValue appends the JSON encoding of v. depth is the nesting level of v's container.
func appendJSONValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendJSONString(dst, x), nil
	case URI:
		return appendJSONString(dst, string(x)), nil
	case []byte:
		return appendJSONBinary(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case ID:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return appendJSONFloat(dst, x, 64)
	case float32:
		return appendJSONFloat(dst, float64(x), 32)
	case List:
		return appendJSONList(dst, x, depth+1)
	case []any:
		return appendJSONList(dst, x, depth+1)
	case Dict:
		return appendJSONDict(dst, x, depth+1)
	case map[string]any:
		return appendJSONDict(dst, x, depth+1)
	case []string:
		if depth+1 > maxNesting {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']'), nil
	}
	plain, err := foreignToPlain(v)
	if err != nil {
		return dst, err
	}
	return appendJSONValue(dst, plain, depth)
}

func appendJSONList(dst []byte, l []any, depth int) ([]byte, error) {
	if depth > maxNesting {
		return dst, errTooDeep
	}
	dst = append(dst, '[')
	var err error
	for i, v := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendJSONValue(dst, v, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func appendJSONDict(dst []byte, d map[string]any, depth int) ([]byte, error) {
	if depth > maxNesting {
		return dst, errTooDeep
	}
	dst = append(dst, '{')
	first := true
	var err error
	for k, v := range d {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		if dst, err = appendJSONValue(dst, v, depth); err != nil {
			return dst, fmt.Errorf("key %q: %w", k, err)
		}
	}
	return append(dst, '}'), nil
}

// appendJSONFloat writes the shortest decimal that reads back as the same float, in plain
// notation between 1e-6 and 1e21 (like encoding/json and JavaScript) and in exponent notation
// outside. An integral value gets a ".0", so that 3.0 reads back as the float 3.0 rather than
// the integer 3. NaN and infinities have no JSON form.
func appendJSONFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("cannot encode %v in JSON", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst, nil
		}
	}
	return append(dst, ".0"...), nil
}

// appendJSONBinary writes b by the binary convention: "\u0000" followed by base64.
func appendJSONBinary(dst []byte, b []byte) []byte {
	dst = append(dst, `"\u0000`...)
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, as in encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// foreignToPlain turns a value of a type the codecs do not know (a struct, a named slice...)
// into plain values by passing it through encoding/json and our parser, so that every codec
// encodes it the same way. This is the rare path; the known types never get here.
func foreignToPlain(v any) (any, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	plain, err := DecodeJSONValue(js)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return plain, nil
}
