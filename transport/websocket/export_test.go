package websocket

import "github.com/pawl-wamp/pawl/transport/internal/sockio"

// SetOutboxShareAbove lets a test share small flushes with helpers; it returns the restore.
func SetOutboxShareAbove(n int) (restore func()) { return sockio.SetShareAbove(n) }

// ParkedWithoutWriter reports whether c's reader is parked and c holds no writer state.
func (c *Conn) ParkedWithoutWriter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parked && c.wr == nil
}
