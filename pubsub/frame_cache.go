package pubsub

import "github.com/pawl-wamp/pawl/wamp"

// FrameCache encodes one message at most once per codec: the frames are shared by every
// recipient that speaks that codec.
type FrameCache struct {
	entries [4]frameEntry
	n       int
}

type frameEntry struct {
	codec wamp.Codec
	frame []byte
	err   error
}

// Frame returns m encoded with c, encoding it on the first request for c.
func (fc *FrameCache) Frame(c wamp.Codec, m wamp.Message) ([]byte, error) {
	for i := 0; i < fc.n; i++ {
		if fc.entries[i].codec == c {
			return fc.entries[i].frame, fc.entries[i].err
		}
	}
	frame, err := c.Encode(nil, m)
	if fc.n < len(fc.entries) {
		fc.entries[fc.n] = frameEntry{codec: c, frame: frame, err: err}
		fc.n++
	}
	return frame, err
}
