package session

import (
	"sync"
	"sync/atomic"

	"github.com/pawl-wamp/pawl/wamp"
)

// Traffic counts the messages and bytes a realm's sessions exchange, by message type and
// direction, and the ERRORs the router sends, by error URI. A realm owns one and hands it to
// each session joining it (SetTraffic); the realm's broker adds the events it fans out.
//
// Counting costs a message one or two uncontended atomic additions and no lock or lookup:
// each message type has its own counters, padded to a cache line, so sessions busy with
// different types do not share one. Readers (a metrics scrape) load the counters whenever
// they like.
type Traffic struct {
	in, out [len(messageTypes)]typeCounters

	errMu      sync.Mutex               // guards additions to errs; counting reads errs lock-free
	errs       atomic.Pointer[errorMap] // copy-on-write: URI -> count
	errsOthers atomic.Uint64            // ERRORs whose URI came after MaxErrorURIs others
}

// typeCounters are one message type's counters in one direction, alone on a cache line.
type typeCounters struct {
	messages atomic.Uint64
	bytes    atomic.Uint64
	_        [48]byte
}

type errorMap map[wamp.URI]*atomic.Uint64

// MaxErrorURIs bounds the distinct error URIs a Traffic counts apart (per realm), so that a
// client inventing error URIs cannot grow the router's memory or a scrape without bound;
// further ones are counted together under OtherErrors.
const MaxErrorURIs = 200

// OtherErrors labels the ERRORs counted beyond MaxErrorURIs distinct URIs.
const OtherErrors = "(other)"

// messageTypes are the WAMP message types, in the order of the counters' slots.
var messageTypes = [...]wamp.MessageType{
	wamp.TypeHello, wamp.TypeWelcome, wamp.TypeAbort, wamp.TypeChallenge, wamp.TypeAuthenticate,
	wamp.TypeGoodbye, wamp.TypeError, wamp.TypePublish, wamp.TypePublished, wamp.TypeSubscribe,
	wamp.TypeSubscribed, wamp.TypeUnsubscribe, wamp.TypeUnsubscribed, wamp.TypeEvent, wamp.TypeCall,
	wamp.TypeCancel, wamp.TypeResult, wamp.TypeRegister, wamp.TypeRegistered, wamp.TypeUnregister,
	wamp.TypeUnregistered, wamp.TypeInvocation, wamp.TypeInterrupt, wamp.TypeYield,
}

// slotOf maps a message type to its counters' slot; 0 is "no slot" (slots are stored +1).
var slotOf = func() (t [256]uint8) {
	for i, mt := range messageTypes {
		t[mt] = uint8(i + 1)
	}
	return t
}()

func (t *Traffic) counters(dir *[len(messageTypes)]typeCounters, mt wamp.MessageType) *typeCounters {
	if int(mt) >= len(slotOf) || slotOf[mt] == 0 {
		return nil
	}
	return &dir[slotOf[mt]-1]
}

// Received counts one message read from a peer.
func (t *Traffic) Received(mt wamp.MessageType, bytes int) {
	if c := t.counters(&t.in, mt); c != nil {
		c.messages.Add(1)
		c.bytes.Add(uint64(bytes))
	}
}

// Sent counts messages of one type written to peers: n messages, bytes in all.
func (t *Traffic) Sent(mt wamp.MessageType, n, bytes int) {
	if c := t.counters(&t.out, mt); c != nil {
		c.messages.Add(uint64(n))
		c.bytes.Add(uint64(bytes))
	}
}

// Error counts an ERROR the router sent, by its URI.
func (t *Traffic) Error(uri wamp.URI) {
	if m := t.errs.Load(); m != nil {
		if c := (*m)[uri]; c != nil {
			c.Add(1)
			return
		}
	}
	t.errMu.Lock()
	defer t.errMu.Unlock()
	old := t.errs.Load()
	if old != nil {
		if c := (*old)[uri]; c != nil {
			c.Add(1)
			return
		}
		if len(*old) >= MaxErrorURIs {
			t.errsOthers.Add(1)
			return
		}
	}
	next := make(errorMap, 1)
	if old != nil {
		next = make(errorMap, len(*old)+1)
		for k, v := range *old {
			next[k] = v
		}
	}
	c := new(atomic.Uint64)
	c.Add(1)
	next[uri] = c
	t.errs.Store(&next)
}

// TypeTraffic is one message type's counts in one direction.
type TypeTraffic struct {
	Type     wamp.MessageType
	Messages uint64
	Bytes    uint64
}

// EachType calls fn with the counts of every message type, received and sent.
func (t *Traffic) EachType(fn func(received, sent TypeTraffic)) {
	for i, mt := range messageTypes {
		fn(TypeTraffic{mt, t.in[i].messages.Load(), t.in[i].bytes.Load()},
			TypeTraffic{mt, t.out[i].messages.Load(), t.out[i].bytes.Load()})
	}
}

// Errors returns the ERRORs sent so far by URI, with those beyond MaxErrorURIs distinct
// URIs under OtherErrors.
func (t *Traffic) Errors() map[wamp.URI]uint64 {
	out := map[wamp.URI]uint64{}
	if m := t.errs.Load(); m != nil {
		for uri, c := range *m {
			out[uri] = c.Load()
		}
	}
	if n := t.errsOthers.Load(); n > 0 {
		out[OtherErrors] = n
	}
	return out
}
