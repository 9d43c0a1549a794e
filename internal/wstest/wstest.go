// Package wstest helps tests speak WebSocket by hand: frames built byte by byte, to send
// what a well-behaved client library never would (the WebSocket engine's tests in
// transport/websocket and the RFC 6455 tests in transport/wsapp share it), and Wire, which
// counts what a connection costs on the wire (the permessage-deflate tests).
package wstest

import "encoding/binary"

// RawFrame builds a client frame by hand: fin, rsv bits, opcode, masked or not.
func RawFrame(fin bool, rsv, opcode byte, masked bool, payload []byte) []byte {
	b0 := opcode | rsv<<4
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, maskBit|byte(n))
	case n <= 0xFFFF:
		out = append(out, maskBit|126, byte(n>>8), byte(n))
	default:
		out = binary.BigEndian.AppendUint64(append(out, maskBit|127), uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, payload...)
	body := out[start:]
	k := uint64(binary.LittleEndian.Uint32(key[:])) * 0x100000001 // the key twice
	i := 0
	for ; i+8 <= len(body); i += 8 { // eight bytes at a time: tests send megabytes
		binary.LittleEndian.PutUint64(body[i:], binary.LittleEndian.Uint64(body[i:])^k)
	}
	for ; i < len(body); i++ {
		body[i] ^= key[i%4]
	}
	return out
}
