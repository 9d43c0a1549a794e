package wamp

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// The CBOR appender: hand-written like the JSON one, writing straight into the caller's
// buffer. Every head takes its shortest form (RFC 8949 preferred serialization), so the
// message type 16 is the single byte 0x10. Dicts are written in map order.

// appendCBORHead appends an item's initial byte and argument in their shortest form.
func appendCBORHead(dst []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(dst, m|byte(arg))
	case arg <= math.MaxUint8:
		return append(dst, m|24, byte(arg))
	case arg <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(arg))
	case arg <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(arg))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), arg)
}

func appendCBORInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendCBORHead(dst, cborNegative, uint64(-1-v))
	}
	return appendCBORHead(dst, cborUnsigned, uint64(v))
}

// appendCBORText writes s as a text string. Go strings may hold invalid UTF-8, which CBOR
// text may not; such a string is written with U+FFFD in place of the bad bytes, as the JSON
// appender does, so a recipient never gets an item it must refuse.
func appendCBORText(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	dst = appendCBORHead(dst, cborText, uint64(len(s)))
	return append(dst, s...)
}

func appendCBORBytes(dst []byte, b []byte) []byte {
	dst = appendCBORHead(dst, cborBytes, uint64(len(b)))
	return append(dst, b...)
}

// appendCBORFloat writes f as a single-precision float when that keeps it exactly, else as
// a double. (Half precision would save one or two more bytes on rare values; not worth it.)
func appendCBORFloat(dst []byte, f float64) []byte {
	if f32 := float32(f); float64(f32) == f && !math.IsNaN(f) {
		return binary.BigEndian.AppendUint32(append(dst, cborSimple<<5|26), math.Float32bits(f32))
	}
	return binary.BigEndian.AppendUint64(append(dst, cborSimple<<5|27), math.Float64bits(f))
}

// appendCBORValue appends the CBOR encoding of v. depth is the nesting level of v's container.
func appendCBORValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, cborSimple<<5|22), nil
	case bool:
		if x {
			return append(dst, cborSimple<<5|21), nil
		}
		return append(dst, cborSimple<<5|20), nil
	case string:
		return appendCBORText(dst, x), nil
	case URI:
		return appendCBORText(dst, string(x)), nil
	case []byte:
		return appendCBORBytes(dst, x), nil
	case int64:
		return appendCBORInt(dst, x), nil
	case int:
		return appendCBORInt(dst, int64(x)), nil
	case int32:
		return appendCBORInt(dst, int64(x)), nil
	case int16:
		return appendCBORInt(dst, int64(x)), nil
	case int8:
		return appendCBORInt(dst, int64(x)), nil
	case uint64:
		return appendCBORHead(dst, cborUnsigned, x), nil
	case ID:
		return appendCBORHead(dst, cborUnsigned, uint64(x)), nil
	case uint:
		return appendCBORHead(dst, cborUnsigned, uint64(x)), nil
	case uint32:
		return appendCBORHead(dst, cborUnsigned, uint64(x)), nil
	case uint16:
		return appendCBORHead(dst, cborUnsigned, uint64(x)), nil
	case uint8:
		return appendCBORHead(dst, cborUnsigned, uint64(x)), nil
	case float64:
		return appendCBORFloat(dst, x), nil
	case float32:
		return appendCBORFloat(dst, float64(x)), nil
	case List:
		return appendCBORList(dst, x, depth+1)
	case []any:
		return appendCBORList(dst, x, depth+1)
	case Dict:
		return appendCBORDict(dst, x, depth+1)
	case map[string]any:
		return appendCBORDict(dst, x, depth+1)
	case []string:
		if depth+1 > maxNesting {
			return dst, errTooDeep
		}
		dst = appendCBORHead(dst, cborArray, uint64(len(x)))
		for _, s := range x {
			dst = appendCBORText(dst, s)
		}
		return dst, nil
	}
	plain, err := foreignToPlain(v)
	if err != nil {
		return dst, err
	}
	return appendCBORValue(dst, plain, depth)
}

func appendCBORList(dst []byte, l []any, depth int) ([]byte, error) {
	if depth > maxNesting {
		return dst, errTooDeep
	}
	dst = appendCBORHead(dst, cborArray, uint64(len(l)))
	var err error
	for _, v := range l {
		if dst, err = appendCBORValue(dst, v, depth); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func appendCBORDict(dst []byte, d map[string]any, depth int) ([]byte, error) {
	if depth > maxNesting {
		return dst, errTooDeep
	}
	dst = appendCBORHead(dst, cborMap, uint64(len(d)))
	var err error
	for k, v := range d {
		dst = appendCBORText(dst, k)
		if dst, err = appendCBORValue(dst, v, depth); err != nil {
			return dst, fmt.Errorf("key %q: %w", k, err)
		}
	}
	return dst, nil
}
