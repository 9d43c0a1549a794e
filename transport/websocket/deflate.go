package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	gorilla "github.com/gorilla/websocket"
)

// DeflateOptions configure permessage-deflate (RFC 7692) on a server. The zero value is off.
// On a dialer (Dial), Enabled offers it, with both sides' context takeover off, and MinSize
// and Level apply to what the client sends; the window settings are the server's.
//
// Pawl always negotiates server_no_context_takeover and client_no_context_takeover: every
// message is compressed on its own, so one compressed event is shared by every subscriber
// (compressed once per frame, never once per recipient), and no connection keeps compressor
// or decompressor state between messages. The flate writers and readers are pooled and held
// only while a message is being compressed or decompressed: an idle connection holds no
// compression memory, however many there are, and the compression memory of the whole server
// is bounded by the goroutines compressing or inflating at once: about 1.2 MB per flate
// writer at level 1 (0.8 MB at the others) and 40 KB per reader. A decompressed message is bounded by MaxMessageSize, counted on the
// decompressed bytes.
//
// Window bits: Go's compress/flate always compresses with a 32 KiB (15-bit) window, except
// at flate.HuffmanOnly, which emits no back-references at all and so fits any window. A
// connection whose server window is below 15 bits (ServerMaxWindowBits, or the client's own
// server_max_window_bits) is compressed Huffman-only: valid for the window agreed, less
// compact than LZ77, and cheaper in CPU.
type DeflateOptions struct {
	// Enabled accepts permessage-deflate when a client offers it (a dialer: offers it).
	Enabled bool
	// MinSize is the smallest message worth compressing, in bytes (default 128): smaller
	// ones go uncompressed, which the extension allows per message.
	MinSize int
	// Level is the compress/flate level (default flate.BestSpeed) of connections whose
	// server window is 15 bits.
	Level int
	// ServerMaxWindowBits is the largest LZ77 window the server compresses with, as a power
	// of two: 8 to 15 (default 15). Below 15 every connection is compressed Huffman-only,
	// and the answer says server_max_window_bits=N, so that a client may inflate with a
	// 2^N-byte window (a small device's memory). A client that asks for a smaller window
	// (server_max_window_bits in its offer) gets it, whatever this says.
	ServerMaxWindowBits int
	// ClientMaxWindowBits is the LZ77 window the server asks clients to compress with, 8 to
	// 15 (default 15: no request). It is sent as client_max_window_bits to clients whose
	// offer says they can honour it (browsers and Node's ws do), and bounds the memory
	// their compressor needs. The server's own inflater keeps Go's 32 KiB window whatever
	// this is (pooled, held only while a message is inflated), so this does not change the
	// server's memory.
	ClientMaxWindowBits int
}

// DefaultDeflateMinSize is DeflateOptions.MinSize's default.
const DefaultDeflateMinSize = 128

// maxWindowBits is the largest LZ77 window (32 KiB) RFC 7692 allows, and Go's.
const maxWindowBits = 15

func (o DeflateOptions) withDefaults() DeflateOptions {
	if o.MinSize <= 0 {
		o.MinSize = DefaultDeflateMinSize
	}
	if o.Level == 0 || o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression {
		o.Level = flate.BestSpeed
	}
	if o.ServerMaxWindowBits < 8 || o.ServerMaxWindowBits > maxWindowBits {
		o.ServerMaxWindowBits = maxWindowBits
	}
	if o.ClientMaxWindowBits < 8 || o.ClientMaxWindowBits > maxWindowBits {
		o.ClientMaxWindowBits = maxWindowBits
	}
	return o
}

// deflateAgreement is the server's answer to the permessage-deflate offer it accepts.
type deflateAgreement struct {
	response string // the Sec-WebSocket-Extensions value of the 101 response
	huffman  bool   // the server's window is below 15 bits: compress Huffman-only
}

// negotiateDeflate picks the first permessage-deflate offer in the request the server can
// honour with both sides' context takeover off: an offer with an unknown or repeated
// parameter or a malformed value is declined (RFC 7692 section 5), and the next offer is
// considered.
func negotiateDeflate(r *http.Request, o *DeflateOptions) (deflateAgreement, bool) {
	for _, header := range r.Header.Values("Sec-WebSocket-Extensions") {
		for _, offer := range strings.Split(header, ",") {
			if a, ok := agreeDeflate(offer, o); ok {
				return a, true
			}
		}
	}
	return deflateAgreement{}, false
}

func agreeDeflate(offer string, o *DeflateOptions) (deflateAgreement, bool) {
	parts := strings.Split(offer, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		return deflateAgreement{}, false
	}
	serverBits := o.ServerMaxWindowBits
	serverAsked := false // the offer has server_max_window_bits: the answer must have it
	clientBits := 0      // the window the client offers to limit itself to (0: it cannot)
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		name, value, hasValue := strings.Cut(strings.TrimSpace(p), "=")
		name = strings.TrimSpace(name)
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if seen[name] {
			return deflateAgreement{}, false
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasValue {
				return deflateAgreement{}, false
			}
		case "server_max_window_bits": // section 7.1.2.1: a value is required
			bits, ok := windowBits(value)
			if !hasValue || !ok {
				return deflateAgreement{}, false
			}
			serverBits, serverAsked = min(serverBits, bits), true
		case "client_max_window_bits": // section 7.1.2.2: the value is optional
			clientBits = maxWindowBits
			if hasValue {
				bits, ok := windowBits(value)
				if !ok {
					return deflateAgreement{}, false
				}
				clientBits = bits
			}
		default:
			return deflateAgreement{}, false
		}
	}
	response := "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	if serverAsked || serverBits < maxWindowBits {
		response += "; server_max_window_bits=" + strconv.Itoa(serverBits)
	}
	if clientBits > 0 && o.ClientMaxWindowBits < clientBits {
		response += "; client_max_window_bits=" + strconv.Itoa(o.ClientMaxWindowBits)
	}
	return deflateAgreement{response: response, huffman: serverBits < maxWindowBits}, true
}

// windowBits parses a window-bits value: 8 to 15, decimal digits only (RFC 7692 section
// 7.1.2).
func windowBits(v string) (int, bool) {
	switch v {
	case "8", "9", "10", "11", "12", "13", "14", "15":
		n, _ := strconv.Atoi(v)
		return n, true
	}
	return 0, false
}

// upgradeDeflating answers r's handshake with u, accepting permessage-deflate as d allows
// when the client offers it. Gorilla writes the response; its own permessage-deflate answer
// is fixed (no window bits), so u has compression off and the answer Pawl negotiated goes in
// the response header. Gorilla refuses a header named by its canonical key
// ("Sec-Websocket-Extensions"), there to stop an application claiming an extension
// gorilla's framing would not apply; Pawl does the framing itself, so the answer is set
// under the spelling RFC 6455 uses, which gorilla writes as it is.
// TestDeflateWindowBitsNegotiation pins the answers on the wire.
func upgradeDeflating(u *gorilla.Upgrader, w http.ResponseWriter, r *http.Request, d *DeflateOptions) (*gorilla.Conn, deflateAgreement, bool, error) {
	var header http.Header
	a, deflate := deflateAgreement{}, false
	if d.Enabled {
		a, deflate = negotiateDeflate(r, d)
	}
	if deflate {
		header = http.Header{}
		header["Sec-WebSocket-Extensions"] = []string{a.response}
	}
	ws, err := u.Upgrade(w, r, header)
	return ws, a, deflate, err
}

// Deflated reports whether permessage-deflate was negotiated on the connection.
func (c *Conn) Deflated() bool { return c.deflate != nil || c.ws != nil && c.opts.Deflate.Enabled }

// deflateExtension is Details.Extensions of a connection that negotiated permessage-deflate.
var deflateExtension = []string{"permessage-deflate"}

// useDeflate turns permessage-deflate on for a server connection, as agreed.
func (c *Conn) useDeflate(a deflateAgreement) {
	c.deflate = &c.opts.Deflate
	if a.huffman {
		// A copy of this connection's own: the options are shared with the server's other
		// connections.
		d := *c.deflate
		d.Level = flate.HuffmanOnly
		c.deflate = &d
	}
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
