package wamp

import (
	"fmt"
	"sync"
)

// MsgPack is the "wamp.2.msgpack" codec. Messages go in binary frames.
var MsgPack Codec = &msgpackCodec{}

func init() { RegisterCodec(MsgPack) }

type msgpackCodec struct{}

func (*msgpackCodec) Name() string { return "msgpack" }
func (*msgpackCodec) Binary() bool { return true }

// DecodeValue parses one encoded value, as held in a RawPayload.
func (*msgpackCodec) DecodeValue(data []byte) (any, error) { return DecodeMsgPackValue(data) }

// EncodeValue appends the MessagePack encoding of v (see ValueEncoder).
func (*msgpackCodec) EncodeValue(dst []byte, v any) ([]byte, error) {
	w := msgpackWriters.Get().(*msgpackWriter)
	w.out.b = dst
	err := w.value(v, 0)
	out := w.out.b
	w.release()
	if err != nil {
		return dst, fmt.Errorf("msgpack: %w", err)
	}
	return out, nil
}

// Parsers, readers and writers hold a library Decoder or Encoder and go through the element
// interfaces; pooling them keeps a message's decode or encode free of setup allocations.
var (
	msgpackParsers = sync.Pool{New: func() any { return newMsgpackParser() }}
	msgpackReaders = sync.Pool{New: func() any { return &msgpackReader{msgpackParser: newMsgpackParser()} }}
	msgpackWriters = sync.Pool{New: func() any { return &msgpackWriter{msgpackEncoder: newMsgpackEncoder()} }}
)

// Decode parses one message. Payload elements are checked but kept raw: sub-slices of data.
func (c *msgpackCodec) Decode(data []byte) (Message, error) {
	r := msgpackReaders.Get().(*msgpackReader)
	r.start(data)
	m, err := decodeMessage("msgpack", r)
	r.start(nil)
	msgpackReaders.Put(r)
	return m, err
}

// Encode appends the MessagePack encoding of m to dst. Raw MessagePack payloads are spliced
// verbatim. Integers take their smallest form: the message type 16 is the single byte 0x10.
func (c *msgpackCodec) Encode(dst []byte, m Message) ([]byte, error) {
	w := msgpackWriters.Get().(*msgpackWriter)
	if dst == nil {
		dst = make([]byte, 0, encodeHint(m))
	}
	w.out.b = dst
	encodeElements(m, w)
	out, err := w.out.b, w.e
	w.release()
	if err != nil {
		return dst, fmt.Errorf("msgpack: encode %v: %w", typeOf(m), err)
	}
	return out, nil
}

// msgpackReader reads the elements of one MessagePack message array.
type msgpackReader struct {
	*msgpackParser
	remaining int // elements of the message array not yet read
	typeRead  bool
	e         error
}

func (r *msgpackReader) start(data []byte) {
	r.reset(data)
	r.remaining, r.typeRead, r.e = 0, false, nil
}

func (r *msgpackReader) fail(err error) {
	if r.e == nil {
		r.e = err
	}
}

func (r *msgpackReader) err() error { return r.e }

// begin reads the array header and the message type.
// typeWasRead reports whether the message type element was read (for error messages).
func (r *msgpackReader) typeWasRead() bool { return r.typeRead }

func (r *msgpackReader) begin() MessageType {
	c, err := r.peek()
	if err != nil {
		r.fail(err)
		return 0
	}
	if !mpIsArray(c) {
		r.fail(r.errorf("message must be an array, not format 0x%02x", c))
		return 0
	}
	n, err := r.containerLen(false)
	if err != nil {
		r.fail(err)
		return 0
	}
	if n == 0 {
		r.fail(invalidf("empty message array"))
		return 0
	}
	r.remaining = n - 1
	if c, err = r.peek(); err != nil {
		r.fail(err)
		return 0
	}
	if !mpIsUnsigned(c) && !mpIsSigned(c) {
		r.fail(invalidf("message type must be an integer"))
		return 0
	}
	t, err := r.dec.DecodeInt64()
	if err != nil {
		r.fail(r.truncated())
		return 0
	}
	if t < 0 || t > 0xffff || MessageType(t).String() == "UNKNOWN" {
		r.fail(invalidf("unknown message type %d", t))
		return 0
	}
	r.typeRead = true
	return MessageType(t)
}

// finish checks that no element is left over and nothing follows the array.
func (r *msgpackReader) finish() {
	if r.remaining > 0 {
		r.fail(invalidf("too many elements"))
		return
	}
	if r.rd.Len() != 0 {
		r.fail(r.errorf("unexpected data after the message"))
	}
}

func (r *msgpackReader) more() bool { return r.e == nil && r.remaining > 0 }

// next claims the next element and returns its format code.
func (r *msgpackReader) next(field string) (byte, bool) {
	if r.e != nil {
		return 0, false
	}
	if r.remaining == 0 {
		r.fail(invalidf("missing %s: too few elements", field))
		return 0, false
	}
	r.remaining--
	c, err := r.peek()
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return 0, false
	}
	return c, true
}

func (r *msgpackReader) id(field string, min ID) ID {
	c, ok := r.next(field)
	if !ok {
		return 0
	}
	var n uint64
	switch {
	case mpIsUnsigned(c):
		u, err := r.dec.DecodeUint64()
		if err != nil {
			r.fail(fmt.Errorf("%s: %w", field, r.truncated()))
			return 0
		}
		n = u
	case mpIsSigned(c):
		i, err := r.dec.DecodeInt64()
		if err != nil {
			r.fail(fmt.Errorf("%s: %w", field, r.truncated()))
			return 0
		}
		if i < 0 {
			r.fail(invalidf("%s %d out of range %d..2^53", field, i, min))
			return 0
		}
		n = uint64(i)
	default:
		r.fail(invalidf("%s must be an integer in %d..2^53", field, min))
		return 0
	}
	if n < uint64(min) || n > MaxID {
		r.fail(invalidf("%s %d out of range %d..2^53", field, n, min))
		return 0
	}
	return ID(n)
}

func (r *msgpackReader) text(field string) string {
	c, ok := r.next(field)
	if !ok {
		return ""
	}
	if !mpIsString(c) {
		r.fail(invalidf("%s must be a string", field))
		return ""
	}
	b, err := r.bytesBody()
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return ""
	}
	return string(b)
}

func (r *msgpackReader) dict(field string) Dict {
	c, ok := r.next(field)
	if !ok {
		return nil
	}
	if !mpIsMap(c) {
		r.fail(invalidf("%s must be a dict", field))
		return nil
	}
	d, err := r.msgpackParser.dict(2)
	if err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return nil
	}
	return d
}

// arguments keeps a list raw after checking it; a bin (payload passthru) becomes Opaque, a
// sub-slice of the input like the raw bytes themselves.
func (r *msgpackReader) arguments(field string, p *Payload) {
	c, ok := r.next(field)
	if !ok {
		return
	}
	start := r.pos()
	switch {
	case mpIsArray(c):
		if err := r.skip(1); err != nil {
			r.fail(fmt.Errorf("%s: %w", field, err))
			return
		}
	case mpIsBin(c):
		b, err := r.bytesBody()
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
	end := r.pos()
	p.Raw = RawPayload{Codec: MsgPack, Args: r.data[start:end:end]}
}

func (r *msgpackReader) keywordArguments(field string, p *Payload) {
	c, ok := r.next(field)
	if !ok {
		return
	}
	if !mpIsMap(c) {
		r.fail(invalidf("%s must be a dict", field))
		return
	}
	start := r.pos()
	if err := r.skip(1); err != nil {
		r.fail(fmt.Errorf("%s: %w", field, err))
		return
	}
	end := r.pos()
	p.Raw.Kwargs = r.data[start:end:end]
}

// msgpackWriter writes a MessagePack message array.
type msgpackWriter struct {
	*msgpackEncoder
	e error
}

func (w *msgpackWriter) release() {
	w.out.b, w.e = nil, nil
	msgpackWriters.Put(w)
}

func (w *msgpackWriter) fail(err error) {
	if w.e == nil {
		w.e = err
	}
}

func (w *msgpackWriter) err() error { return w.e }

func (w *msgpackWriter) begin(n int) { _ = w.enc.EncodeArrayLen(n) }

func (w *msgpackWriter) uint(v uint64) {
	if w.e == nil {
		_ = w.enc.EncodeUint(v)
	}
}

func (w *msgpackWriter) text(s string) {
	if w.e == nil {
		w.check(w.str(s))
	}
}

func (w *msgpackWriter) dict(d Dict) {
	if w.e == nil {
		w.check(w.msgpackEncoder.dict(d, 2))
	}
}

func (w *msgpackWriter) list(l List) {
	if w.e == nil {
		w.check(w.msgpackEncoder.list(l, 2))
	}
}

func (w *msgpackWriter) binary(b []byte) {
	if w.e == nil {
		w.check(w.bin(b))
	}
}

func (w *msgpackWriter) raw(b []byte) {
	if w.e == nil {
		w.out.b = append(w.out.b, b...)
	}
}

func (w *msgpackWriter) check(err error) {
	if err != nil {
		w.fail(err)
	}
}

func (w *msgpackWriter) spliceable(c Codec) bool {
	_, ok := c.(*msgpackCodec)
	return ok
}
