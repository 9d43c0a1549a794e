package sockio

import "time"

// Defaults both socket transports use for zero-valued options.
const (
	DefaultPingInterval   = 30 * time.Second
	DefaultPongTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultQueueMessages  = 4096
	DefaultQueueBytes     = 16 << 20
	DefaultReadBufferSize = 1024
)

// Limits are the options both socket transports share: keepalive, write timeout, the bounds
// of the outbound queue and the read buffer's size.
type Limits struct {
	PingInterval, PongTimeout, WriteTimeout   time.Duration
	QueueMessages, QueueBytes, ReadBufferSize int
}

// WithDefaults fills zero fields with the defaults (a negative PingInterval, no keepalive,
// stays).
func (l Limits) WithDefaults() Limits {
	if l.PingInterval == 0 {
		l.PingInterval = DefaultPingInterval
	}
	if l.PongTimeout <= 0 {
		l.PongTimeout = DefaultPongTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.QueueMessages <= 0 {
		l.QueueMessages = DefaultQueueMessages
	}
	if l.QueueBytes <= 0 {
		l.QueueBytes = DefaultQueueBytes
	}
	if l.ReadBufferSize <= 0 {
		l.ReadBufferSize = DefaultReadBufferSize
	}
	return l
}
