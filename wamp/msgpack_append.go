package wamp

import (
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// The MessagePack appender: the library's Encoder primitives (EncodeUint, EncodeString...)
// driven by a type switch, writing straight into the caller's buffer.

// appendBuffer is the io.Writer (and io.ByteWriter, so the library adds no wrapper) that the
// pooled Encoders write into: it appends to the caller's dst.
type appendBuffer struct{ b []byte }

func (a *appendBuffer) Write(p []byte) (int, error) { a.b = append(a.b, p...); return len(p), nil }
func (a *appendBuffer) WriteByte(c byte) error      { a.b = append(a.b, c); return nil }

// msgpackEncoder writes values with the library's Encoder into out. Encoder methods return
// only the writer's errors, and appendBuffer never fails, so those results are ignored.
type msgpackEncoder struct {
	out appendBuffer
	enc *msgpack.Encoder
}

func newMsgpackEncoder() *msgpackEncoder {
	e := &msgpackEncoder{}
	e.enc = msgpack.NewEncoder(&e.out)
	e.enc.UseCompactInts(true)
	return e
}

var errTooLong = fmt.Errorf("value longer than MessagePack's 2^32-1 limit")

// value encodes v. depth is the nesting level of v's container.
func (e *msgpackEncoder) value(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		_ = e.enc.EncodeNil()
	case bool:
		_ = e.enc.EncodeBool(x)
	case string:
		return e.str(x)
	case URI:
		return e.str(string(x))
	case []byte:
		return e.bin(x)
	case int64:
		_ = e.enc.EncodeInt(x)
	case int:
		_ = e.enc.EncodeInt(int64(x))
	case int32:
		_ = e.enc.EncodeInt(int64(x))
	case int16:
		_ = e.enc.EncodeInt(int64(x))
	case int8:
		_ = e.enc.EncodeInt(int64(x))
	case uint64:
		_ = e.enc.EncodeUint(x)
	case ID:
		_ = e.enc.EncodeUint(uint64(x))
	case uint:
		_ = e.enc.EncodeUint(uint64(x))
	case uint32:
		_ = e.enc.EncodeUint(uint64(x))
	case uint16:
		_ = e.enc.EncodeUint(uint64(x))
	case uint8:
		_ = e.enc.EncodeUint(uint64(x))
	case float64:
		_ = e.enc.EncodeFloat64(x)
	case float32:
		_ = e.enc.EncodeFloat32(x)
	case List:
		return e.list(x, depth+1)
	case []any:
		return e.list(x, depth+1)
	case Dict:
		return e.dict(x, depth+1)
	case map[string]any:
		return e.dict(x, depth+1)
	case []string:
		if depth+1 > maxNesting {
			return errTooDeep
		}
		if uint64(len(x)) > math.MaxUint32 {
			return errTooLong
		}
		_ = e.enc.EncodeArrayLen(len(x))
		for _, s := range x {
			if err := e.str(s); err != nil {
				return err
			}
		}
	default:
		plain, err := foreignToPlain(v)
		if err != nil {
			return err
		}
		return e.value(plain, depth)
	}
	return nil
}

func (e *msgpackEncoder) str(s string) error {
	if uint64(len(s)) > math.MaxUint32 {
		return errTooLong
	}
	_ = e.enc.EncodeString(s)
	return nil
}

// bin writes b as bin, also when nil (the library would write nil).
func (e *msgpackEncoder) bin(b []byte) error {
	if uint64(len(b)) > math.MaxUint32 {
		return errTooLong
	}
	_ = e.enc.EncodeBytesLen(len(b))
	e.out.b = append(e.out.b, b...)
	return nil
}

func (e *msgpackEncoder) list(l []any, depth int) error {
	if depth > maxNesting {
		return errTooDeep
	}
	if uint64(len(l)) > math.MaxUint32 {
		return errTooLong
	}
	_ = e.enc.EncodeArrayLen(len(l))
	for _, v := range l {
		if err := e.value(v, depth); err != nil {
			return err
		}
	}
	return nil
}

func (e *msgpackEncoder) dict(d map[string]any, depth int) error {
	if depth > maxNesting {
		return errTooDeep
	}
	if uint64(len(d)) > math.MaxUint32 {
		return errTooLong
	}
	_ = e.enc.EncodeMapLen(len(d))
	for k, v := range d {
		if err := e.str(k); err != nil {
			return err
		}
		if err := e.value(v, depth); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
	}
	return nil
}
