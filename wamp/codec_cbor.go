package wamp

import (
	"fmt"
	"sync"
)

// CBOR is the "cbor" codec (RFC 8949): WebSocket subprotocol wamp.2.cbor, RawSocket
// serializer 3. Its encoding is binary. Binary values are
// byte strings; integers stay integers (int64, and uint64 above MaxInt64), as in the other
// codecs, so a value converted between JSON, MessagePack and CBOR keeps its type.
var CBOR Codec = &cborCodec{}

func init() { RegisterCodec(CBOR) }

type cborCodec struct{}

func (*cborCodec) Name() string { return "cbor" }
func (*cborCodec) Binary() bool { return true }

// DecodeValue parses one encoded value, as held in a RawPayload.
func (*cborCodec) DecodeValue(data []byte) (any, error) { return DecodeCBORValue(data) }

// EncodeValue appends the CBOR encoding of v (see ValueEncoder).
func (*cborCodec) EncodeValue(dst []byte, v any) ([]byte, error) {
	out, err := appendCBORValue(dst, v, 0)
	if err != nil {
		return dst, fmt.Errorf("cbor: %w", err)
	}
	return out, nil
}

// Readers and writers go through the element interfaces; pooling them keeps a message's
// decode or encode free of setup allocations.
var (
	cborReaders = sync.Pool{New: func() any { return new(cborReader) }}
	cborWriters = sync.Pool{New: func() any { return new(cborWriter) }}
)

// Decode parses one message. Payload elements are checked but kept raw: sub-slices of data.
func (c *cborCodec) Decode(data []byte) (Message, error) {
	if err := checkCBORWellformed(data); err != nil {
		return nil, fmt.Errorf("cbor: decode message: %w", err)
	}
	r := cborReaders.Get().(*cborReader)
	*r = cborReader{cborParser: cborParser{data: data}}
	m, err := decodeMessage("cbor", r)
	*r = cborReader{}
	cborReaders.Put(r)
	return m, err
}

// Encode appends the CBOR encoding of m to dst. Raw CBOR payloads are spliced verbatim.
func (c *cborCodec) Encode(dst []byte, m Message) ([]byte, error) {
	w := cborWriters.Get().(*cborWriter)
	if dst == nil {
		dst = make([]byte, 0, encodeHint(m))
	}
	*w = cborWriter{buf: dst}
	encodeElements(m, w)
	out, err := w.buf, w.e
	*w = cborWriter{}
	cborWriters.Put(w)
	if err != nil {
		return dst, fmt.Errorf("cbor: encode %v: %w", typeOf(m), err)
	}
	return out, nil
}

// cborReader reads the elements of one CBOR message array (definite or indefinite length).
type cborReader struct {
	cborParser
	remaining  int  // elements of a definite message array not yet read
	indefinite bool // the message array ends with a break instead
	typeRead   bool
	e          error
}

func (r *cborReader) fail(err error) {
	if r.e == nil {
		r.e = err
	}
}

func (r *cborReader) err() error { return r.e }

// typeWasRead reports whether the message type element was read (for error messages).
func (r *cborReader) typeWasRead() bool { return r.typeRead }

// begin reads the array head and the message type.
func (r *cborReader) begin() MessageType {
	major, arg, indefinite, err := r.head()
	if err != nil {
		r.fail(err)
		return 0
	}
	if major != cborArray {
		r.fail(invalidf("message must be an array, not major type %d", major))
		return 0
	}
	if !indefinite {
		n, err := r.length(arg, 1)
		if err != nil {
			r.fail(err)
			return 0
		}
		r.remaining = n
	}
	r.indefinite = indefinite
	if !r.more() {
		r.fail(invalidf("empty message array"))
		return 0
	}
	r.claim()
	major, t, _, err := r.head()
	if err != nil {
		r.fail(err)
		return 0
	}
	if major != cborUnsigned {
		r.fail(invalidf("message type must be a non-negative integer"))
		return 0
	}
	if t > 0xffff || MessageType(t).String() == "UNKNOWN" {
		r.fail(invalidf("unknown message type %d", t))
		return 0
	}
	r.typeRead = true
	return MessageType(t)
}

// finish checks that no element is left over and nothing follows the array.
func (r *cborReader) finish() {
	if r.more() {
		r.fail(invalidf("too many elements"))
		return
	}
	if r.indefinite {
		r.pos++ // the break, which more has seen
	}
	if r.pos != len(r.data) {
		r.fail(r.errorf("unexpected data after the message"))
	}
}

func (r *cborReader) more() bool {
	if r.e != nil {
		return false
	}
	if r.indefinite {
		return r.pos < len(r.data) && !r.atBreak()
	}
	return r.remaining > 0
}

// claim counts one element of a definite message array as read.
func (r *cborReader) claim() {
	if !r.indefinite {
		r.remaining--
	}
}

// next claims the next element and returns its major type.
func (r *cborReader) next(field string) (byte, bool) {
	if r.e != nil {
		return 0, false
	}
	if !r.more() {
		r.fail(invalidf("missing %s: too few elements", field))
		return 0, false
	}
	r.claim()
	major, ok := r.peek()
	if !ok {
		r.fail(fmt.Errorf("%s: %w", field, r.truncated()))
	}
	return major, ok
}

func (r *cborReader) id(field string, min ID) ID {
	major, ok := r.next(field)
	if !ok {
		return 0
	}
	if major != cborUnsigned {
		r.fail(invalidf("%s must be an integer in %d..2^53", field, min))
		return 0
	}
	_, n, _, err := r.head()
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return 0
	}
	if n < uint64(min) || n > MaxID {
		r.fail(invalidf("%s %d out of range %d..2^53", field, n, min))
		return 0
	}
	return ID(n)
}

func (r *cborReader) text(field string) string {
	major, ok := r.next(field)
	if !ok {
		return ""
	}
	if major != cborText {
		r.fail(invalidf("%s must be a string", field))
		return ""
	}
	_, arg, indefinite, err := r.head()
	if err == nil {
		var b []byte
		if b, err = r.cborParser.text(arg, indefinite); err == nil {
			return string(b)
		}
	}
	r.fail(fmt.Errorf("%s: %w", field, err))
	return ""
}

func (r *cborReader) dict(field string) Dict {
	major, ok := r.next(field)
	if !ok {
		return nil
	}
	if major != cborMap {
		r.fail(invalidf("%s must be a dict", field))
		return nil
	}
	_, arg, indefinite, err := r.head()
	var d Dict
	if err == nil {
		d, err = r.cborParser.dict(2, arg, indefinite)
	}
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return nil
	}
	return d
}

// arguments keeps a list raw after checking it; a byte string (payload passthru) becomes
// Opaque, a sub-slice of the input like the raw bytes themselves (joined chunks when the
// sender used an indefinite-length string).
func (r *cborReader) arguments(field string, p *Payload) {
	major, ok := r.next(field)
	if !ok {
		return
	}
	start := r.pos
	switch major {
	case cborArray:
		if err := r.skip(1); err != nil {
			r.fail(fmt.Errorf("%s: %w", field, err))
			return
		}
	case cborBytes:
		_, arg, indefinite, err := r.head()
		var b []byte
		if err == nil {
			b, _, err = r.stringBody(cborBytes, arg, indefinite)
		}
		if err != nil {
			r.fail(fmt.Errorf("%s: %w", field, err))
			return
		}
		p.Opaque = b
		p.decoded = true
	default:
		r.fail(invalidf("%s must be a list or a binary value", field))
		return
	}
	end := r.pos
	p.Raw = RawPayload{Codec: CBOR, Args: r.data[start:end:end]}
}

func (r *cborReader) keywordArguments(field string, p *Payload) {
	major, ok := r.next(field)
	if !ok {
		return
	}
	if major != cborMap {
		r.fail(invalidf("%s must be a dict", field))
		return
	}
	start := r.pos
	if err := r.skip(1); err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return
	}
	end := r.pos
	p.Raw.Kwargs = r.data[start:end:end]
}

// cborWriter writes a CBOR message array into buf.
type cborWriter struct {
	buf []byte
	e   error
}

func (w *cborWriter) fail(err error) {
	if w.e == nil {
		w.e = err
	}
}

func (w *cborWriter) err() error { return w.e }

func (w *cborWriter) begin(n int) { w.buf = appendCBORHead(w.buf, cborArray, uint64(n)) }

func (w *cborWriter) uint(v uint64) {
	if w.e == nil {
		w.buf = appendCBORHead(w.buf, cborUnsigned, v)
	}
}

func (w *cborWriter) text(s string) {
	if w.e == nil {
		w.buf = appendCBORText(w.buf, s)
	}
}

func (w *cborWriter) dict(d Dict) {
	if w.e == nil {
		var err error
		if w.buf, err = appendCBORDict(w.buf, d, 2); err != nil {
			w.fail(err)
		}
	}
}

func (w *cborWriter) list(l List) {
	if w.e == nil {
		var err error
		if w.buf, err = appendCBORList(w.buf, l, 2); err != nil {
			w.fail(err)
		}
	}
}

func (w *cborWriter) binary(b []byte) {
	if w.e == nil {
		w.buf = appendCBORBytes(w.buf, b)
	}
}

func (w *cborWriter) raw(b []byte) {
	if w.e == nil {
		w.buf = append(w.buf, b...)
	}
}

func (w *cborWriter) spliceable(c Codec) bool {
	_, ok := c.(*cborCodec)
	return ok
}
