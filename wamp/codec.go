package wamp

import (
	"errors"
)

// Codec converts between typed messages and one serialization's wire bytes.
// Implementations are stateless and safe for concurrent use.
type Codec interface {
	// Name is the serializer name: "json", "msgpack". Codecs are found by it (CodecNamed);
	// each transport maps its own negotiation (a WebSocket subprotocol, a RawSocket
	// serializer id) onto it.
	Name() string
	// Binary says whether the encoding is binary data rather than UTF-8 text (WebSocket
	// sends it in binary frames).
	Binary() bool
	// Encode appends the encoding of m to dst.
	Encode(dst []byte, m Message) ([]byte, error)
	// Decode parses one whole message. The returned message may keep references into data
	// (raw payloads), so data must not be reused afterwards.
	Decode(data []byte) (Message, error)
	// DecodeValue parses one encoded value, as held in a RawPayload.
	DecodeValue(data []byte) (any, error)
}

// ErrInvalid marks input that is not a valid WAMP message: a protocol violation.
var ErrInvalid = errors.New("invalid message")

// codecs is the registry, by serializer name. Codecs register in init, before any lookup, so
// reads need no lock.
var codecs = map[string]Codec{}

// RegisterCodec makes a codec known by its serializer name, replacing one of the same name.
// Call it from an init function: the registry is read without a lock. The built-in codecs
// register themselves.
func RegisterCodec(c Codec) { codecs[c.Name()] = c }

// CodecNamed returns the codec with the given serializer name ("json", "msgpack").
func CodecNamed(name string) (Codec, bool) {
	c, ok := codecs[name]
	return c, ok
}

// CodecNames lists the names of the given codecs, in order.
func CodecNames(cs ...Codec) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name()
	}
	return out
}
