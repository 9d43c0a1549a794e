package websocket

import "sync/atomic"

// LimitStats counts what the transport refused for a limit; read with Load. (A full outbound
// queue is counted by its owner: the session layer's session.Stats.SlowConsumers.)
var LimitStats struct {
	ConnectionsRefused atomic.Int64 // upgrades answered 503: Options.MaxConnections (max_sessions)
	MessagesTooBig     atomic.Int64 // connections closed 1009: Options.MaxMessageSize
}
