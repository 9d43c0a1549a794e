package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// How a batched subprotocol wraps each WAMP message inside a WebSocket message.
const (
	framingNone      uint8 = iota // one WAMP message per WebSocket message
	framingPrefix                 // binary: a 4-octet big-endian length, then the message
	framingSeparator              // text: the message, then the byte 0x18
)

// batchSeparator follows every message of a text batch (wamp.2.json.batched).
var batchSeparator = []byte{0x18}

// maxBatchMessage bounds the WebSocket messages the writer builds from queued frames of a
// batched subprotocol: a burst goes out in messages of at most this size (a single larger
// frame goes alone), so that a client's receive buffer never has to hold a whole queue.
const maxBatchMessage = 256 << 10

func framingOf(sp subprotocol) uint8 {
	switch {
	case !sp.batched:
		return framingNone
	case sp.binary:
		return framingPrefix
	default:
		return framingSeparator
	}
}

func putLength(b []byte, n int) { binary.BigEndian.PutUint32(b, uint32(n)) }

// framedLen is the size of frame once wrapped.
func framedLen(framing uint8, n int) int {
	switch framing {
	case framingPrefix:
		return n + 4
	case framingSeparator:
		return n + 1
	}
	return n
}

// errBatch: a batched WebSocket message does not split into whole WAMP messages.
var errBatch = errors.New("malformed batch")

// splitBatch appends the WAMP messages one batched WebSocket message carries to dst. The
// messages share msg's bytes.
func splitBatch(dst [][]byte, msg []byte, framing uint8) ([][]byte, error) {
	switch framing {
	case framingSeparator:
		// Every message is followed by the separator: what follows the last one is empty.
		for len(msg) > 0 {
			i := bytes.IndexByte(msg, batchSeparator[0])
			if i < 0 {
				return dst, errBatch
			}
			dst = append(dst, msg[:i:i])
			msg = msg[i+1:]
		}
	case framingPrefix:
		for len(msg) > 0 {
			if len(msg) < 4 {
				return dst, errBatch
			}
			n := binary.BigEndian.Uint32(msg)
			if uint64(n) > uint64(len(msg)-4) {
				return dst, errBatch
			}
			dst = append(dst, msg[4:4+n:4+n])
			msg = msg[4+n:]
		}
	}
	if len(dst) == 0 {
		return dst, errBatch
	}
	return dst, nil
}
