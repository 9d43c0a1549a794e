package wamp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// MessagePack values. Decoding goes through the library's streaming Decoder over a
// bytes.Reader, so the read position is always known and raw payload elements can be kept
// as sub-slices of the input. Lengths declared in headers are checked against the bytes
// actually left before anything is allocated, so a tiny message claiming a 4 GiB string or a
// billion-element array costs nothing.

// MessagePack format codes (see the spec); the library's msgpcode names are vars, not consts,
// so they cannot be switch cases.
const (
	mpNil     = 0xc0
	mpFalse   = 0xc2
	mpTrue    = 0xc3
	mpBin8    = 0xc4
	mpBin16   = 0xc5
	mpBin32   = 0xc6
	mpExt8    = 0xc7
	mpExt16   = 0xc8
	mpExt32   = 0xc9
	mpFloat   = 0xca
	mpDouble  = 0xcb
	mpUint8   = 0xcc
	mpUint16  = 0xcd
	mpUint32  = 0xce
	mpUint64  = 0xcf
	mpInt8    = 0xd0
	mpInt16   = 0xd1
	mpInt32   = 0xd2
	mpInt64   = 0xd3
	mpFixExt1 = 0xd4
	mpFixExt2 = 0xd5
	mpFixExt4 = 0xd6
	mpFixExt8 = 0xd7
	mpFixExt  = 0xd8
	mpStr8    = 0xd9
	mpStr16   = 0xda
	mpStr32   = 0xdb
	mpArray16 = 0xdc
	mpArray32 = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
)

func mpIsArray(c byte) bool { return c >= 0x90 && c <= 0x9f || c == mpArray16 || c == mpArray32 }
func mpIsMap(c byte) bool   { return c >= 0x80 && c <= 0x8f || c == mpMap16 || c == mpMap32 }
func mpIsString(c byte) bool {
	return c >= 0xa0 && c <= 0xbf || c == mpStr8 || c == mpStr16 || c == mpStr32
}
func mpIsBin(c byte) bool { return c == mpBin8 || c == mpBin16 || c == mpBin32 }

// mpIsUnsigned reports codes holding a non-negative integer by construction.
func mpIsUnsigned(c byte) bool { return c <= 0x7f || c >= mpUint8 && c <= mpUint64 }

// mpIsSigned reports codes holding a signed integer (which may still be non-negative).
func mpIsSigned(c byte) bool { return c >= 0xe0 || c >= mpInt8 && c <= mpInt64 }

// msgpackParser reads values from data.
type msgpackParser struct {
	data []byte
	rd   bytes.Reader
	dec  *msgpack.Decoder
}

func newMsgpackParser() *msgpackParser {
	p := &msgpackParser{}
	// A bytes.Reader is an io.ByteScanner, so the Decoder reads it directly without buffering:
	// rd's position is exactly what the Decoder has consumed.
	p.dec = msgpack.NewDecoder(&p.rd)
	return p
}

func (p *msgpackParser) reset(data []byte) {
	p.data = data
	p.rd.Reset(data)
}

func (p *msgpackParser) pos() int { return len(p.data) - p.rd.Len() }

// seek moves the read position to off (which the caller has checked is within data).
func (p *msgpackParser) seek(off int) { _, _ = p.rd.Seek(int64(off), io.SeekStart) }

func (p *msgpackParser) errorf(format string, args ...any) error {
	return invalidf("offset %d: "+format, append([]any{p.pos()}, args...)...)
}

func (p *msgpackParser) truncated() error { return p.errorf("unexpected end of data") }

// peek returns the format code of the next value.
func (p *msgpackParser) peek() (byte, error) {
	c, err := p.dec.PeekCode()
	if err != nil {
		return 0, p.truncated()
	}
	return c, nil
}

// header decodes the header of the value at off without consuming it: its size in bytes, and
// for strings, binaries, extensions, arrays and maps the declared length (entries for maps).
// The fixed-size scalars report a zero length and the size of their whole encoding.
func mpHeader(data []byte, off int) (size int, n uint64, ok bool) {
	if off >= len(data) {
		return 0, 0, false
	}
	c := data[off]
	lenAt := func(width int) (int, uint64, bool) {
		if off+1+width > len(data) {
			return 0, 0, false
		}
		b := data[off+1 : off+1+width]
		switch width {
		case 1:
			return 2, uint64(b[0]), true
		case 2:
			return 3, uint64(binary.BigEndian.Uint16(b)), true
		}
		return 5, uint64(binary.BigEndian.Uint32(b)), true
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == mpNil || c == mpFalse || c == mpTrue:
		return 1, 0, true
	case c <= 0x8f:
		return 1, uint64(c & 0x0f), true // fixmap
	case c <= 0x9f:
		return 1, uint64(c & 0x0f), true // fixarray
	case c <= 0xbf:
		return 1, uint64(c & 0x1f), true // fixstr
	}
	switch c {
	case mpUint8, mpInt8:
		return 2, 0, true
	case mpUint16, mpInt16:
		return 3, 0, true
	case mpUint32, mpInt32, mpFloat:
		return 5, 0, true
	case mpUint64, mpInt64, mpDouble:
		return 9, 0, true
	case mpBin8, mpStr8:
		return lenAt(1)
	case mpBin16, mpStr16, mpArray16, mpMap16:
		return lenAt(2)
	case mpBin32, mpStr32, mpArray32, mpMap32:
		return lenAt(4)
	case mpFixExt1, mpFixExt2, mpFixExt4, mpFixExt8, mpFixExt:
		return 2, 1 << (c - mpFixExt1), true
	case mpExt8, mpExt16, mpExt32:
		size, n, ok := lenAt(1 << (c - mpExt8))
		return size + 1, n, ok // plus the type byte
	}
	return 0, 0, false // 0xc1, never used
}

// bytesBody returns the contents of the string or binary at the read position and moves past
// it, after checking that the declared length fits the data.
func (p *msgpackParser) bytesBody() ([]byte, error) {
	off := p.pos()
	size, n, ok := mpHeader(p.data, off)
	if !ok || size > len(p.data)-off || n > uint64(len(p.data)-off-size) {
		return nil, p.truncated()
	}
	end := off + size + int(n)
	p.seek(end)
	return p.data[off+size : end : end], nil
}

// maxPrealloc caps the elements preallocated for a list: a declared length is only a claim,
// and each element costs 16 bytes in memory against 1 byte on the wire.
const maxPrealloc = 1024

// containerLen reads an array or map header, checking the declared length against the data
// left (every element takes at least one byte), so that preallocation stays bounded.
func (p *msgpackParser) containerLen(isMap bool) (int, error) {
	var n int
	var err error
	if isMap {
		n, err = p.dec.DecodeMapLen()
	} else {
		n, err = p.dec.DecodeArrayLen()
	}
	if err != nil || n < 0 {
		return 0, p.truncated()
	}
	perEntry := 1
	if isMap {
		perEntry = 2
	}
	if n > p.rd.Len()/perEntry {
		return 0, p.truncated()
	}
	return n, nil
}

// value decodes the next value. depth is the nesting level of the value's container.
func (p *msgpackParser) value(depth int) (any, error) {
	c, err := p.peek()
	if err != nil {
		return nil, err
	}
	switch {
	case mpIsUnsigned(c) && c != mpUint64, mpIsSigned(c):
		n, err := p.dec.DecodeInt64()
		if err != nil {
			return nil, p.truncated()
		}
		return n, nil
	case c == mpUint64:
		n, err := p.dec.DecodeUint64()
		if err != nil {
			return nil, p.truncated()
		}
		if n <= math.MaxInt64 {
			return int64(n), nil
		}
		return n, nil
	case mpIsString(c):
		b, err := p.bytesBody()
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case mpIsBin(c):
		b, err := p.bytesBody()
		if err != nil {
			return nil, err
		}
		// A copy: dicts are often kept long after the message buffer is gone.
		return bytes.Clone(b), nil
	case mpIsMap(c):
		return p.dict(depth + 1)
	case mpIsArray(c):
		return p.list(depth + 1)
	case c == mpNil:
		_ = p.dec.DecodeNil()
		return nil, nil
	case c == mpFalse || c == mpTrue:
		b, _ := p.dec.DecodeBool()
		return b, nil
	case c == mpFloat:
		f, err := p.dec.DecodeFloat32()
		if err != nil {
			return nil, p.truncated()
		}
		return float64(f), nil
	case c == mpDouble:
		f, err := p.dec.DecodeFloat64()
		if err != nil {
			return nil, p.truncated()
		}
		return f, nil
	}
	return nil, p.errorf("unsupported format code 0x%02x (extension types are not used by WAMP)", c)
}

func (p *msgpackParser) dict(depth int) (Dict, error) {
	if depth > maxNesting {
		return nil, p.errorf("nested deeper than %d levels", maxNesting)
	}
	n, err := p.containerLen(true)
	if err != nil {
		return nil, err
	}
	d := make(Dict, min(n, maxPrealloc/8))
	for i := 0; i < n; i++ {
		c, err := p.peek()
		if err != nil {
			return nil, err
		}
		if !mpIsString(c) {
			return nil, p.errorf("dict key must be a string, not format 0x%02x", c)
		}
		k, err := p.bytesBody()
		if err != nil {
			return nil, err
		}
		if p.undefined() {
			continue // an option JavaScript left undefined is an option not given
		}
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		d[dictKey(k)] = v
	}
	return d, nil
}

// undefined skips JavaScript's undefined as JavaScript MessagePack libraries encode it (the
// 1-byte extension of type 0 holding 0: d4 00 00, e.g. wampy.js's options it leaves unset)
// and reports whether it did.
func (p *msgpackParser) undefined() bool {
	off := p.pos()
	if off+3 <= len(p.data) && p.data[off] == mpFixExt1 && p.data[off+1] == 0 && p.data[off+2] == 0 {
		p.seek(off + 3)
		return true
	}
	return false
}

func (p *msgpackParser) list(depth int) (List, error) {
	if depth > maxNesting {
		return nil, p.errorf("nested deeper than %d levels", maxNesting)
	}
	n, err := p.containerLen(false)
	if err != nil {
		return nil, err
	}
	l := make(List, 0, min(n, maxPrealloc))
	for i := 0; i < n; i++ {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	return l, nil
}

// skip checks the value at the read position and moves past it without building it. It
// enforces what value would: known format codes, string dict keys, the nesting limit.
func (p *msgpackParser) skip(depth int) error {
	end, err := mpSkip(p.data, p.pos(), depth)
	if err != nil {
		return err
	}
	p.seek(end)
	return nil
}

func mpSkip(data []byte, off int, depth int) (int, error) {
	size, n, ok := mpHeader(data, off)
	if ok && size > len(data)-off {
		ok = false // a scalar cut short
	}
	if !ok {
		if off < len(data) && data[off] == 0xc1 {
			return 0, invalidf("offset %d: invalid format code 0xc1", off)
		}
		return 0, invalidf("offset %d: unexpected end of data", off)
	}
	c := data[off]
	isMap, isArray := mpIsMap(c), mpIsArray(c)
	if !isMap && !isArray {
		if c >= mpFixExt1 && c <= mpFixExt || c >= mpExt8 && c <= mpExt32 {
			return 0, invalidf("offset %d: extension types are not used by WAMP", off)
		}
		if n > uint64(len(data)-off-size) {
			return 0, invalidf("offset %d: unexpected end of data", off)
		}
		return off + size + int(n), nil
	}
	depth++
	if depth > maxNesting {
		return 0, invalidf("offset %d: nested deeper than %d levels", off, maxNesting)
	}
	off += size
	if n > uint64(len(data)-off) {
		return 0, invalidf("offset %d: unexpected end of data", off)
	}
	var err error
	for i := uint64(0); i < n; i++ {
		if isMap {
			if off >= len(data) {
				return 0, invalidf("offset %d: unexpected end of data", off)
			}
			if !mpIsString(data[off]) {
				return 0, invalidf("offset %d: dict key must be a string", off)
			}
			if off, err = mpSkip(data, off, depth); err != nil {
				return 0, err
			}
		}
		if off, err = mpSkip(data, off, depth); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// DecodeMsgPackValue decodes one standalone MessagePack value: lists as List, maps (string
// keys only) as Dict, integers as int64 (uint64 above MaxInt64), floats as float64, bin as
// []byte, str as string.
func DecodeMsgPackValue(data []byte) (any, error) {
	p := msgpackParsers.Get().(*msgpackParser)
	p.reset(data)
	v, err := p.value(0)
	if err == nil && p.rd.Len() != 0 {
		err = p.errorf("unexpected data after the value")
	}
	p.reset(nil)
	msgpackParsers.Put(p)
	if err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	return v, nil
}
