package wamp

import (
	"fmt"
)

// This file knows the element layout of every message type, once for all codecs: each codec
// supplies an elementReader and an elementWriter over its wire format, and decodeElements /
// encodeElements walk the message arrays. Keeping the layouts in one place keeps JSON and
// MessagePack from drifting apart.

// maxNesting bounds how deeply lists and dicts may nest, counting the message array as level
// 1, so that hostile input cannot exhaust the stack of the recursive parsers and encoders.
const maxNesting = 64

// errTooDeep is the encoders' answer to values nested past maxNesting (or cyclic ones).
var errTooDeep = fmt.Errorf("value nested deeper than %d levels", maxNesting)

// ValueEncoder is implemented by the built-in codecs: it appends the encoding of one value
// (nil, bool, any Go integer or float kind, string, []byte, List, []any, Dict,
// map[string]any, []string, ID, URI; other types go through encoding/json first).
// It is how code outside the codecs builds a RawPayload or other pre-encoded bytes.
type ValueEncoder interface {
	EncodeValue(dst []byte, v any) ([]byte, error)
}

// elementReader reads the elements of one message array in order. Errors are sticky: after
// the first one every method returns a zero value and err reports that first error, which
// keeps the per-type layouts in decodeElements free of error plumbing.
type elementReader interface {
	// more reports whether another element follows (false after an error).
	more() bool
	// id reads an integer ID in min..MaxID.
	id(field string, min ID) ID
	// text reads a string element (URIs, auth methods, signatures).
	text(field string) string
	// dict reads a dict element.
	dict(field string) Dict
	// arguments reads the element in the arguments position into p: a list, or a binary
	// value (payload passthru). The bytes are kept raw, not decoded.
	arguments(field string, p *Payload)
	// keywordArguments reads a dict element into p.Raw.Kwargs, kept raw.
	keywordArguments(field string, p *Payload)
	fail(err error)
	err() error
}

// messageReader is an elementReader that also reads the message array's start (and type)
// and checks its end: what a codec's Decode drives.
type messageReader interface {
	elementReader
	begin() MessageType
	finish()
	typeWasRead() bool
}

// decodeMessage decodes one whole message through a codec's reader, naming the codec and,
// once known, the message type in errors.
func decodeMessage(codec string, r messageReader) (Message, error) {
	typ := r.begin()
	var m Message
	if r.err() == nil {
		m = decodeElements(typ, r)
	}
	if r.err() == nil {
		r.finish()
	}
	if err := r.err(); err != nil {
		if r.typeWasRead() {
			return nil, fmt.Errorf("%s: decode %v: %w", codec, typ, err)
		}
		return nil, fmt.Errorf("%s: decode message: %w", codec, err)
	}
	return m, nil
}

// elementWriter writes the elements of one message array. Errors are sticky as in elementReader.
type elementWriter interface {
	// begin starts the message array of n elements.
	begin(n int)
	uint(v uint64)
	text(s string)
	dict(d Dict)
	list(l List)
	binary(b []byte)
	// raw splices one element that is already encoded in this writer's format.
	raw(b []byte)
	// spliceable reports whether raw payload bytes of codec c can be spliced by this writer.
	spliceable(c Codec) bool
	fail(err error)
	err() error
}

// invalidf builds a decode error that wraps ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrInvalid)...)
}

// decodeElements reads the elements after the message type. The caller checks afterwards
// that no element is left over.
func decodeElements(typ MessageType, r elementReader) Message {
	switch typ {
	case TypeHello:
		m := &Hello{Realm: URI(r.text("Realm"))}
		m.Details = r.dict("Details")
		return m
	case TypeWelcome:
		m := &Welcome{Session: r.id("Session", 0)}
		m.Details = r.dict("Details")
		return m
	case TypeAbort:
		m := &Abort{Details: r.dict("Details")}
		m.Reason = URI(r.text("Reason"))
		return m
	case TypeChallenge:
		m := &Challenge{AuthMethod: r.text("AuthMethod")}
		m.Extra = r.dict("Extra")
		return m
	case TypeAuthenticate:
		m := &Authenticate{Signature: r.text("Signature")}
		m.Extra = r.dict("Extra")
		return m
	case TypeGoodbye:
		m := &Goodbye{Details: r.dict("Details")}
		m.Reason = URI(r.text("Reason"))
		return m
	case TypeError:
		m := &Error{}
		reqType := r.id("RequestType", 0)
		if reqType > 0xffff {
			r.fail(invalidf("RequestType %d out of range", reqType))
		}
		m.RequestType = MessageType(reqType)
		m.Request = r.id("Request", 1)
		m.Details = r.dict("Details")
		m.Error = URI(r.text("Error"))
		readPayload(r, &m.Payload)
		return m
	case TypePublish:
		m := &Publish{Request: r.id("Request", 1)}
		m.Options = r.dict("Options")
		m.Topic = URI(r.text("Topic"))
		readPayload(r, &m.Payload)
		return m
	case TypePublished:
		m := &Published{Request: r.id("Request", 1)}
		m.Publication = r.id("Publication", 0)
		return m
	case TypeSubscribe:
		m := &Subscribe{Request: r.id("Request", 1)}
		m.Options = r.dict("Options")
		m.Topic = URI(r.text("Topic"))
		return m
	case TypeSubscribed:
		m := &Subscribed{Request: r.id("Request", 1)}
		m.Subscription = r.id("Subscription", 0)
		return m
	case TypeUnsubscribe:
		m := &Unsubscribe{Request: r.id("Request", 1)}
		m.Subscription = r.id("Subscription", 0)
		return m
	case TypeUnsubscribed:
		// Request 0 with Details is the router-initiated form.
		m := &Unsubscribed{Request: r.id("Request", 0)}
		if r.more() {
			m.Details = r.dict("Details")
		}
		return m
	case TypeEvent:
		m := &Event{Subscription: r.id("Subscription", 0)}
		m.Publication = r.id("Publication", 0)
		m.Details = r.dict("Details")
		readPayload(r, &m.Payload)
		return m
	case TypeEventReceived:
		// Details and payload are optional: [EVENT_RECEIVED, Publication] is the common form.
		m := &EventReceived{Publication: r.id("Publication", 0)}
		if r.more() {
			m.Details = r.dict("Details")
			readPayload(r, &m.Payload)
		}
		return m
	case TypeCall:
		m := &Call{Request: r.id("Request", 1)}
		m.Options = r.dict("Options")
		m.Procedure = URI(r.text("Procedure"))
		readPayload(r, &m.Payload)
		return m
	case TypeCancel:
		m := &Cancel{Request: r.id("Request", 1)}
		m.Options = r.dict("Options")
		return m
	case TypeResult:
		m := &Result{Request: r.id("Request", 1)}
		m.Details = r.dict("Details")
		readPayload(r, &m.Payload)
		return m
	case TypeRegister:
		m := &Register{Request: r.id("Request", 1)}
		m.Options = r.dict("Options")
		m.Procedure = URI(r.text("Procedure"))
		return m
	case TypeRegistered:
		m := &Registered{Request: r.id("Request", 1)}
		m.Registration = r.id("Registration", 0)
		return m
	case TypeUnregister:
		m := &Unregister{Request: r.id("Request", 1)}
		m.Registration = r.id("Registration", 0)
		return m
	case TypeUnregistered:
		m := &Unregistered{Request: r.id("Request", 0)}
		if r.more() {
			m.Details = r.dict("Details")
		}
		return m
	case TypeInvocation:
		m := &Invocation{Request: r.id("Request", 1)}
		m.Registration = r.id("Registration", 0)
		m.Details = r.dict("Details")
		readPayload(r, &m.Payload)
		return m
	case TypeInterrupt:
		m := &Interrupt{Request: r.id("Request", 1)}
		m.Options = r.dict("Options")
		return m
	case TypeYield:
		m := &Yield{Request: r.id("Request", 1)}
		m.Options = r.dict("Options")
		readPayload(r, &m.Payload)
		return m
	}
	r.fail(invalidf("unknown message type %d", uint16(typ)))
	return nil
}

// readPayload reads the optional trailing arguments and keyword arguments elements.
func readPayload(r elementReader, p *Payload) {
	if !r.more() {
		return
	}
	r.arguments("Arguments", p)
	if !r.more() {
		return
	}
	if p.Opaque != nil {
		// Payload passthru carries exactly one binary element.
		r.fail(invalidf("ArgumentsKw not allowed after a binary payload"))
		return
	}
	r.keywordArguments("ArgumentsKw", p)
}

// encodeElements writes m as a whole message array.
func encodeElements(m Message, w elementWriter) {
	switch m := m.(type) {
	case *Hello:
		w.begin(3)
		w.uint(uint64(TypeHello))
		w.text(string(m.Realm))
		w.dict(m.Details)
	case *Welcome:
		w.begin(3)
		w.uint(uint64(TypeWelcome))
		w.uint(uint64(m.Session))
		w.dict(m.Details)
	case *Abort:
		w.begin(3)
		w.uint(uint64(TypeAbort))
		w.dict(m.Details)
		w.text(string(m.Reason))
	case *Challenge:
		w.begin(3)
		w.uint(uint64(TypeChallenge))
		w.text(m.AuthMethod)
		w.dict(m.Extra)
	case *Authenticate:
		w.begin(3)
		w.uint(uint64(TypeAuthenticate))
		w.text(m.Signature)
		w.dict(m.Extra)
	case *Goodbye:
		w.begin(3)
		w.uint(uint64(TypeGoodbye))
		w.dict(m.Details)
		w.text(string(m.Reason))
	case *Error:
		n := payloadElements(w, &m.Payload)
		w.begin(5 + n)
		w.uint(uint64(TypeError))
		w.uint(uint64(m.RequestType))
		w.uint(uint64(m.Request))
		w.dict(m.Details)
		w.text(string(m.Error))
		writePayload(w, &m.Payload, n)
	case *Publish:
		n := payloadElements(w, &m.Payload)
		w.begin(4 + n)
		w.uint(uint64(TypePublish))
		w.uint(uint64(m.Request))
		w.dict(m.Options)
		w.text(string(m.Topic))
		writePayload(w, &m.Payload, n)
	case *Published:
		writeTriple(w, TypePublished, m.Request, m.Publication)
	case *Subscribe:
		w.begin(4)
		w.uint(uint64(TypeSubscribe))
		w.uint(uint64(m.Request))
		w.dict(m.Options)
		w.text(string(m.Topic))
	case *Subscribed:
		writeTriple(w, TypeSubscribed, m.Request, m.Subscription)
	case *Unsubscribe:
		writeTriple(w, TypeUnsubscribe, m.Request, m.Subscription)
	case *Unsubscribed:
		writeAck(w, TypeUnsubscribed, m.Request, m.Details)
	case *Event:
		n := payloadElements(w, &m.Payload)
		w.begin(4 + n)
		w.uint(uint64(TypeEvent))
		w.uint(uint64(m.Subscription))
		w.uint(uint64(m.Publication))
		w.dict(m.Details)
		writePayload(w, &m.Payload, n)
	case *EventReceived:
		n := payloadElements(w, &m.Payload)
		if m.Details == nil && n == 0 {
			w.begin(2)
			w.uint(uint64(TypeEventReceived))
			w.uint(uint64(m.Publication))
			break
		}
		w.begin(3 + n)
		w.uint(uint64(TypeEventReceived))
		w.uint(uint64(m.Publication))
		w.dict(m.Details)
		writePayload(w, &m.Payload, n)
	case *Call:
		n := payloadElements(w, &m.Payload)
		w.begin(4 + n)
		w.uint(uint64(TypeCall))
		w.uint(uint64(m.Request))
		w.dict(m.Options)
		w.text(string(m.Procedure))
		writePayload(w, &m.Payload, n)
	case *Cancel:
		writeRequestDict(w, TypeCancel, m.Request, m.Options)
	case *Result:
		n := payloadElements(w, &m.Payload)
		w.begin(3 + n)
		w.uint(uint64(TypeResult))
		w.uint(uint64(m.Request))
		w.dict(m.Details)
		writePayload(w, &m.Payload, n)
	case *Register:
		w.begin(4)
		w.uint(uint64(TypeRegister))
		w.uint(uint64(m.Request))
		w.dict(m.Options)
		w.text(string(m.Procedure))
	case *Registered:
		writeTriple(w, TypeRegistered, m.Request, m.Registration)
	case *Unregister:
		writeTriple(w, TypeUnregister, m.Request, m.Registration)
	case *Unregistered:
		writeAck(w, TypeUnregistered, m.Request, m.Details)
	case *Invocation:
		n := payloadElements(w, &m.Payload)
		w.begin(4 + n)
		w.uint(uint64(TypeInvocation))
		w.uint(uint64(m.Request))
		w.uint(uint64(m.Registration))
		w.dict(m.Details)
		writePayload(w, &m.Payload, n)
	case *Interrupt:
		writeRequestDict(w, TypeInterrupt, m.Request, m.Options)
	case *Yield:
		n := payloadElements(w, &m.Payload)
		w.begin(3 + n)
		w.uint(uint64(TypeYield))
		w.uint(uint64(m.Request))
		w.dict(m.Options)
		writePayload(w, &m.Payload, n)
	case nil:
		w.fail(fmt.Errorf("encode nil message"))
	default:
		w.fail(fmt.Errorf("encode %T: not a known message type", m))
	}
}

func writeTriple(w elementWriter, t MessageType, a, b ID) {
	w.begin(3)
	w.uint(uint64(t))
	w.uint(uint64(a))
	w.uint(uint64(b))
}

func writeRequestDict(w elementWriter, t MessageType, req ID, d Dict) {
	w.begin(3)
	w.uint(uint64(t))
	w.uint(uint64(req))
	w.dict(d)
}

// writeAck writes UNSUBSCRIBED/UNREGISTERED: Details only when set (router-initiated form).
func writeAck(w elementWriter, t MessageType, req ID, d Dict) {
	if d == nil {
		w.begin(2)
		w.uint(uint64(t))
		w.uint(uint64(req))
		return
	}
	writeRequestDict(w, t, req, d)
}

// payloadElements returns how many elements p takes on the wire of w (0, 1 or 2), decoding a
// raw payload of another codec first. Trailing empty elements are omitted.
func payloadElements(w elementWriter, p *Payload) int {
	if p.Raw.Codec != nil && w.spliceable(p.Raw.Codec) {
		switch {
		case p.Raw.Kwargs != nil:
			return 2
		case p.Raw.Args != nil:
			return 1
		}
		return 0
	}
	if p.Raw.Codec != nil {
		if _, _, err := p.Values(); err != nil {
			w.fail(fmt.Errorf("transcode payload from %s: %w", p.Raw.Codec.Name(), err))
			return 0
		}
	}
	switch {
	case p.Opaque != nil:
		if len(p.Kwargs) > 0 {
			w.fail(fmt.Errorf("payload has both a binary (passthru) value and keyword arguments"))
		}
		return 1
	case len(p.Kwargs) > 0:
		return 2
	case len(p.Args) > 0:
		return 1
	}
	return 0
}

// writePayload writes the n payload elements counted by payloadElements.
func writePayload(w elementWriter, p *Payload, n int) {
	if n == 0 {
		return
	}
	if p.Raw.Codec != nil && w.spliceable(p.Raw.Codec) {
		if p.Raw.Args != nil {
			w.raw(p.Raw.Args)
		} else {
			w.list(nil)
		}
		if n == 2 {
			w.raw(p.Raw.Kwargs)
		}
		return
	}
	if p.Opaque != nil {
		w.binary(p.Opaque)
		return
	}
	w.list(p.Args)
	if n == 2 {
		w.dict(p.Kwargs)
	}
}

// typeOf names m's type for error messages, tolerating nil.
func typeOf(m Message) string {
	if m == nil {
		return "nil message"
	}
	return m.Type().String()
}

// wellKnownKeys holds the Details/Options keys that arrive in almost every message, so that
// decoding a dict reuses these strings instead of allocating one per key per message.
var wellKnownKeys = func() map[string]string {
	keys := map[string]string{}
	for _, k := range []string{
		"acknowledge", "exclude_me", "exclude", "eligible", "exclude_authid", "exclude_authrole",
		"eligible_authid", "eligible_authrole", "retain", "retained", "get_retained", "match",
		"receive_progress", "progress", "disclose_me", "disclose_caller", "timeout", "invoke",
		"concurrency", "force_reregister", "mode", "reason", "message",
		"publisher", "publisher_authid", "publisher_authrole", "topic", "procedure",
		"caller", "caller_authid", "caller_authrole", "subscription", "registration", "session",
		"forward_for", "enc_algo", "enc_serializer", "enc_key",
		"ppt_scheme", "ppt_serializer", "ppt_cipher", "ppt_keyid", "transaction_hash",
		"x_acknowledged_delivery", "roles", "features", "agent", "authid", "authrole",
		"authmethod", "authmethods", "authprovider", "authextra", "challenge",
		"caller", "callee", "publisher", "subscriber", "broker", "dealer",
	} {
		keys[k] = k
	}
	return keys
}()

// dictKey converts a decoded dict key to a string, sharing the well-known ones.
func dictKey(b []byte) string {
	if k, ok := wellKnownKeys[string(b)]; ok { // this lookup does not allocate
		return k
	}
	return string(b)
}

// encodeHint is the capacity a message's encoding starts with when the caller gives no
// buffer: room for its header elements and a small dict, and its raw payload, so that most
// messages are encoded with one allocation rather than a slice grown several times.
func encodeHint(m Message) int {
	const header = 64
	if p, ok := m.(interface{ Size() int }); ok { // the messages that embed a Payload
		return header + p.Size()
	}
	return header
}
