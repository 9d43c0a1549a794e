package wamp

import "fmt"

// Payload is the application data of a message: positional and keyword arguments, or, in
// payload passthru mode, one opaque binary value in the arguments position.
//
// A payload read off the wire stays encoded in Raw: the router never needs its values, so it
// splices those bytes into the messages it builds for peers of the same codec and decodes them
// at most once for peers of another codec. Code that builds a payload sets Args/Kwargs/Opaque
// and leaves Raw empty; Raw, when set, wins.
type Payload struct {
	Args   List
	Kwargs Dict
	Opaque []byte
	Raw    RawPayload

	decoded bool
}

// RawPayload holds the arguments elements exactly as one codec encoded them.
type RawPayload struct {
	Codec  Codec
	Args   []byte // the encoded element in the arguments position; nil when absent
	Kwargs []byte // the encoded keyword arguments; nil when absent
}

// Values returns the decoded payload, decoding Raw the first time it is asked.
// Raw is kept so that same-codec recipients still get the original bytes.
func (p *Payload) Values() (List, Dict, error) {
	if err := p.decode(); err != nil {
		return nil, nil, err
	}
	return p.Args, p.Kwargs, nil
}

func (p *Payload) decode() error {
	if p.Raw.Codec == nil || p.decoded {
		return nil
	}
	if p.Raw.Args != nil {
		v, err := p.Raw.Codec.DecodeValue(p.Raw.Args)
		if err != nil {
			return fmt.Errorf("decode arguments: %w", err)
		}
		switch x := v.(type) {
		case List:
			p.Args = x
		case []byte:
			p.Opaque = x
		default:
			return fmt.Errorf("%w: arguments must be a list or binary, not %T", ErrInvalid, v)
		}
	}
	if p.Raw.Kwargs != nil {
		v, err := p.Raw.Codec.DecodeValue(p.Raw.Kwargs)
		if err != nil {
			return fmt.Errorf("decode keyword arguments: %w", err)
		}
		kw, ok := v.(Dict)
		if !ok {
			return fmt.Errorf("%w: keyword arguments must be a dict, not %T", ErrInvalid, v)
		}
		p.Kwargs = kw
	}
	p.decoded = true
	return nil
}

// Empty reports whether the payload carries nothing.
func (p *Payload) Empty() bool {
	if p.Raw.Codec != nil {
		return p.Raw.Args == nil && p.Raw.Kwargs == nil
	}
	return len(p.Args) == 0 && len(p.Kwargs) == 0 && p.Opaque == nil
}

// Size is the payload's encoded size when it is raw, else 0; used for size limits.
func (p *Payload) Size() int {
	return len(p.Raw.Args) + len(p.Raw.Kwargs)
}

// WithArgs returns a payload of the given positional arguments.
func WithArgs(args ...any) Payload {
	return Payload{Args: List(args)}
}
