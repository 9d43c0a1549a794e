package websocket

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// completable reports whether some continuation of prefix is valid UTF-8 (brute force over
// up to three continuation bytes at the edges of every range the second byte may take).
func completable(prefix []byte) bool {
	if utf8.Valid(prefix) {
		return true
	}
	edges := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	var try func(b []byte, left int) bool
	try = func(b []byte, left int) bool {
		if utf8.Valid(b) {
			return true
		}
		if left == 0 {
			return false
		}
		for _, e := range edges {
			if try(append(b[:len(b):len(b)], e), left-1) {
				return true
			}
		}
		return false
	}
	return try(prefix, 3)
}

// The streaming UTF-8 check fails exactly when the bytes so far can no longer become valid
// UTF-8 (fail fast, never early), whatever the pieces they arrive in, and accepts a whole
// message exactly when utf8.Valid does.
func TestUTF8StreamFailsFastNeverEarly(t *testing.T) {
	corpus := []string{
		"", "plain ascii", "Hello-µ@ßöäüàá-UTF-8!!", "κόσμε", "\xf0\x9f\x98\x80 emoji", "\xf4\x8f\xbf\xbf",
		"\xef\xbf\xbe", "\xed\x9f\xbf\xee\x80\x80", "a\xc2\x80b\xdf\xbf", "\xe0\xa0\x80\xe0\xbf\xbf",
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", "\x80", "ok\xff", "\xc0\xaf",
		"\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80", "\xed\xa0\x80", "\xe2\x82",
		"ab\xf0\x9f\x98", "\xc3(", "\xe2\x28\xa1", "\xf0\x28\x8c\xbc", "\xf8\x88\x80\x80\x80",
	}
	for _, s := range corpus {
		msg := []byte(s)
		// Byte by byte: the check fails at the first prefix that cannot be completed.
		var st utf8Stream
		failedAt := -1
		for i := 1; i <= len(msg); i++ {
			if !st.feed(msg[:i]) {
				failedAt = i
				break
			}
		}
		firstDead := -1
		for i := 1; i <= len(msg); i++ {
			if !completable(msg[:i]) {
				firstDead = i
				break
			}
		}
		if failedAt != firstDead {
			t.Errorf("%q: the stream failed after %d bytes, the first prefix that cannot be completed ends at %d", s, failedAt, firstDead)
		}
		// In two pieces split anywhere, and whole: the verdict is utf8.Valid's.
		for cut := 0; cut <= len(msg); cut++ {
			var st utf8Stream
			ok := st.feed(msg[:cut]) && st.feed(msg) && st.complete(msg)
			if ok != utf8.Valid(msg) {
				t.Errorf("%q split at %d: stream says %v, utf8.Valid %v", s, cut, ok, !ok)
			}
		}
	}
}

// Issue 17, finding 2: reading a message in n fragments allocates O(log n) times (the buffer
// grows geometrically), not once per fragment; a one-frame message is one allocation.
func TestFragmentedReadAllocations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream []byte
		max    float64
	}{
		{"16 KiB in 1-byte fragments", fragmented(16<<10, 1), 20},
		{"64 KiB in 64-byte fragments", fragmented(64<<10, 64), 20},
		{"100 bytes in one frame", maskedFrame(true, opText, bytes.Repeat([]byte("x"), 100)), 1},
	} {
		nc := &loopConn{data: tc.stream}
		c := newConnState(nc, "", Options{PingInterval: -1}.withDefaults(), nil)
		c.server = true
		c.fr = newFrameReader(nc, DefaultReadBufferSize, nil)
		n := testing.AllocsPerRun(20, func() {
			if _, err := c.Read(); err != nil {
				t.Fatal(err)
			}
		})
		if n > tc.max {
			t.Errorf("%s: %v allocations per message, want at most %v", tc.name, n, tc.max)
		}
	}
}
