package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/pawl-wamp/pawl/transport/internal/sockio"
)

// frameReader reads the bytes a client sends: masked WebSocket frames (RFC 6455 section 5).
// Its buffer is borrowed from a pool only while bytes are pending: on a plain TCP connection an
// idle reader waits for readability holding no buffer, so idle connections cost no read
// memory. Only the connection's owner goroutine uses it.
type frameReader struct {
	sockio.ReadBuffer // the bytes read, and the wait for more (which flushes the outbox)
	// progress, when set, is called after each read of a frame's payload from the socket:
	// bytes are flowing, so the keepalive deadline moves on.
	progress func()
}

// frameHeader is one frame's header, as read from the wire.
type frameHeader struct {
	fin    bool
	rsv    byte
	opcode byte
	masked bool
	length int64
	mask   [4]byte
}

// Opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0
	opText         = 1
	opBinary       = 2
	opClose        = 8
	opPing         = 9
	opPong         = 10
)

func newFrameReader(nc net.Conn, size int, out *sockio.Outbox) *frameReader {
	fr := &frameReader{}
	fr.Init(nc, sockio.RawConnOf(nc), size, out)
	return fr
}

// header reads the next frame header.
func (fr *frameReader) header() (frameHeader, error) {
	if err := fr.Ensure(2); err != nil {
		return frameHeader{}, err
	}
	b := (*fr.Buf)[fr.R:]
	h := frameHeader{fin: b[0]&0x80 != 0, rsv: b[0] & 0x70, opcode: b[0] & 0x0f, masked: b[1]&0x80 != 0}
	size := 2
	switch n := b[1] & 0x7f; n {
	case 126:
		size += 2
	case 127:
		size += 8
	default:
		h.length = int64(n)
	}
	if h.masked {
		size += 4
	}
	if err := fr.Ensure(size); err != nil {
		return frameHeader{}, err
	}
	b = (*fr.Buf)[fr.R:]
	off := 2
	switch b[1] & 0x7f {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		off = 4
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return frameHeader{}, errFrameLength
		}
		h.length = int64(u)
		off = 10
	}
	if h.masked {
		copy(h.mask[:], b[off:off+4])
	}
	fr.R += size
	return h, nil
}

var errFrameLength = errors.New("frame length has its most significant bit set")

// payload appends the frame's payload, unmasked, to dst, and returns it. The slice grows as
// bytes arrive, not by what the header announces: a peer that claims a large frame and sends
// little holds little memory. A frame continuing a message (dst not empty) grows dst's
// capacity geometrically, so a message in many small fragments is copied O(log n) times, not
// once per fragment; limit caps that growth. text, when not nil, checks the UTF-8 of the
// message so far as each read's bytes arrive, and the frame fails with errInvalidUTF8 as soon
// as they break it.
func (fr *frameReader) payload(dst []byte, h frameHeader, limit int, text *utf8Stream) ([]byte, error) {
	start := len(dst)
	total := start + int(h.length)
	buffered := 0
	if fr.Buf != nil {
		buffered = fr.W - fr.R
	}
	if start == 0 && total <= buffered {
		// The whole frame is here, starting a message: the common case, in one piece.
		dst = growLen(dst, total)
		fr.R += copy(dst, (*fr.Buf)[fr.R:fr.R+total])
		if h.masked {
			maskBytesAt(h.mask, dst, 0)
		}
		if text != nil && !text.feed(dst) {
			return nil, errInvalidUTF8
		}
		return dst, nil
	}
	return fr.payloadInPieces(dst, h, limit, text)
}

// payloadInPieces is payload for a frame that continues a message or has not all arrived:
// the buffer grows as its bytes do.
func (fr *frameReader) payloadInPieces(dst []byte, h frameHeader, limit int, text *utf8Stream) ([]byte, error) {
	start := len(dst)
	total := start + int(h.length)
	buffered := 0
	if fr.Buf != nil {
		buffered = fr.W - fr.R
	}
	want := min(total, start+max(payloadChunk, buffered))
	if start > 0 && cap(dst) < want {
		dst = growCap(dst, max(want, min(2*cap(dst), limit)))
	}
	dst = growLen(dst, want)
	pos := start
	if buffered > 0 {
		n := copy(dst[pos:], (*fr.Buf)[fr.R:fr.W])
		fr.R += n
		if !arrived(dst, h, start, pos, pos+n, text) {
			return nil, errInvalidUTF8
		}
		pos += n
	}
	for pos < total {
		if pos == len(dst) {
			dst = growLen(dst, min(total, 2*len(dst)))
		}
		n, err := fr.Src.Read(dst[pos:])
		if n > 0 {
			if !arrived(dst, h, start, pos, pos+n, text) {
				return nil, errInvalidUTF8
			}
			pos += n
			if fr.progress != nil {
				fr.progress()
			}
		}
		if err != nil && pos < total {
			if fr.Deadline != nil && errors.Is(err, os.ErrDeadlineExceeded) && fr.Deadline.ReadDeadlinePassed() {
				continue
			}
			return nil, fmt.Errorf("read: %w", err)
		}
	}
	return dst, nil
}

// arrived unmasks the payload bytes dst[from:to] of a frame whose payload starts at start,
// and checks the text so far when text is not nil.
func arrived(dst []byte, h frameHeader, start, from, to int, text *utf8Stream) bool {
	if h.masked {
		maskBytesAt(h.mask, dst[from:to], from-start)
	}
	return text == nil || text.feed(dst[:to])
}

// errInvalidUTF8: a text message's bytes so far are not valid UTF-8 (close 1007).
var errInvalidUTF8 = errors.New("text message is not valid UTF-8")

// payloadChunk is how much a payload slice grows by before its bytes arrive: a header that
// announces a large frame pins no more than this until the bytes come (issue 17, finding 9);
// then the slice doubles as they do.
const payloadChunk = 1 << 10

// growLen returns b with length n (≥ len(b)), keeping its bytes.
func growLen(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	grown := make([]byte, n)
	copy(grown, b)
	return grown
}

// growCap returns b with capacity at least c, keeping its bytes and length.
func growCap(b []byte, c int) []byte {
	if cap(b) >= c {
		return b
	}
	grown := make([]byte, len(b), c)
	copy(grown, b)
	return grown
}

// utf8Stream checks a text message's UTF-8 as it arrives, in fragments and in reads of any
// size: a code point split between two reads (or two frames) is fine, a byte that can begin
// no valid sequence fails at once. Bytes up to checked are whole valid code points; what
// follows is at most the valid beginning of one.
type utf8Stream struct {
	checked int
}

// feed checks msg, the message so far, past what was checked before.
func (s *utf8Stream) feed(msg []byte) bool {
	end := len(msg)
	cut := end
	// An incomplete code point at the end starts at most UTFMax-1 bytes back (none when the
	// message so far ends in ASCII). FullRune is false only for the valid beginning of a
	// sequence; an invalid one counts as complete, and Valid rejects it.
	if end > 0 && msg[end-1] >= utf8.RuneSelf {
		for j := end - 1; j >= s.checked && j > end-utf8.UTFMax; j-- {
			if msg[j]&0xc0 != 0x80 {
				if !utf8.FullRune(msg[j:end]) {
					cut = j
				}
				break
			}
		}
	}
	if !utf8.Valid(msg[s.checked:cut]) {
		return false
	}
	s.checked = cut
	return true
}

// complete reports whether the whole message is valid: nothing is left half a code point.
func (s *utf8Stream) complete(msg []byte) bool { return s.checked == len(msg) }

// maskBytesAt applies the client's masking key (RFC 6455 section 5.3) to bytes of a frame's
// payload that start at offset off in it, eight bytes at a time.
func maskBytesAt(key [4]byte, b []byte, off int) {
	if r := off & 3; r != 0 {
		key = [4]byte{key[r], key[(r+1)&3], key[(r+2)&3], key[(r+3)&3]}
	}
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// readFrames returns the next whole message a client sent, answering pings and the peer's
// close on the way. A frame that breaks RFC 6455 closes the connection with 1002 (1007 for
// text that is not UTF-8, as soon as the bytes that break it arrive; 1009 past MaxMessageSize
// or MaxFragments), like gorilla's reader would.
func (c *Conn) readFrames() (binary bool, data []byte, err error) {
	var msg []byte
	var text utf8Stream
	inMessage := false
	compressed := false // the message's first frame had RSV1 (permessage-deflate)
	fragments := 0
	for {
		h, err := c.fr.header()
		if err != nil {
			if errors.Is(err, errFrameLength) {
				return false, nil, c.readFailed(CloseProtocolError, err.Error())
			}
			return false, nil, err
		}
		switch {
		case h.rsv == rsv1 && c.deflate != nil:
			// RFC 7692 section 6: only a message's first frame says it is compressed.
			if h.opcode >= opClose || h.opcode == opContinuation {
				return false, nil, c.readFailed(CloseProtocolError, "RSV1 set on a control or continuation frame")
			}
		case h.rsv != 0:
			return false, nil, c.readFailed(CloseProtocolError, "reserved bits set, no extension was negotiated")
		case !h.masked:
			return false, nil, c.readFailed(CloseProtocolError, "client frame not masked")
		}
		if h.opcode >= opClose {
			if !h.fin || h.length > 125 {
				return false, nil, c.readFailed(CloseProtocolError, "control frame fragmented or longer than 125 bytes")
			}
			payload, err := c.fr.payload(nil, h, 125, nil)
			if err != nil {
				return false, nil, err
			}
			switch h.opcode {
			case opPing:
				c.queuePong(payload)
			case opPong:
			case opClose:
				return false, nil, c.closeFrame(payload)
			default:
				return false, nil, c.readFailed(CloseProtocolError, fmt.Sprintf("unknown control opcode %d", h.opcode))
			}
			c.extendReadDeadline()
			if !inMessage && c.parks && c.fr.Pending() == 0 {
				// A ping or pong alone: back to the message boundary, where a reader
				// that has nothing more to read parks at once.
				c.parkAtOnce = true
				return false, nil, errNoMessage
			}
			continue
		}
		switch h.opcode {
		case opContinuation:
			if !inMessage {
				return false, nil, c.readFailed(CloseProtocolError, "continuation frame without a message")
			}
		case opText, opBinary:
			if inMessage {
				return false, nil, c.readFailed(CloseProtocolError, "new message inside a fragmented one")
			}
			inMessage, binary = true, h.opcode == opBinary
			compressed = h.rsv == rsv1
		default:
			return false, nil, c.readFailed(CloseProtocolError, fmt.Sprintf("unknown data opcode %d", h.opcode))
		}
		if int64(len(msg))+h.length > c.opts.MaxMessageSize {
			return false, nil, c.tooBig()
		}
		if fragments++; c.opts.MaxFragments > 0 && fragments > c.opts.MaxFragments {
			return false, nil, c.tooManyFragments()
		}
		check := &text
		if binary || compressed {
			check = nil // compressed text is checked once inflated
		}
		if msg, err = c.fr.payload(msg, h, int(c.opts.MaxMessageSize), check); err != nil {
			if errors.Is(err, errInvalidUTF8) {
				return false, nil, c.readFailed(CloseInvalidPayload, err.Error())
			}
			return false, nil, err
		}
		if !h.fin {
			c.extendReadDeadlineSoon() // a long message keeps coming: not a dead peer
			continue
		}
		if compressed {
			if msg, err = decompressMessage(msg, c.opts.MaxMessageSize); err != nil {
				if errors.Is(err, errDecompressedTooBig) {
					return false, nil, c.tooBig()
				}
				return false, nil, c.readFailed(CloseInvalidPayload, err.Error())
			}
			if !binary && !text.feed(msg) {
				return false, nil, c.readFailed(CloseInvalidPayload, errInvalidUTF8.Error())
			}
		}
		if !binary && !text.complete(msg) {
			return false, nil, c.readFailed(CloseInvalidPayload, "text message ends inside a UTF-8 sequence")
		}
		c.extendReadDeadline()
		if msg == nil {
			msg = []byte{}
		}
		return binary, msg, nil
	}
}

// closeFrame handles the peer's close frame: a valid one is answered and ends reading with a
// *websocket.CloseError, as gorilla reports it; an invalid one is a protocol error.
func (c *Conn) closeFrame(payload []byte) error {
	code, text := websocket.CloseNoStatusReceived, ""
	switch {
	case len(payload) == 1:
		return c.readFailed(CloseProtocolError, "close frame with a 1-byte payload")
	case len(payload) >= 2:
		code, text = int(binary.BigEndian.Uint16(payload)), string(payload[2:])
		if !validCloseCode(code) {
			return c.readFailed(CloseProtocolError, fmt.Sprintf("invalid close code %d", code))
		}
		if !utf8.ValidString(text) {
			return c.readFailed(CloseInvalidPayload, "close reason is not valid UTF-8")
		}
	}
	c.peerClosed(code, text)
	return &websocket.CloseError{Code: code, Text: text}
}

// validCloseCode: the codes a peer may send (RFC 6455 section 7.4 and the IANA registry).
func validCloseCode(code int) bool {
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

// readFailed closes the connection for a peer that broke the protocol and returns the error
// that ends reading.
func (c *Conn) readFailed(code int, reason string) error {
	c.Close(code, reason)
	return fmt.Errorf("%w: %s", ErrProtocol, reason)
}

// ErrProtocol: the peer sent frames that break RFC 6455; the connection is closed.
var ErrProtocol = errors.New("websocket protocol error")

// tooManyFragments closes the connection for a message in more than MaxFragments frames
// (1009: too big to process, counted in frames rather than bytes).
func (c *Conn) tooManyFragments() error {
	reason := fmt.Sprintf("%s: a message exceeded %d fragments", ReasonTooManyFragments, c.opts.MaxFragments)
	c.Close(CloseMessageTooBig, reason)
	return fmt.Errorf("%w: %s", websocket.ErrReadLimit, reason)
}

// tooBig closes the connection for a message past MaxMessageSize (1009).
func (c *Conn) tooBig() error {
	LimitStats.MessagesTooBig.Add(1)
	reason := fmt.Sprintf("%s: a message exceeded %d bytes", ReasonMessageTooBig, c.opts.MaxMessageSize)
	c.Close(CloseMessageTooBig, reason)
	return fmt.Errorf("%w: %s", websocket.ErrReadLimit, reason)
}
