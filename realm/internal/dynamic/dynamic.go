package dynamic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pawl-wamp/pawl/wamp"
)

// Caller calls a procedure of the realm as the router itself and returns the result's
// positional arguments. ctx bounds the call (the session's context and a timeout).
type Caller interface {
	Call(ctx context.Context, procedure wamp.URI, args wamp.List) (wamp.List, error)
}

// Failure is an error URI and message from a dynamic authenticator or authorizer: what the
// peer's ABORT (or ERROR) says.
type Failure struct {
	URI     wamp.URI
	Message string
}

func (f *Failure) Error() string { return string(f.URI) + ": " + f.Message }

// Kinds of dynamic procedure, as logs and messages name them.
const (
	Authenticator = "authenticator"
	Authorizer    = "authorizer"
)

// FailureOf turns a failed call to a dynamic authenticator or authorizer (kind) into the
// failure the peer gets: the procedure's own error URI when it raised one, else
// wamp.error.authentication_failed (or authorization_failed).
func FailureOf(log *slog.Logger, kind string, proc wamp.URI, err error) *Failure {
	fallback := wamp.ErrAuthenticationFailed
	if kind == Authorizer {
		fallback = wamp.ErrAuthorizationFailed
	}
	var ae *wamp.ApplicationError
	switch {
	case errors.As(err, &ae) && ae.URI == wamp.ErrNoSuchProcedure:
		log.Error("dynamic "+kind+" is not registered", "procedure", proc)
		return &Failure{fallback, fmt.Sprintf("dynamic %s %s is not registered", kind, proc)}
	case errors.As(err, &ae):
		msg := string(ae.URI)
		if len(ae.Args) > 0 {
			if s, ok := ae.Args[0].(string); ok {
				msg = s
			}
		}
		return &Failure{ae.URI, msg}
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("dynamic "+kind+" timed out", "procedure", proc)
		return &Failure{fallback, fmt.Sprintf("dynamic %s %s did not answer in time", kind, proc)}
	}
	log.Warn("dynamic "+kind+" call failed", "procedure", proc, "err", err)
	return &Failure{fallback, fmt.Sprintf("dynamic %s %s failed", kind, proc)}
}

// ErrNoRouter fails a call made for a realm that no router serves (so no session can call).
var ErrNoRouter = errors.New("realm is not served by a router")

// Call calls proc through c; without a Caller the call fails with ErrNoRouter.
func Call(ctx context.Context, c Caller, proc wamp.URI, args wamp.List) (wamp.List, error) {
	if c == nil {
		return nil, ErrNoRouter
	}
	return c.Call(ctx, proc, args)
}
