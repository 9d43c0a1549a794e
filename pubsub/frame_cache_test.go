package pubsub

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

// countingCodec counts the encodings a codec makes.
type countingCodec struct {
	wamp.Codec
	encodes int
}

func (c *countingCodec) Encode(dst []byte, m wamp.Message) ([]byte, error) {
	c.encodes++
	return c.Codec.Encode(dst, m)
}

// An event for recipients of every codec is encoded once per codec, however many recipients
// each has: CBOR recipients of a CBOR publication get its payload bytes spliced in, JSON and
// MessagePack recipients get it converted (binary and 64-bit integers intact).
func TestFrameCacheEncodesOncePerCodec(t *testing.T) {
	args := wamp.List{[]byte{0, 1, 0xff}, uint64(1<<64 - 1), int64(-1 << 63), int64(1 << 53), "x"}
	pub, err := wamp.CBOR.Encode(nil, &wamp.Publish{Request: 1, Options: wamp.Dict{}, Topic: "t", Payload: wamp.Payload{Args: args}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := wamp.CBOR.Decode(pub)
	if err != nil {
		t.Fatal(err)
	}
	p := m.(*wamp.Publish).Payload
	ev := &wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{}, Payload: p}
	codecs := []*countingCodec{{Codec: wamp.JSON}, {Codec: wamp.MsgPack}, {Codec: wamp.CBOR}}
	var fc FrameCache
	frames := map[*countingCodec][]byte{}
	for i := range 300 {
		c := codecs[i%3]
		f, err := fc.Frame(c, ev)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := frames[c]; ok && &prev[0] != &f[0] {
			t.Fatalf("%s: recipient %d got a frame of its own", c.Name(), i)
		}
		frames[c] = f
	}
	for _, c := range codecs {
		if c.encodes != 1 {
			t.Errorf("%s: %d encodings for 100 recipients, want 1", c.Name(), c.encodes)
		}
		got, err := c.Decode(frames[c])
		if err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		values, _, err := got.(*wamp.Event).Values()
		if err != nil || !reflect.DeepEqual(values, args) {
			t.Errorf("%s: event args %#v, %v; want %#v", c.Name(), values, err, args)
		}
	}
	if !bytes.Contains(frames[codecs[2]], p.Raw.Args) {
		t.Errorf("the CBOR frame %x does not splice the publication's payload %x", frames[codecs[2]], p.Raw.Args)
	}
}
