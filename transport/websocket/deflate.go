package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// DeflateOptions configure permessage-deflate (RFC 7692) on a server. The zero value is off.
//
// Pawl always negotiates server_no_context_takeover and client_no_context_takeover: every
// message is compressed on its own, so one compressed event is shared by every subscriber
// (compressed once per frame, never once per recipient), and no connection keeps compressor
// or decompressor state between messages. The flate writers and readers are pooled and held
// only while a message is being compressed or decompressed: an idle connection holds no
// compression memory, however many there are. A decompressed message is bounded by
// MaxMessageSize, counted on the decompressed bytes. The server's window is 15 bits (Go's
// compress/flate); an offer that asks the server for a smaller one (server_max_window_bits)
// is declined, and the connection goes on uncompressed.
type DeflateOptions struct {
	// Enabled accepts permessage-deflate when a client offers it.
	Enabled bool
	// MinSize is the smallest message worth compressing, in bytes (default 128): smaller
	// ones go uncompressed, which the extension allows per message.
	MinSize int
	// Level is the compress/flate level (default flate.BestSpeed).
	Level int
}

// DefaultDeflateMinSize is DeflateOptions.MinSize's default.
const DefaultDeflateMinSize = 128

func (o DeflateOptions) withDefaults() DeflateOptions {
	if o.MinSize <= 0 {
		o.MinSize = DefaultDeflateMinSize
	}
	if o.Level == 0 || o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression {
		o.Level = flate.BestSpeed
	}
	return o
}

// acceptsDeflate reports whether the request offers permessage-deflate with parameters the
// server can honour with both sides' context takeover off (the answer gorilla's upgrader
// sends): an offer with server_max_window_bits, an unknown or repeated parameter, or a
// malformed value is declined (RFC 7692 section 5), and the next offer is considered.
func acceptsDeflate(r *http.Request) bool {
	for _, header := range r.Header.Values("Sec-WebSocket-Extensions") {
		for _, offer := range strings.Split(header, ",") {
			if deflateOfferAcceptable(offer) {
				return true
			}
		}
	}
	return false
}

func deflateOfferAcceptable(offer string) bool {
	parts := strings.Split(offer, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		return false
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		name, value, hasValue := strings.Cut(strings.TrimSpace(p), "=")
		name = strings.TrimSpace(name)
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if seen[name] {
			return false
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasValue {
				return false
			}
		case "client_max_window_bits":
			// The client may use any window: the server decompresses with 15 bits.
			if hasValue && !validWindowBits(value) {
				return false
			}
		default: // server_max_window_bits (the server always uses 15), or unknown
			return false
		}
	}
	return true
}

func validWindowBits(v string) bool {
	switch v {
	case "8", "9", "10", "11", "12", "13", "14", "15":
		return true
	}
	return false
}

// deflateTail ends every flushed deflate stream; RFC 7692 section 7.2.1 leaves it off the
// wire, and the reader appends it again.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

var flateWriters [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

// compressMessage compresses one whole message (parts, concatenated) on its own, with no
// context from earlier messages. It allocates the result, sized to fit.
func compressMessage(level int, parts ...[]byte) []byte {
	pool := &flateWriters[level-flate.HuffmanOnly]
	var buf bytes.Buffer
	w, _ := pool.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriter(&buf, level) // level is checked by withDefaults
	} else {
		w.Reset(&buf)
	}
	for _, p := range parts {
		w.Write(p) // a bytes.Buffer does not fail
	}
	w.Flush()
	w.Reset(io.Discard) // the pooled writer keeps no reference to buf
	pool.Put(w)
	b := buf.Bytes()
	b = b[:len(b)-len(deflateTail)]
	return append(make([]byte, 0, len(b)), b...)
}

type flateReader struct {
	src  bytes.Reader
	tail bytes.Reader
	mr   multiReader
	fr   io.ReadCloser
}

// multiReader reads the message's bytes, then the deflate tail, without io.MultiReader's
// allocations.
type multiReader struct{ a, b *bytes.Reader }

func (m *multiReader) Read(p []byte) (int, error) {
	if m.a.Len() > 0 {
		return m.a.Read(p)
	}
	return m.b.Read(p)
}

var flateReaders sync.Pool

// errDecompressedTooBig: a compressed message inflates past MaxMessageSize.
var errDecompressedTooBig = errors.New("decompressed message too big")

// errBadDeflate: a compressed message is not a valid deflate stream.
var errBadDeflate = errors.New("invalid compressed message")

// decompressMessage inflates one message compressed on its own, stopping as soon as it
// would exceed limit bytes: a small message that inflates to gigabytes is cut off at the
// limit, never held whole.
func decompressMessage(compressed []byte, limit int64) ([]byte, error) {
	r, _ := flateReaders.Get().(*flateReader)
	if r == nil {
		r = &flateReader{}
	}
	r.src.Reset(compressed)
	r.tail.Reset(deflateTail)
	r.mr = multiReader{a: &r.src, b: &r.tail}
	if r.fr == nil {
		r.fr = flate.NewReader(&r.mr)
	} else {
		r.fr.(flate.Resetter).Reset(&r.mr, nil)
	}
	out := make([]byte, 0, min(int64(4*len(compressed)+64), limit+1))
	for int64(len(out)) <= limit {
		if len(out) == cap(out) {
			out = slices.Grow(out, len(out))
		}
		n, err := r.fr.Read(out[len(out):int(min(int64(cap(out)), limit+1))])
		out = out[:len(out)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF && r.src.Len() == 0 && r.tail.Len() == 0 {
			// The stream ends at the tail (a sync flush, no final block): all of it is out.
			break
		}
		if err != nil {
			r.src.Reset(nil)
			flateReaders.Put(r)
			return nil, errBadDeflate
		}
	}
	r.src.Reset(nil)
	flateReaders.Put(r)
	if int64(len(out)) > limit {
		return nil, errDecompressedTooBig
	}
	return out, nil
}

// The compressed-frame memo: a fan-out frame is compressed once, by the first recipient's
// send, and every other recipient's send finds it here. Frames are immutable once sent
// (peer.Peer's contract), and an entry holds its frame, so a frame's address names it for
// as long as the entry lives. Entries are replaced, never freed by hand: a slot holds the
// most recent frame that hashed to it.
type deflateMemoEntry struct {
	frame      []byte // the uncompressed frame (kept alive: its address is the key)
	framing    uint8  // how the frame was wrapped before compressing (batched prefix/suffix)
	level      int
	compressed []byte
}

// The memo's slots: deflateMemoSlots for frames up to deflateMemoSmall bytes, and
// deflateMemoLargeSlots for larger ones, so that what the memo keeps alive is bounded:
// 256 × 64 KiB, plus 4 frames of up to MaxMessageSize (and their compressed forms) —
// however many large messages a peer publishes.
const (
	deflateMemoSlots      = 256
	deflateMemoSmall      = 64 << 10
	deflateMemoLargeSlots = 4
)

var (
	deflateMemo      [deflateMemoSlots]atomic.Pointer[deflateMemoEntry]
	deflateMemoLarge [deflateMemoLargeSlots]atomic.Pointer[deflateMemoEntry]
)

// compressedFrame returns frame, wrapped by framing and compressed at level, compressing it
// only if no earlier send of the same frame did.
func compressedFrame(frame []byte, framing uint8, level int) []byte {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(frame)))
	h := p>>4 ^ p>>12
	slot := &deflateMemo[h%deflateMemoSlots]
	if len(frame) > deflateMemoSmall {
		slot = &deflateMemoLarge[h%deflateMemoLargeSlots]
	}
	if e := slot.Load(); e != nil && unsafe.SliceData(e.frame) == unsafe.SliceData(frame) &&
		len(e.frame) == len(frame) && e.framing == framing && e.level == level {
		return e.compressed
	}
	e := &deflateMemoEntry{frame: frame, framing: framing, level: level}
	e.compressed = compressFramed(frame, framing, level)
	slot.Store(e)
	return e.compressed
}

// compressFramed compresses frame wrapped as a batched subprotocol wraps it.
func compressFramed(frame []byte, framing uint8, level int) []byte {
	switch framing {
	case framingPrefix:
		var n [4]byte
		putLength(n[:], len(frame))
		return compressMessage(level, n[:], frame)
	case framingSeparator:
		return compressMessage(level, frame, batchSeparator)
	}
	return compressMessage(level, frame)
}
