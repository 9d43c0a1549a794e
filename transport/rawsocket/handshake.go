package rawsocket

import (
	"errors"
	"fmt"
	"sync"
)

// magic is the first octet of every RawSocket handshake. No HTTP request starts with it,
// which lets one port serve both (Split).
const magic = 0x7F

// Handshake error codes, in the high nibble of a refusal's second octet.
const (
	// ErrCodeSerializerUnsupported: the router speaks none of the serializer the client asked
	// for.
	ErrCodeSerializerUnsupported = 1
	// ErrCodeMaxLengthUnacceptable: the client's maximum message length is too small for the
	// router.
	ErrCodeMaxLengthUnacceptable = 2
	// ErrCodeReservedBits: the client set bits the protocol reserves (a feature the router
	// does not know).
	ErrCodeReservedBits = 3
	// ErrCodeMaxConnections: the router serves as many connections as it may.
	ErrCodeMaxConnections = 4
)

// HandshakeError is a router's refusal of a handshake, as the client sees it.
type HandshakeError struct {
	Code int
}

func (e *HandshakeError) Error() string {
	switch e.Code {
	case ErrCodeSerializerUnsupported:
		return "rawsocket handshake refused: serializer unsupported"
	case ErrCodeMaxLengthUnacceptable:
		return "rawsocket handshake refused: maximum message length unacceptable"
	case ErrCodeReservedBits:
		return "rawsocket handshake refused: use of reserved bits (unsupported feature)"
	case ErrCodeMaxConnections:
		return "rawsocket handshake refused: maximum connection count reached"
	}
	return fmt.Sprintf("rawsocket handshake refused: error %d", e.Code)
}

// ErrNotRawSocket: the peer's first octet is not RawSocket's magic 0x7F.
var ErrNotRawSocket = errors.New("not a rawsocket handshake (first octet is not 0x7F)")

// The serializer ids of the handshake, each naming a serializer the codec registry in wamp/
// finds by that name.
var serializers = struct {
	sync.RWMutex
	byID   map[byte]string
	byName map[string]byte
}{byID: map[byte]string{}, byName: map[string]byte{}}

func init() {
	RegisterSerializer(1, "json")
	RegisterSerializer(2, "msgpack")
	RegisterSerializer(3, "cbor")
}

// RegisterSerializer makes a handshake serializer id (1 to 15) carry the named serializer.
func RegisterSerializer(id byte, name string) {
	if id == 0 || id > 15 {
		panic(fmt.Sprintf("rawsocket: serializer id %d out of range 1..15", id))
	}
	serializers.Lock()
	defer serializers.Unlock()
	serializers.byID[id] = name
	serializers.byName[name] = id
}

// SerializerName is the serializer a handshake id names, or "".
func SerializerName(id byte) string {
	serializers.RLock()
	defer serializers.RUnlock()
	return serializers.byID[id]
}

// SerializerID is the handshake id of a serializer, or 0.
func SerializerID(name string) byte {
	serializers.RLock()
	defer serializers.RUnlock()
	return serializers.byName[name]
}

// MaxLength is the largest message length RawSocket frames carry: 24 bits.
const MaxLength = 1<<24 - 1

// lengthOf is the maximum message length a handshake's exponent announces: 2^(9+e), which the
// 24-bit frame length caps at MaxLength.
func lengthOf(exp byte) int {
	return min(1<<(9+int(exp)), MaxLength)
}

// exponentFor is the largest exponent announcing no more than size (at least 0: 512 bytes);
// 15, the largest, announces what a frame carries (MaxLength).
func exponentFor(size int) byte {
	var e byte
	for e < 15 && lengthOf(e+1) <= size {
		e++
	}
	return e
}

// hello is a parsed client handshake.
type hello struct {
	serializer byte
	maxLength  int // the client's largest acceptable message
}

// parseHello reads a client's 4 handshake octets. A refusal the router should send comes back
// as a *HandshakeError; ErrNotRawSocket means the router answers nothing and closes.
func parseHello(b [4]byte) (hello, error) {
	if b[0] != magic {
		return hello{}, ErrNotRawSocket
	}
	h := hello{serializer: b[1] & 0x0F, maxLength: lengthOf(b[1] >> 4)}
	if b[2] != 0 || b[3] != 0 {
		return h, &HandshakeError{Code: ErrCodeReservedBits}
	}
	return h, nil
}

// helloOctets is a client's handshake.
func helloOctets(serializer byte, maxLength int) [4]byte {
	return [4]byte{magic, exponentFor(maxLength)<<4 | serializer&0x0F, 0, 0}
}

// acceptOctets is the router's acceptance: its own maximum length and the serializer echoed.
func acceptOctets(serializer byte, maxLength int) [4]byte {
	return helloOctets(serializer, maxLength)
}

// refuseOctets is the router's refusal with an error code.
func refuseOctets(code int) [4]byte {
	return [4]byte{magic, byte(code) << 4, 0, 0}
}

// parseReply reads the router's answer to a client handshake that asked for serializer: the
// router's maximum message length, or its refusal (*HandshakeError).
func parseReply(b [4]byte, serializer byte) (maxLength int, err error) {
	if b[0] != magic {
		return 0, ErrNotRawSocket
	}
	if b[2] != 0 || b[3] != 0 {
		return 0, fmt.Errorf("rawsocket handshake reply uses reserved octets %#x %#x", b[2], b[3])
	}
	if b[1]&0x0F == 0 {
		return 0, &HandshakeError{Code: int(b[1] >> 4)}
	}
	if b[1]&0x0F != serializer {
		return 0, fmt.Errorf("rawsocket handshake reply names serializer %d, not the %d asked for", b[1]&0x0F, serializer)
	}
	return lengthOf(b[1] >> 4), nil
}
