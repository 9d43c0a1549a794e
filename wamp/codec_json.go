package wamp

import (
	"fmt"
	"strconv"
	"sync"
)

// JSON is the "wamp.2.json" codec. Messages go in text frames.
var JSON Codec = &jsonCodec{}

func init() { RegisterCodec(JSON) }

type jsonCodec struct{}

func (*jsonCodec) Name() string { return "json" }
func (*jsonCodec) Binary() bool { return false }

// DecodeValue parses one encoded value, as held in a RawPayload.
func (*jsonCodec) DecodeValue(data []byte) (any, error) { return DecodeJSONValue(data) }

// EncodeValue appends the JSON encoding of v (see ValueEncoder).
func (*jsonCodec) EncodeValue(dst []byte, v any) ([]byte, error) {
	return appendJSONValue(dst, v, 0)
}

// Readers and writers are pooled: they go through the elementReader/elementWriter interfaces
// and would otherwise be allocated for every message.
var (
	jsonReaders = sync.Pool{New: func() any { return new(jsonReader) }}
	jsonWriters = sync.Pool{New: func() any { return new(jsonWriter) }}
)

// Decode parses one message. Payload elements are checked but kept raw: sub-slices of data.
func (c *jsonCodec) Decode(data []byte) (Message, error) {
	r := jsonReaders.Get().(*jsonReader)
	r.reset(data)
	m, err := decodeMessage("json", r)
	r.reset(nil)
	jsonReaders.Put(r)
	return m, err
}

// Encode appends the JSON encoding of m to dst. Raw JSON payloads are spliced verbatim.
func (c *jsonCodec) Encode(dst []byte, m Message) ([]byte, error) {
	w := jsonWriters.Get().(*jsonWriter)
	if dst == nil {
		dst = make([]byte, 0, encodeHint(m))
	}
	*w = jsonWriter{buf: dst}
	encodeElements(m, w)
	out, err := w.buf, w.e
	*w = jsonWriter{}
	jsonWriters.Put(w)
	if err != nil {
		return dst, fmt.Errorf("json: encode %v: %w", typeOf(m), err)
	}
	return append(out, ']'), nil
}

// jsonReader reads the elements of one JSON message array.
type jsonReader struct {
	jsonParser
	typeRead bool // the message type element has been read
	e        error
}

func (r *jsonReader) reset(data []byte) {
	scratch := r.scratch[:0] // keep the unescape buffer across messages, unless it grew big
	if cap(scratch) > 64<<10 {
		scratch = nil
	}
	*r = jsonReader{}
	r.data, r.scratch = data, scratch
}

func (r *jsonReader) fail(err error) {
	if r.e == nil {
		r.e = err
	}
}

func (r *jsonReader) err() error { return r.e }

// begin reads the opening bracket and the message type.
// typeWasRead reports whether the message type element was read (for error messages).
func (r *jsonReader) typeWasRead() bool { return r.typeRead }

func (r *jsonReader) begin() MessageType {
	r.skipSpace()
	if r.peek() != '[' {
		r.fail(r.unexpected("'[' starting a message array"))
		return 0
	}
	r.pos++
	r.skipSpace()
	num, shape, err := r.scanNumber()
	if err != nil || !shape.integer() || num[0] == '-' {
		r.fail(invalidf("message type must be a non-negative integer"))
		return 0
	}
	n, ok := parseUintDigits(num)
	if !ok || n > 0xffff || MessageType(n).String() == "UNKNOWN" {
		r.fail(invalidf("unknown message type %s", num))
		return 0
	}
	r.typeRead = true
	return MessageType(n)
}

// finish checks that the array closes and nothing follows it.
func (r *jsonReader) finish() {
	r.skipSpace()
	switch r.peek() {
	case ']':
	case ',':
		r.fail(invalidf("too many elements"))
		return
	default:
		r.fail(r.unexpected("']' closing the message"))
		return
	}
	r.pos++
	r.skipSpace()
	if r.pos != len(r.data) {
		r.fail(r.errorf("unexpected data after the message"))
	}
}

func (r *jsonReader) more() bool {
	if r.e != nil {
		return false
	}
	r.skipSpace()
	return r.pos < len(r.data) && r.data[r.pos] != ']'
}

// next moves to the start of the next element, failing if there is none.
func (r *jsonReader) next(field string) bool {
	if r.e != nil {
		return false
	}
	r.skipSpace()
	switch r.peek() {
	case ',':
		r.pos++
		r.skipSpace()
		if r.pos < len(r.data) {
			return true
		}
	case ']':
		r.fail(invalidf("missing %s: too few elements", field))
		return false
	case 0:
		if r.pos >= len(r.data) {
			r.fail(r.errorf("missing %s: unexpected end of input", field))
			return false
		}
	}
	r.fail(r.unexpected("',' before " + field))
	return false
}

func (r *jsonReader) id(field string, min ID) ID {
	if !r.next(field) {
		return 0
	}
	num, shape, err := r.scanNumber()
	if err != nil || !shape.integer() || num[0] == '-' {
		r.fail(invalidf("%s must be an integer in %d..2^53", field, min))
		return 0
	}
	n, ok := parseUintDigits(num)
	if !ok || n < uint64(min) || n > MaxID {
		r.fail(invalidf("%s %s out of range %d..2^53", field, num, min))
		return 0
	}
	return ID(n)
}

func (r *jsonReader) text(field string) string {
	if !r.next(field) {
		return ""
	}
	if r.peek() != '"' {
		r.fail(invalidf("%s must be a string", field))
		return ""
	}
	raw, err := r.scanString(true)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return ""
	}
	return string(raw)
}

func (r *jsonReader) dict(field string) Dict {
	if !r.next(field) {
		return nil
	}
	if r.peek() != '{' {
		r.fail(invalidf("%s must be a dict", field))
		return nil
	}
	d, err := r.parseDict(2)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return nil
	}
	return d
}

// arguments keeps a list raw after checking it; a binary string (payload passthru) is decoded
// right away, since its value is the whole point and the check needs the decoding anyway.
func (r *jsonReader) arguments(field string, p *Payload) {
	if !r.next(field) {
		return
	}
	start := r.pos
	switch r.peek() {
	case '[':
		if err := r.skipContainer(2); err != nil {
			r.fail(fmt.Errorf("%s: %w", field, err))
			return
		}
	case '"':
		v, err := r.parseStringValue()
		if err != nil {
			r.fail(fmt.Errorf("%s: %w", field, err))
			return
		}
		b, ok := v.([]byte)
		if !ok {
			r.fail(invalidf("%s must be a list or a binary value, not a string", field))
			return
		}
		p.Opaque = b
		p.decoded = true
	default:
		r.fail(invalidf("%s must be a list", field))
		return
	}
	p.Raw = RawPayload{Codec: JSON, Args: r.data[start:r.pos:r.pos]}
}

func (r *jsonReader) keywordArguments(field string, p *Payload) {
	if !r.next(field) {
		return
	}
	if r.peek() != '{' {
		r.fail(invalidf("%s must be a dict", field))
		return
	}
	start := r.pos
	if err := r.skipContainer(2); err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return
	}
	p.Raw.Kwargs = r.data[start:r.pos:r.pos]
}

// jsonWriter writes a JSON message array into buf; Encode adds the closing bracket.
type jsonWriter struct {
	buf   []byte
	count int // elements written so far
	e     error
}

func (w *jsonWriter) fail(err error) {
	if w.e == nil {
		w.e = err
	}
}

func (w *jsonWriter) err() error { return w.e }

func (w *jsonWriter) begin(int) { w.buf = append(w.buf, '[') }

// sep writes the comma before every element but the first.
func (w *jsonWriter) sep() bool {
	if w.e != nil {
		return false
	}
	if w.count > 0 {
		w.buf = append(w.buf, ',')
	}
	w.count++
	return true
}

func (w *jsonWriter) uint(v uint64) {
	if w.sep() {
		w.buf = strconv.AppendUint(w.buf, v, 10)
	}
}

func (w *jsonWriter) text(s string) {
	if w.sep() {
		w.buf = appendJSONString(w.buf, s)
	}
}

func (w *jsonWriter) dict(d Dict) {
	if w.sep() {
		var err error
		if w.buf, err = appendJSONDict(w.buf, d, 2); err != nil {
			w.fail(err)
		}
	}
}

func (w *jsonWriter) list(l List) {
	if w.sep() {
		var err error
		if w.buf, err = appendJSONList(w.buf, l, 2); err != nil {
			w.fail(err)
		}
	}
}

func (w *jsonWriter) binary(b []byte) {
	if w.sep() {
		w.buf = appendJSONBinary(w.buf, b)
	}
}

func (w *jsonWriter) raw(b []byte) {
	if w.sep() {
		w.buf = append(w.buf, b...)
	}
}

func (w *jsonWriter) spliceable(c Codec) bool {
	_, ok := c.(*jsonCodec)
	return ok
}
