package wamp

// Standard error and close reason URIs.
const (
	ErrInvalidURI               URI = "wamp.error.invalid_uri"
	ErrNoSuchProcedure          URI = "wamp.error.no_such_procedure"
	ErrProcedureAlreadyExists   URI = "wamp.error.procedure_already_exists"
	ErrNoSuchRegistration       URI = "wamp.error.no_such_registration"
	ErrNoSuchSubscription       URI = "wamp.error.no_such_subscription"
	ErrInvalidArgument          URI = "wamp.error.invalid_argument"
	ErrNotAuthorized            URI = "wamp.error.not_authorized"
	ErrAuthorizationFailed      URI = "wamp.error.authorization_failed"
	ErrAuthenticationFailed     URI = "wamp.error.authentication_failed"
	ErrNoMatchingAuthMethod     URI = "wamp.error.no_matching_auth_method"
	ErrNoSuchRealm              URI = "wamp.error.no_such_realm"
	ErrNoSuchRole               URI = "wamp.error.no_such_role"
	ErrNoSuchPrincipal          URI = "wamp.error.no_such_principal"
	ErrNoSuchSession            URI = "wamp.error.no_such_session"
	ErrCanceled                 URI = "wamp.error.canceled"
	ErrTimeout                  URI = "wamp.error.timeout"
	ErrUnavailable              URI = "wamp.error.unavailable"
	ErrNoAvailableCallee        URI = "wamp.error.no_available_callee"
	ErrOptionNotAllowed         URI = "wamp.error.option_not_allowed"
	ErrNoEligibleCallee         URI = "wamp.error.no_eligible_callee"
	ErrOptionDisallowedDisclose URI = "wamp.error.option_disallowed.disclose_me"
	ErrNetworkFailure           URI = "wamp.error.network_failure"
	ErrProtocolViolation        URI = "wamp.error.protocol_violation"
	ErrPayloadSizeExceeded      URI = "wamp.error.payload_size_exceeded"
	ErrFeatureNotSupported      URI = "wamp.error.feature_not_supported"
	ErrTypeCheck                URI = "wamp.error.type_check_error"

	CloseNormal         URI = "wamp.close.normal"
	CloseSystemShutdown URI = "wamp.close.system_shutdown"
	CloseRealm          URI = "wamp.close.close_realm"
	CloseGoodbyeAndOut  URI = "wamp.close.goodbye_and_out"
	CloseKilled         URI = "wamp.close.killed"
	// CloseSlowConsumer is Pawl's reason for cutting off a peer whose outbound queue overflowed.
	CloseSlowConsumer URI = "pawl.close.slow_consumer"
)

// ErrRuntimeError is what a callee answers when its procedure failed without an error URI
// of its own (as Autobahn does).
const ErrRuntimeError URI = "wamp.error.runtime_error"
