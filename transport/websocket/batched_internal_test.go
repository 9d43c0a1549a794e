package websocket

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// TestBatchedWritesOneMessagePerBurst pins the writer's layout for a batched subprotocol:
// the frames queued for a peer go out as one WebSocket message, each wrapped as Autobahn
// reads it (followed by 0x18 in text, preceded by its length in binary), and a burst larger
// than maxBatchMessage is split between whole frames.
func TestBatchedWritesOneMessagePerBurst(t *testing.T) {
	frames := [][]byte{[]byte(`[36,1,2,{}]`), []byte(`[36,1,3,{}]`), []byte(`[36,1,4,{}]`)}
	t.Run("json", func(t *testing.T) {
		c := &Conn{framing: framingSeparator, wr: &connWriter{}}
		c.frameIovecs(frames, nil, false)
		payload := "[36,1,2,{}]\x18[36,1,3,{}]\x18[36,1,4,{}]\x18"
		want := append([]byte{0x81, byte(len(payload))}, payload...)
		if got := bytes.Join(c.wr.iov, nil); !bytes.Equal(got, want) {
			t.Fatalf("wrote %q, want %q", got, want)
		}
	})
	t.Run("binary", func(t *testing.T) {
		c := &Conn{framing: framingPrefix, wr: &connWriter{}}
		c.frameIovecs(frames, nil, true)
		var want []byte
		for _, f := range frames {
			want = binary.BigEndian.AppendUint32(want, uint32(len(f)))
			want = append(want, f...)
		}
		want = append([]byte{0x82, byte(len(want))}, want...)
		if got := bytes.Join(c.wr.iov, nil); !bytes.Equal(got, want) {
			t.Fatalf("wrote %x, want %x", got, want)
		}
	})
	t.Run("split at the bound", func(t *testing.T) {
		big := []byte(strings.Repeat("x", maxBatchMessage/2))
		c := &Conn{framing: framingSeparator, wr: &connWriter{}}
		c.frameIovecs([][]byte{big, big, frames[0]}, nil, false)
		msgs := splitWire(t, bytes.Join(c.wr.iov, nil))
		if len(msgs) != 2 || len(msgs[0]) != len(big)+1 || len(msgs[1]) != len(big)+1+len(frames[0])+1 {
			t.Fatalf("got %d messages", len(msgs))
		}
	})
	t.Run("compressed frames go alone", func(t *testing.T) {
		z := compressedFrame(frames[1], framingSeparator, 1)
		c := &Conn{framing: framingSeparator, deflate: &DeflateOptions{}, wr: &connWriter{compBatch: []bool{false, true, false}}}
		c.frameIovecs([][]byte{frames[0], z, frames[2]}, nil, false)
		wire := bytes.Join(c.wr.iov, nil)
		if msgs := splitWire(t, wire); len(msgs) != 3 {
			t.Fatalf("got %d messages, want 3", len(msgs))
		}
		if wire[0] != 0x81 || wire[2+len(frames[0])+1] != 0x81|rsv1 {
			t.Fatalf("RSV1 wrong: %x", wire)
		}
		inflated, err := decompressMessage(z, 1<<20)
		if err != nil || string(inflated) != string(frames[1])+"\x18" {
			t.Fatalf("compressed frame inflates to %q (%v)", inflated, err)
		}
	})
}

// splitWire parses unmasked server frames (short lengths only) into payloads.
func splitWire(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		n, off := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, off = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, off = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		out = append(out, b[off:off+n])
		b = b[off+n:]
	}
	return out
}

// TestSplitBatch pins how a batched message is read: Autobahn|Python's framing, and a clear
// error for anything else.
func TestSplitBatch(t *testing.T) {
	msgs, err := splitBatch(nil, []byte("[1]\x18[2]\x18"), framingSeparator)
	if err != nil || len(msgs) != 2 || string(msgs[0]) != "[1]" || string(msgs[1]) != "[2]" {
		t.Fatalf("json: %q %v", msgs, err)
	}
	msgs, err = splitBatch(nil, []byte{0, 0, 0, 1, 0x91, 0, 0, 0, 2, 0x92, 0x01}, framingPrefix)
	if err != nil || len(msgs) != 2 || len(msgs[0]) != 1 || len(msgs[1]) != 2 {
		t.Fatalf("binary: %x %v", msgs, err)
	}
	for _, bad := range []struct {
		msg     string
		framing uint8
	}{
		{"[1]", framingSeparator},                // no separator after the last
		{"", framingSeparator},                   // nothing
		{"\x00\x00\x00\x05ab", framingPrefix},    // shorter than announced
		{"\x00\x00", framingPrefix},              // a cut length
		{"\x00\x00\x00\x01a\x00", framingPrefix}, // trailing bytes
	} {
		if _, err := splitBatch(nil, []byte(bad.msg), bad.framing); err == nil {
			t.Errorf("%q accepted", bad.msg)
		}
	}
}

// TestFanoutFrameCompressedOnce pins the deflate memo: every recipient of one fan-out frame
// gets the same compressed bytes, and only the first send compresses (allocates).
func TestFanoutFrameCompressedOnce(t *testing.T) {
	frame := []byte(strings.Repeat(`[36,1,2,{},["hello"]]`, 20))
	first := compressedFrame(frame, framingNone, 1)
	allocs := testing.AllocsPerRun(100, func() {
		if z := compressedFrame(frame, framingNone, 1); &z[0] != &first[0] {
			t.Fatal("compressed again")
		}
	})
	if allocs != 0 {
		t.Errorf("a recipient after the first allocates %v", allocs)
	}
	if z := compressedFrame(frame, framingPrefix, 1); &z[0] == &first[0] {
		t.Error("the batched framing shares the plain one's compressed bytes")
	}
}
