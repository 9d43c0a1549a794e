package httpbridge

import (
	"net/http"
	"slices"
	"strings"

	"github.com/pawl-wamp/pawl/wamp"
)

// payload reads args and kwargs from a request body: a list and a dict, each optional.
func payload(d wamp.Dict) (wamp.List, wamp.Dict, error) {
	var args wamp.List
	var kwargs wamp.Dict
	switch v := d["args"].(type) {
	case nil:
	case wamp.List:
		args = v
	default:
		return nil, nil, refuse(http.StatusBadRequest, ErrBadRequest, "'args' must be a list")
	}
	switch v := d["kwargs"].(type) {
	case nil:
	case wamp.Dict:
		kwargs = v
	default:
		return nil, nil, refuse(http.StatusBadRequest, ErrBadRequest, "'kwargs' must be an object")
	}
	return args, kwargs, nil
}

// uriField reads a required URI field (topic, procedure).
func uriField(d wamp.Dict, name string) (wamp.URI, error) {
	v, present := d[name]
	if !present {
		return "", refuse(http.StatusBadRequest, ErrBadRequest, "missing key '"+name+"'")
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", refuse(http.StatusBadRequest, ErrBadRequest, "'"+name+"' must be a non-empty string")
	}
	return wamp.URI(s), nil
}

// optionsField reads the request's options, refusing keys the service does not know (a typo
// in "eligible" must not publish to everyone).
func optionsField(d wamp.Dict, known ...string) (wamp.Dict, error) {
	var opts wamp.Dict
	switch v := d["options"].(type) {
	case nil:
		return wamp.Dict{}, nil
	case wamp.Dict:
		opts = v
	default:
		return nil, refuse(http.StatusBadRequest, ErrBadRequest, "'options' must be an object")
	}
	for k := range opts {
		if !slices.Contains(known, k) {
			return nil, refuse(http.StatusBadRequest, ErrBadRequest,
				"unknown option '"+k+"'; this service takes "+strings.Join(known, ", "))
		}
	}
	return opts, nil
}
