package wamp

// EncodeJSONValue encodes one standalone value the way the JSON codec encodes payloads: lists,
// dicts, integers of any size kept exact, binary values as "\u0000" + base64. It is
// DecodeJSONValue's inverse, for code that speaks WAMP values over plain JSON (the HTTP bridge).
func EncodeJSONValue(v any) ([]byte, error) {
	return appendJSONValue(nil, v, 0)
}
