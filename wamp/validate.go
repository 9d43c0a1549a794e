package wamp

import (
	"fmt"
)

// Validate checks what the codecs leave open: the realm and reason URIs a message carries and
// the types (and, for enumerations, values) of the well-known Options and Details keys.
// Topic and procedure URIs are left to the broker and dealer, which answer a bad one with
// ERROR wamp.error.invalid_uri instead of ending the session. Unknown keys pass,
// for forward compatibility. Errors wrap ErrInvalid and name the offending field, e.g.
// "PUBLISH.Options.acknowledge must be a bool, not string".
//
// Raw payloads are not looked at.
func Validate(m Message) error {
	switch m := m.(type) {
	case *Hello:
		if err := checkURI("HELLO.Realm", m.Realm); err != nil {
			return err
		}
		if _, ok := m.Details["roles"]; !ok {
			return invalidf("HELLO.Details.roles is required")
		}
		return checkKeys("HELLO.Details", m.Details, helloDetails)
	case *Welcome:
		return checkKeys("WELCOME.Details", m.Details, welcomeDetails)
	case *Abort:
		if err := checkURI("ABORT.Reason", m.Reason); err != nil {
			return err
		}
		return checkKeys("ABORT.Details", m.Details, closeDetails)
	case *Goodbye:
		if err := checkURI("GOODBYE.Reason", m.Reason); err != nil {
			return err
		}
		return checkKeys("GOODBYE.Details", m.Details, closeDetails)
	case *Error:
		if err := checkURI("ERROR.Error", m.Error); err != nil {
			return err
		}
		return checkKeys("ERROR.Details", m.Details, payloadDetails)
	case *Publish:
		return checkKeys("PUBLISH.Options", m.Options, publishOptions)
	case *Subscribe:
		return checkKeys("SUBSCRIBE.Options", m.Options, subscribeOptions)
	case *Unsubscribed:
		return checkKeys("UNSUBSCRIBED.Details", m.Details, unsubscribedDetails)
	case *Event:
		return checkKeys("EVENT.Details", m.Details, eventDetails)
	case *Call:
		return checkKeys("CALL.Options", m.Options, callOptions)
	case *Cancel:
		return checkKeys("CANCEL.Options", m.Options, cancelOptions)
	case *Result:
		return checkKeys("RESULT.Details", m.Details, resultDetails)
	case *Register:
		return checkKeys("REGISTER.Options", m.Options, registerOptions)
	case *Unregistered:
		return checkKeys("UNREGISTERED.Details", m.Details, unregisteredDetails)
	case *Invocation:
		return checkKeys("INVOCATION.Details", m.Details, invocationDetails)
	case *Interrupt:
		return checkKeys("INTERRUPT.Options", m.Options, cancelOptions)
	case *Yield:
		return checkKeys("YIELD.Options", m.Options, resultDetails)
	case nil:
		return invalidf("nil message")
	}
	// CHALLENGE, AUTHENTICATE, PUBLISHED, SUBSCRIBED, UNSUBSCRIBE, REGISTERED, UNREGISTER and
	// EVENT_RECEIVED carry nothing beyond what the codecs check.
	return nil
}

// A keyCheck checks the value of one well-known key; it returns what was expected.
type keyCheck func(v any) (ok bool, want string)

// checkKeys runs the checks of the keys present in d (usually few, so d drives the loop).
func checkKeys(where string, d Dict, checks map[string]keyCheck) error {
	for key, v := range d {
		check, known := checks[key]
		if !known {
			continue
		}
		if ok, want := check(v); !ok {
			return invalidf("%s.%s must be %s, not %s", where, key, want, describe(v))
		}
	}
	return nil
}

func checkURI(where string, u URI) error {
	if !ValidURI(u, false, false) {
		return invalidf("%s %q is not a valid URI", where, u)
	}
	return nil
}

// describe names a value's type in error messages in WAMP's terms.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case string:
		if len(x) > 40 {
			return "string"
		}
		return fmt.Sprintf("string %q", x)
	case []byte:
		return "binary"
	case float32, float64:
		return "float"
	case List, []any, []string:
		return "list"
	case Dict, map[string]any:
		return "dict"
	}
	if _, ok := AsInt64(v); ok {
		return "integer"
	}
	return fmt.Sprintf("%T", v)
}

// The value checks.

func isBool(v any) (bool, string) {
	_, ok := v.(bool)
	return ok, "a bool"
}

func isString(v any) (bool, string) {
	_, ok := v.(string)
	return ok, "a string"
}

func isDict(v any) (bool, string) {
	switch v.(type) {
	case Dict, map[string]any:
		return true, ""
	}
	return false, "a dict"
}

func isID(v any) (bool, string) {
	_, ok := asIntegerID(v)
	return ok, "an ID (integer in 1..2^53)"
}

func isURIString(v any) (bool, string) {
	s, ok := v.(string)
	return ok && ValidURI(URI(s), false, false), "a URI string"
}

func isNonNegativeInt(v any) (bool, string) {
	n, ok := asInteger(v)
	return ok && n >= 0, "a non-negative integer"
}

func isPositiveInt(v any) (bool, string) {
	n, ok := asInteger(v)
	return ok && n > 0, "a positive integer"
}

// asInteger accepts the integer kinds only, not integral floats: a float where an integer is
// specified is a type error.
func asInteger(v any) (int64, bool) {
	switch v.(type) {
	case float32, float64:
		return 0, false
	}
	return AsInt64(v)
}

func asIntegerID(v any) (ID, bool) {
	n, ok := asInteger(v)
	if !ok || n < 1 || n > MaxID {
		return 0, false
	}
	return ID(n), true
}

func oneOf(values ...string) keyCheck {
	want := "one of"
	for i, s := range values {
		if i > 0 {
			want += ","
		}
		want += fmt.Sprintf(" %q", s)
	}
	return func(v any) (bool, string) {
		s, ok := v.(string)
		if ok {
			for _, allowed := range values {
				if s == allowed {
					return true, ""
				}
			}
		}
		return false, want
	}
}

// listOf checks every item of a list with item.
func listOf(item keyCheck, want string) keyCheck {
	return func(v any) (bool, string) {
		var items []any
		switch x := v.(type) {
		case List:
			items = x
		case []any:
			items = x
		case []string:
			for _, s := range x {
				if ok, _ := item(s); !ok {
					return false, want
				}
			}
			return true, ""
		default:
			return false, want
		}
		for _, it := range items {
			if ok, _ := item(it); !ok {
				return false, want
			}
		}
		return true, ""
	}
}

var (
	isIDList     = listOf(isID, "a list of IDs")
	isStringList = listOf(isString, "a list of strings")

	// forward_for (router-to-router links): a list of {session, authid, authrole} dicts.
	isForwardFor = listOf(func(v any) (bool, string) {
		var d Dict
		switch x := v.(type) {
		case Dict:
			d = x
		case map[string]any:
			d = x
		default:
			return false, ""
		}
		return checkKeys("", d, map[string]keyCheck{
			"session": isID, "authid": isString, "authrole": isString,
		}) == nil, ""
	}, "a list of {session, authid, authrole} dicts")

	matchPolicy = oneOf(MatchExact, MatchPrefix, MatchWildcard)

	// Payload encryption as in Autobahn (enc_*) and payload passthru as in the spec (ppt_*).
	// "null" is Autobahn's name for no encryption.
	encAlgo       = oneOf("null", "cryptobox", "mqtt", "xbr")
	encSerializer = oneOf("null", "json", "msgpack", "cbor", "ubjson", "opaque", "flatbuffers")
)

// withKeys merges key checks; later maps win.
func withKeys(maps ...map[string]keyCheck) map[string]keyCheck {
	out := map[string]keyCheck{}
	for _, m := range maps {
		for k, c := range m {
			out[k] = c
		}
	}
	return out
}

// payloadKeys apply to every message that carries a payload.
var payloadKeys = map[string]keyCheck{
	"forward_for":    isForwardFor,
	"enc_algo":       encAlgo,
	"enc_serializer": encSerializer,
	"enc_key":        isString,
	"ppt_scheme":     isString,
	"ppt_serializer": isString,
	"ppt_cipher":     isString,
	"ppt_keyid":      isString,
}

var (
	helloDetails = map[string]keyCheck{
		"roles": isDict, "authmethods": isStringList, "authid": isString,
		"authrole": isString, "authextra": isDict, "agent": isString,
	}
	welcomeDetails = map[string]keyCheck{
		"roles": isDict, "authid": isString, "authrole": isString, "authmethod": isString,
		"authprovider": isString, "authextra": isDict, "agent": isString,
	}
	closeDetails = map[string]keyCheck{"message": isString}

	payloadDetails = payloadKeys

	publishOptions = withKeys(payloadKeys, map[string]keyCheck{
		"acknowledge":       isBool,
		"exclude_me":        isBool,
		"retain":            isBool,
		"disclose_me":       isBool,
		"exclude":           isIDList,
		"eligible":          isIDList,
		"exclude_authid":    isStringList,
		"exclude_authrole":  isStringList,
		"eligible_authid":   isStringList,
		"eligible_authrole": isStringList,
		"transaction_hash":  isString,
	})
	subscribeOptions = map[string]keyCheck{
		"match":        matchPolicy,
		"get_retained": isBool,
		"forward_for":  isForwardFor,
	}
	unsubscribedDetails = map[string]keyCheck{"subscription": isID, "reason": isURIString}
	eventDetails        = withKeys(payloadKeys, map[string]keyCheck{
		"publisher":               isID,
		"publisher_authid":        isString,
		"publisher_authrole":      isString,
		"topic":                   isURIString,
		"retained":                isBool,
		"transaction_hash":        isString,
		"x_acknowledged_delivery": isBool,
	})
	callOptions = withKeys(payloadKeys, map[string]keyCheck{
		"receive_progress": isBool,
		"progress":         isBool,
		"disclose_me":      isBool,
		"timeout":          isNonNegativeInt,
	})
	cancelOptions   = map[string]keyCheck{"mode": oneOf("skip", "kill", "killnowait"), "reason": isString}
	resultDetails   = withKeys(payloadKeys, map[string]keyCheck{"progress": isBool})
	registerOptions = map[string]keyCheck{
		"match":            matchPolicy,
		"invoke":           oneOf("single", "roundrobin", "random", "first", "last"),
		"concurrency":      isPositiveInt,
		"disclose_caller":  isBool,
		"force_reregister": isBool,
		"forward_for":      isForwardFor,
	}
	unregisteredDetails = map[string]keyCheck{"registration": isID, "reason": isURIString}
	invocationDetails   = withKeys(payloadKeys, map[string]keyCheck{
		"caller":           isID,
		"caller_authid":    isString,
		"caller_authrole":  isString,
		"procedure":        isURIString,
		"receive_progress": isBool,
		"progress":         isBool,
		"timeout":          isNonNegativeInt,
	})
)
