package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/pawl-wamp/pawl/realm/internal/dynamic"
	"github.com/pawl-wamp/pawl/wamp"
)

func TestFailureOf(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		kind    string
		err     error
		uri     wamp.URI
		message string
	}{
		{dynamic.Authenticator, wamp.NewError(wamp.ErrNoSuchProcedure), wamp.ErrAuthenticationFailed, "dynamic authenticator com.auth is not registered"},
		{dynamic.Authorizer, wamp.NewError(wamp.ErrNoSuchProcedure), wamp.ErrAuthorizationFailed, "dynamic authorizer com.auth is not registered"},
		{dynamic.Authenticator, wamp.NewError("com.example.banned", "go away"), "com.example.banned", "go away"},
		{dynamic.Authorizer, wamp.NewError("com.example.banned"), "com.example.banned", "com.example.banned"},
		{dynamic.Authorizer, fmt.Errorf("call: %w", context.DeadlineExceeded), wamp.ErrAuthorizationFailed, "dynamic authorizer com.auth did not answer in time"},
		{dynamic.Authenticator, errors.New("broken"), wamp.ErrAuthenticationFailed, "dynamic authenticator com.auth failed"},
	} {
		f := dynamic.FailureOf(log, tc.kind, "com.auth", tc.err)
		if f.URI != tc.uri || f.Message != tc.message {
			t.Errorf("%s %v: %s %q, want %s %q", tc.kind, tc.err, f.URI, f.Message, tc.uri, tc.message)
		}
	}
}

func TestCallWithoutCaller(t *testing.T) {
	if _, err := dynamic.Call(context.Background(), nil, "com.auth", nil); !errors.Is(err, dynamic.ErrNoRouter) {
		t.Errorf("a realm without a router: %v", err)
	}
}
