package wamp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// CBOR (RFC 8949) values. A message is first checked whole by fxamacker/cbor's
// well-formedness check, with the limits set below (nesting, no tags, lengths against the data
// actually there); the walker in this file then reads bytes known to be well formed, keeping
// raw payload elements as sub-slices of the input like the other codecs. It still bounds every
// read, and it enforces what well-formedness does not: valid UTF-8 in text strings, text dict
// keys, and only the simple values and integers WAMP's types can hold.
//
// Tags: the only ones accepted are the bignums (2 and 3) whose value fits the integers WAMP
// values hold (int64, uint64). The npm cbor package, autobahn.js's CBOR serializer, writes every
// JavaScript BigInt that way, even 2^53; RFC 8949 makes them the same integers as major types
// 0 and 1, so they decode as such. Any other tag is refused.

// CBOR major types.
const (
	cborUnsigned = 0
	cborNegative = 1
	cborBytes    = 2
	cborText     = 3
	cborArray    = 4
	cborMap      = 5
	cborTag      = 6
	cborSimple   = 7
)

const (
	cborIndefinite = 31   // additional information of an indefinite-length item
	cborBreak      = 0xff // ends an indefinite-length item
)

// cborWellformed is the library's structural gate. Indefinite lengths are allowed (streaming
// encoders such as Jackson's write them); tags pass it and are judged by the walker.
var cborWellformed = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  maxNesting,
		MaxArrayElements: math.MaxInt32,
		MaxMapPairs:      math.MaxInt32,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// checkCBORWellformed runs the library's check, turning its error into a decode error.
func checkCBORWellformed(data []byte) error {
	if err := cborWellformed.Wellformed(data); err != nil {
		return invalidf("%v", err)
	}
	return nil
}

// cborParser reads values from data starting at pos.
type cborParser struct {
	data []byte
	pos  int
}

func (p *cborParser) errorf(format string, args ...any) error {
	return invalidf("offset %d: "+format, append([]any{p.pos}, args...)...)
}

func (p *cborParser) truncated() error { return p.errorf("unexpected end of data") }

// peek returns the major type of the next item and whether there is one.
func (p *cborParser) peek() (major byte, ok bool) {
	if p.pos >= len(p.data) {
		return 0, false
	}
	return p.data[p.pos] >> 5, true
}

// atBreak reports whether the next byte ends an indefinite-length item.
func (p *cborParser) atBreak() bool { return p.pos < len(p.data) && p.data[p.pos] == cborBreak }

// head reads an item's initial byte and argument. indefinite is set for additional
// information 31 on the types that allow it (strings, arrays, maps).
func (p *cborParser) head() (major byte, arg uint64, indefinite bool, err error) {
	if p.pos >= len(p.data) {
		return 0, 0, false, p.truncated()
	}
	c := p.data[p.pos]
	major, ai := c>>5, c&0x1f
	switch {
	case ai < 24:
		p.pos++
		return major, uint64(ai), false, nil
	case ai <= 27:
		n := 1 << (ai - 24)
		if len(p.data)-p.pos-1 < n {
			return 0, 0, false, p.truncated()
		}
		b := p.data[p.pos+1 : p.pos+1+n]
		switch n {
		case 1:
			arg = uint64(b[0])
		case 2:
			arg = uint64(binary.BigEndian.Uint16(b))
		case 4:
			arg = uint64(binary.BigEndian.Uint32(b))
		default:
			arg = binary.BigEndian.Uint64(b)
		}
		p.pos += 1 + n
		return major, arg, false, nil
	case ai == cborIndefinite && major >= cborBytes && major <= cborMap:
		p.pos++
		return major, 0, true, nil
	}
	return 0, 0, false, p.errorf("invalid initial byte 0x%02x", c)
}

// length converts a definite length to int after checking it against the bytes left (every
// element or string byte takes at least perItem bytes), so that preallocation stays bounded.
func (p *cborParser) length(arg uint64, perItem int) (int, error) {
	if arg > uint64(len(p.data)-p.pos)/uint64(perItem) {
		return 0, p.truncated()
	}
	return int(arg), nil
}

// stringBody reads a byte or text string whose head has been read. A definite string is a
// sub-slice of data; an indefinite one is its chunks joined in a new slice (copied == true).
func (p *cborParser) stringBody(major byte, arg uint64, indefinite bool) (b []byte, copied bool, err error) {
	if !indefinite {
		n, err := p.length(arg, 1)
		if err != nil {
			return nil, false, err
		}
		b = p.data[p.pos : p.pos+n : p.pos+n]
		p.pos += n
		return b, false, nil
	}
	b = []byte{}
	for !p.atBreak() {
		m, arg, ind, err := p.head()
		if err != nil {
			return nil, false, err
		}
		if m != major || ind {
			return nil, false, p.errorf("chunk of an indefinite-length string must be a definite string of the same type")
		}
		n, err := p.length(arg, 1)
		if err != nil {
			return nil, false, err
		}
		b = append(b, p.data[p.pos:p.pos+n]...)
		p.pos += n
	}
	if p.pos >= len(p.data) {
		return nil, false, p.truncated()
	}
	p.pos++ // the break
	return b, true, nil
}

// text reads a text string whose head has been read, checking that it is valid UTF-8.
func (p *cborParser) text(arg uint64, indefinite bool) ([]byte, error) {
	b, _, err := p.stringBody(cborText, arg, indefinite)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, p.errorf("text string is not valid UTF-8")
	}
	return b, nil
}

// value decodes the next item. depth is the nesting level of the item's container.
func (p *cborParser) value(depth int) (any, error) {
	start := p.pos
	major, arg, indefinite, err := p.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case cborUnsigned:
		if arg <= math.MaxInt64 {
			return int64(arg), nil
		}
		return arg, nil
	case cborNegative:
		if arg > math.MaxInt64 {
			p.pos = start
			return nil, p.errorf("integer below -2^63")
		}
		return -1 - int64(arg), nil
	case cborBytes:
		b, copied, err := p.stringBody(cborBytes, arg, indefinite)
		if err != nil {
			return nil, err
		}
		if !copied {
			// A copy: dicts are often kept long after the message buffer is gone.
			b = bytes.Clone(b)
		}
		return b, nil
	case cborText:
		b, err := p.text(arg, indefinite)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case cborArray:
		return p.list(depth+1, arg, indefinite)
	case cborMap:
		return p.dict(depth+1, arg, indefinite)
	case cborSimple:
		return p.simpleValue(start, arg)
	}
	return p.bignum(start, arg)
}

// bignum decodes a tag whose head (starting at start) has been read: a bignum (tag 2 or 3)
// that fits int64 or uint64 becomes that integer; anything else is refused.
func (p *cborParser) bignum(start int, tag uint64) (any, error) {
	if tag != 2 && tag != 3 {
		p.pos = start
		return nil, p.errorf("tag %d is not used by WAMP", tag)
	}
	major, arg, indefinite, err := p.head()
	if err != nil {
		return nil, err
	}
	if major != cborBytes {
		p.pos = start
		return nil, p.errorf("bignum tag %d must hold a byte string", tag)
	}
	b, _, err := p.stringBody(cborBytes, arg, indefinite)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimLeft(b, "\x00")
	if len(b) > 8 {
		p.pos = start
		return nil, p.errorf("bignum beyond 64 bits")
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	switch {
	case tag == 2 && n <= math.MaxInt64:
		return int64(n), nil
	case tag == 2:
		return n, nil
	case n <= math.MaxInt64:
		return -1 - int64(n), nil
	}
	p.pos = start
	return nil, p.errorf("integer below -2^63")
}

// simpleValue decodes the major type 7 item that starts at start and whose argument is arg.
func (p *cborParser) simpleValue(start int, arg uint64) (any, error) {
	switch ai := p.data[start] & 0x1f; ai {
	case 20:
		return false, nil
	case 21:
		return true, nil
	case 22, 23: // null, undefined
		return nil, nil
	case 25:
		return halfToFloat64(uint16(arg)), nil
	case 26:
		return float64(math.Float32frombits(uint32(arg))), nil
	case 27:
		return math.Float64frombits(arg), nil
	}
	p.pos = start
	return nil, p.errorf("simple value 0x%02x has no WAMP meaning", p.data[start])
}

// halfToFloat64 converts an IEEE 754 half-precision float.
func halfToFloat64(h uint16) float64 {
	exp, frac := int(h>>10)&0x1f, float64(h&0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(frac+1024, exp-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// cborContainer walks the elements of an array or map whose head has been read (a map entry
// counts as one element).
type cborContainer struct {
	left       int
	indefinite bool
}

// open starts a container, checking a definite length against the bytes left.
func (p *cborParser) open(arg uint64, indefinite bool, perItem int) (cborContainer, error) {
	if indefinite {
		return cborContainer{indefinite: true}, nil
	}
	n, err := p.length(arg, perItem)
	return cborContainer{left: n}, err
}

// next reports whether another element follows, consuming the break that ends an
// indefinite-length container.
func (p *cborParser) next(c *cborContainer) (bool, error) {
	if c.indefinite {
		if p.pos >= len(p.data) {
			return false, p.truncated()
		}
		if p.data[p.pos] == cborBreak {
			p.pos++
			return false, nil
		}
		return true, nil
	}
	if c.left == 0 {
		return false, nil
	}
	c.left--
	return true, nil
}

func (p *cborParser) list(depth int, arg uint64, indefinite bool) (List, error) {
	if depth > maxNesting {
		return nil, p.errorf("nested deeper than %d levels", maxNesting)
	}
	c, err := p.open(arg, indefinite, 1)
	if err != nil {
		return nil, err
	}
	l := make(List, 0, min(c.left, maxPrealloc))
	for {
		more, err := p.next(&c)
		if err != nil {
			return nil, err
		}
		if !more {
			return l, nil
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
}

func (p *cborParser) dict(depth int, arg uint64, indefinite bool) (Dict, error) {
	if depth > maxNesting {
		return nil, p.errorf("nested deeper than %d levels", maxNesting)
	}
	c, err := p.open(arg, indefinite, 2)
	if err != nil {
		return nil, err
	}
	d := make(Dict, min(c.left, maxPrealloc/8))
	for {
		more, err := p.next(&c)
		if err != nil {
			return nil, err
		}
		if !more {
			return d, nil
		}
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		d[dictKey(k)] = v
	}
}

// key reads a dict key, which must be a text string.
func (p *cborParser) key() ([]byte, error) {
	start := p.pos
	major, arg, indefinite, err := p.head()
	if err != nil {
		return nil, err
	}
	if major != cborText {
		p.pos = start
		return nil, p.errorf("dict key must be a text string, not major type %d", major)
	}
	return p.text(arg, indefinite)
}

// skip checks the item at pos and moves past it without building it. It enforces what value
// would: UTF-8 text, text dict keys, known simple values, no tags, the nesting limit.
func (p *cborParser) skip(depth int) error {
	start := p.pos
	major, arg, indefinite, err := p.head()
	if err != nil {
		return err
	}
	switch major {
	case cborUnsigned:
		return nil
	case cborNegative:
		if arg > math.MaxInt64 {
			p.pos = start
			return p.errorf("integer below -2^63")
		}
		return nil
	case cborBytes:
		_, _, err := p.stringBody(cborBytes, arg, indefinite)
		return err
	case cborText:
		_, err := p.text(arg, indefinite)
		return err
	case cborArray, cborMap:
		depth++
		if depth > maxNesting {
			return p.errorf("nested deeper than %d levels", maxNesting)
		}
		perItem := 1
		if major == cborMap {
			perItem = 2
		}
		c, err := p.open(arg, indefinite, perItem)
		if err != nil {
			return err
		}
		for {
			more, err := p.next(&c)
			if err != nil || !more {
				return err
			}
			if major == cborMap {
				if _, err := p.key(); err != nil {
					return err
				}
			}
			if err := p.skip(depth); err != nil {
				return err
			}
		}
	case cborSimple:
		if !cborKnownSimple(p.data[start]) {
			p.pos = start
			return p.errorf("simple value 0x%02x has no WAMP meaning", p.data[start])
		}
		return nil
	}
	// A tag: only a bignum that fits 64 bits passes, and checking it means decoding it.
	_, err = p.bignum(start, arg)
	return err
}

// cborKnownSimple reports whether a major type 7 initial byte is one WAMP values use:
// false, true, null, undefined, or a half, single or double float.
func cborKnownSimple(initial byte) bool {
	ai := initial & 0x1f
	return ai >= 20 && ai <= 23 || ai >= 25 && ai <= 27
}

// DecodeCBORValue decodes one standalone CBOR item: arrays as List, maps (text keys only) as
// Dict, integers as int64 (uint64 above MaxInt64), floats as float64, byte strings as []byte,
// text strings as string, null and undefined as nil.
func DecodeCBORValue(data []byte) (any, error) {
	if err := checkCBORWellformed(data); err != nil {
		return nil, fmt.Errorf("cbor: %w", err)
	}
	p := cborParser{data: data}
	v, err := p.value(0)
	if err == nil && p.pos != len(data) {
		err = p.errorf("unexpected data after the value")
	}
	if err != nil {
		return nil, fmt.Errorf("cbor: %w", err)
	}
	return v, nil
}
