package websocket

// Close reasons the engine and the plain-WebSocket App (transport/wsapp) use (the text before
// the colon is stable; what follows explains).
const (
	ReasonKeepaliveTimeout = "pawl.close.keepalive_timeout"
	ReasonSlowConsumer     = "pawl.close.slow_consumer"
	ReasonMessageTooBig    = "pawl.close.message_too_big"
	ReasonTooManyFragments = "pawl.close.too_many_fragments"
	ReasonInternalError    = "pawl.close.internal_error"
	ReasonConnectionLost   = "pawl.close.connection_lost"
	ReasonShutdown         = "pawl.close.shutdown"
)
