package wamp

import (
	"fmt"
	"strings"
)

// ApplicationError is an error with a WAMP error URI and payload: what a procedure returns to
// fail a call, and what the client returns when the router or a callee answers with ERROR.
type ApplicationError struct {
	URI     URI
	Args    List
	Kwargs  Dict
	Details Dict
}

// NewError builds an ApplicationError with positional arguments.
func NewError(uri URI, args ...any) *ApplicationError {
	return &ApplicationError{URI: uri, Args: List(args)}
}

func (e *ApplicationError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.URI))
	if len(e.Args) > 0 {
		fmt.Fprintf(&b, ": %v", []any(e.Args))
	}
	if len(e.Kwargs) > 0 {
		fmt.Fprintf(&b, " %v", map[string]any(e.Kwargs))
	}
	return b.String()
}

// Is lets errors.Is match on the URI alone.
func (e *ApplicationError) Is(target error) bool {
	t, ok := target.(*ApplicationError)
	return ok && t.URI == e.URI && t.Args == nil && t.Kwargs == nil
}
