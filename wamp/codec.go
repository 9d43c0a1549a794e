package wamp

import (
	"errors"
)

// Codec converts between typed messages and one serialization's wire bytes.
// Implementations are stateless and safe for concurrent use.
type Codec interface {
	// Name is the serializer name: "json", "msgpack".
	Name() string
	// Subprotocol is the WebSocket subprotocol: "wamp.2.json".
	Subprotocol() string
	// Binary says whether frames of this codec go in binary WebSocket frames.
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

var codecs = map[string]Codec{}

// RegisterCodec makes a codec known by its subprotocol. The built-in codecs register themselves.
func RegisterCodec(c Codec) { codecs[c.Subprotocol()] = c }

// CodecFor returns the codec of a WebSocket subprotocol such as "wamp.2.json".
func CodecFor(subprotocol string) (Codec, bool) {
	c, ok := codecs[subprotocol]
	return c, ok
}

// CodecNamed returns the codec with the given serializer name ("json", "msgpack").
func CodecNamed(name string) (Codec, bool) {
	for _, c := range codecs {
		if c.Name() == name {
			return c, true
		}
	}
	return nil, false
}

// Subprotocols lists the subprotocols of the given codecs, in order of preference.
func Subprotocols(cs ...Codec) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Subprotocol()
	}
	return out
}
