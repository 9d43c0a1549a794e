package wamp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written JSON scanner: the router parses every message, so this avoids
// encoding/json's reflection, and it can skip (validate without building) the payload
// elements that stay raw.
//
// WAMP's binary convention: a JSON string whose first character is U+0000 carries binary data,
// standard base64 after that character. Decoding yields []byte; encoding []byte writes it.

// jsonParser parses JSON values out of data starting at pos.
type jsonParser struct {
	data    []byte
	pos     int
	scratch []byte // reused buffer for unescaping strings
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next byte without consuming it, or 0 at the end of data.
func (p *jsonParser) peek() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return invalidf("offset %d: "+format, append([]any{p.pos}, args...)...)
}

func (p *jsonParser) unexpected(what string) error {
	if p.pos >= len(p.data) {
		return p.errorf("unexpected end of input, expected %s", what)
	}
	return p.errorf("unexpected %q, expected %s", p.data[p.pos], what)
}

// parseValue parses the value at pos (no leading space). depth is the nesting level of the
// value's container.
func (p *jsonParser) parseValue(depth int) (any, error) {
	switch c := p.peek(); {
	case c == '"':
		return p.parseStringValue()
	case c == '{':
		return p.parseDict(depth + 1)
	case c == '[':
		return p.parseList(depth + 1)
	case c == '-' || c >= '0' && c <= '9':
		return p.parseNumber()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.unexpected("a value")
}

// skipValue checks the syntax of the value at pos and moves past it without building it.
func (p *jsonParser) skipValue(depth int) error {
	switch c := p.peek(); {
	case c == '"':
		if bytes.HasPrefix(p.data[p.pos:], binaryPrefix) {
			// Check the base64 too, so that a raw payload that passed can always be decoded.
			_, err := p.parseStringValue()
			return err
		}
		_, err := p.scanString(false)
		return err
	case c == '{', c == '[':
		return p.skipContainer(depth + 1)
	case c == '-' || c >= '0' && c <= '9':
		start := p.pos
		num, shape, err := p.scanNumber()
		// Only a number with an exponent or hundreds of digits can overflow a float64; check
		// those so that a raw payload that passed can always be decoded.
		if err == nil && (shape.exponent || len(num) > 300) {
			if _, perr := strconv.ParseFloat(string(num), 64); perr != nil {
				p.pos = start
				return p.errorf("number %s out of range", num)
			}
		}
		return err
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return p.unexpected("a value")
}

func (p *jsonParser) literal(word string) error {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return p.unexpected(word)
	}
	p.pos += len(word)
	return nil
}

func (p *jsonParser) parseDict(depth int) (Dict, error) {
	if depth > maxNesting {
		return nil, p.errorf("nested deeper than %d levels", maxNesting)
	}
	p.pos++ // '{'
	d := Dict{}
	p.skipSpace()
	if p.peek() == '}' {
		p.pos++
		return d, nil
	}
	for {
		if p.peek() != '"' {
			return nil, p.unexpected("a string key")
		}
		raw, err := p.scanString(true)
		if err != nil {
			return nil, err
		}
		key := dictKey(raw)
		p.skipSpace()
		if p.peek() != ':' {
			return nil, p.unexpected("':'")
		}
		p.pos++
		p.skipSpace()
		v, err := p.parseValue(depth)
		if err != nil {
			return nil, err
		}
		d[key] = v
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipSpace()
		case '}':
			p.pos++
			return d, nil
		default:
			return nil, p.unexpected("',' or '}'")
		}
	}
}

func (p *jsonParser) parseList(depth int) (List, error) {
	if depth > maxNesting {
		return nil, p.errorf("nested deeper than %d levels", maxNesting)
	}
	p.pos++ // '['
	l := List{}
	p.skipSpace()
	if p.peek() == ']' {
		p.pos++
		return l, nil
	}
	for {
		v, err := p.parseValue(depth)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipSpace()
		case ']':
			p.pos++
			return l, nil
		default:
			return nil, p.unexpected("',' or ']'")
		}
	}
}

// skipContainer checks and skips a list or dict.
func (p *jsonParser) skipContainer(depth int) error {
	if depth > maxNesting {
		return p.errorf("nested deeper than %d levels", maxNesting)
	}
	isDict := p.data[p.pos] == '{'
	closer := byte(']')
	if isDict {
		closer = '}'
	}
	p.pos++
	p.skipSpace()
	if p.peek() == closer {
		p.pos++
		return nil
	}
	for {
		if isDict {
			if p.peek() != '"' {
				return p.unexpected("a string key")
			}
			if _, err := p.scanString(false); err != nil {
				return err
			}
			p.skipSpace()
			if p.peek() != ':' {
				return p.unexpected("':'")
			}
			p.pos++
			p.skipSpace()
		}
		if err := p.skipValue(depth); err != nil {
			return err
		}
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipSpace()
		case closer:
			p.pos++
			return nil
		default:
			return p.unexpected(fmt.Sprintf("',' or '%c'", closer))
		}
	}
}

// binaryPrefix starts every binary string: U+0000 can only be written escaped.
var binaryPrefix = []byte(`"\u0000`)

// parseStringValue parses a string, turning the binary convention into []byte.
func (p *jsonParser) parseStringValue() (any, error) {
	raw, err := p.scanString(true)
	if err != nil {
		return nil, err
	}
	if len(raw) > 0 && raw[0] == 0 {
		return decodeJSONBinary(raw[1:])
	}
	return string(raw), nil
}

// decodeJSONBinary decodes the base64 part of a binary string. Padding is optional.
func decodeJSONBinary(b64 []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out := make([]byte, enc.DecodedLen(len(b64)))
	n, err := enc.Decode(out, b64)
	if err != nil {
		return nil, invalidf("binary string is not valid base64")
	}
	return out[:n], nil
}

// scanString checks the string at pos and moves past it. With build, it returns the unescaped
// contents, which alias data or p.scratch and are valid only until the next scan.
func (p *jsonParser) scanString(build bool) ([]byte, error) {
	start := p.pos + 1
	i := start
	// Fast path: no escapes, so the contents are a sub-slice of data.
	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return p.data[start:i], nil
		case c == '\\':
			return p.scanEscapedString(start, i, build)
		case c < 0x20:
			p.pos = i
			return nil, p.errorf("control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(p.data[i:])
			if r == utf8.RuneError && size == 1 {
				p.pos = i
				return nil, p.errorf("invalid UTF-8 in string")
			}
			i += size
		}
	}
	p.pos = i
	return nil, p.errorf("unterminated string")
}

// scanEscapedString continues scanString from the first backslash at i.
func (p *jsonParser) scanEscapedString(start, i int, build bool) ([]byte, error) {
	out := p.scratch[:0]
	if build {
		out = append(out, p.data[start:i]...)
	}
	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			if build {
				p.scratch = out
			}
			return out, nil
		case c == '\\':
			if i+1 >= len(p.data) {
				p.pos = i
				return nil, p.errorf("unterminated escape")
			}
			esc := p.data[i+1]
			i += 2
			var b byte
			switch esc {
			case '"', '\\', '/':
				b = esc
			case 'b':
				b = '\b'
			case 'f':
				b = '\f'
			case 'n':
				b = '\n'
			case 'r':
				b = '\r'
			case 't':
				b = '\t'
			case 'u':
				r, next, err := p.unicodeEscape(i)
				if err != nil {
					return nil, err
				}
				i = next
				if build {
					out = utf8.AppendRune(out, r)
				}
				continue
			default:
				p.pos = i - 1
				return nil, p.errorf("invalid escape '\\%c'", esc)
			}
			if build {
				out = append(out, b)
			}
		case c < 0x20:
			p.pos = i
			return nil, p.errorf("control character in string")
		case c < utf8.RuneSelf:
			if build {
				out = append(out, c)
			}
			i++
		default:
			r, size := utf8.DecodeRune(p.data[i:])
			if r == utf8.RuneError && size == 1 {
				p.pos = i
				return nil, p.errorf("invalid UTF-8 in string")
			}
			if build {
				out = append(out, p.data[i:i+size]...)
			}
			i += size
		}
	}
	p.pos = i
	return nil, p.errorf("unterminated string")
}

// unicodeEscape decodes the XXXX of a \uXXXX escape starting at i, joining a surrogate pair.
// A lone surrogate, which the JSON grammar allows, becomes U+FFFD as in encoding/json.
func (p *jsonParser) unicodeEscape(i int) (rune, int, error) {
	r, ok := hex4(p.data, i)
	if !ok {
		p.pos = i
		return 0, 0, p.errorf("invalid \\u escape")
	}
	i += 4
	if !utf16.IsSurrogate(r) {
		return r, i, nil
	}
	if i+6 <= len(p.data) && p.data[i] == '\\' && p.data[i+1] == 'u' {
		if low, ok := hex4(p.data, i+2); ok {
			if joined := utf16.DecodeRune(r, low); joined != utf8.RuneError {
				return joined, i + 6, nil
			}
		}
	}
	return utf8.RuneError, i, nil
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// numberShape says what a scanned number contains beyond its integer digits.
type numberShape struct {
	fraction, exponent bool
}

func (n numberShape) integer() bool { return !n.fraction && !n.exponent }

// scanNumber checks the number grammar at pos and moves past it, returning its bytes.
func (p *jsonParser) scanNumber() ([]byte, numberShape, error) {
	var shape numberShape
	start := p.pos
	i := p.pos
	if i < len(p.data) && p.data[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(p.data) && p.data[i] >= '0' && p.data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(p.data) && p.data[i] == '0':
		i++
	case digits() == 0:
		p.pos = i
		return nil, shape, p.unexpected("a digit")
	}
	if i < len(p.data) && p.data[i] == '.' {
		shape.fraction = true
		i++
		if digits() == 0 {
			p.pos = i
			return nil, shape, p.unexpected("a digit after '.'")
		}
	}
	if i < len(p.data) && (p.data[i] == 'e' || p.data[i] == 'E') {
		shape.exponent = true
		i++
		if i < len(p.data) && (p.data[i] == '+' || p.data[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.pos = i
			return nil, shape, p.unexpected("a digit in the exponent")
		}
	}
	p.pos = i
	return p.data[start:i], shape, nil
}

// parseNumber returns int64, uint64 (only above MaxInt64) or float64.
func (p *jsonParser) parseNumber() (any, error) {
	start := p.pos
	num, shape, err := p.scanNumber()
	if err != nil {
		return nil, err
	}
	if shape.integer() {
		neg := num[0] == '-'
		digits := num
		if neg {
			digits = num[1:]
		}
		if u, ok := parseUintDigits(digits); ok {
			switch {
			case !neg && u <= math.MaxInt64:
				return int64(u), nil
			case !neg:
				return u, nil
			case u <= 1<<63:
				return -int64(u), nil
			}
		}
		// Too large for 64 bits: fall through to a float, as JavaScript would.
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		p.pos = start
		return nil, p.errorf("number %s out of range", num)
	}
	return f, nil
}

// parseUintDigits parses decimal digits into a uint64, reporting overflow.
func parseUintDigits(digits []byte) (uint64, bool) {
	var u uint64
	for _, c := range digits {
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

// DecodeJSONValue parses one standalone JSON value: lists as List, dicts as Dict, numbers as
// int64 (uint64 above MaxInt64, float64 with a fraction or exponent), "\u0000"-strings as []byte.
func DecodeJSONValue(data []byte) (any, error) {
	p := jsonParser{data: data}
	p.skipSpace()
	v, err := p.parseValue(0)
	if err == nil {
		p.skipSpace()
		if p.pos != len(data) {
			err = p.errorf("unexpected data after the value")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	return v, nil
}
