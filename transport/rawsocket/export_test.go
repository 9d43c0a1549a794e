package rawsocket

import "github.com/pawl-wamp/pawl/transport/internal/sockio"

// CountReads counts the read system calls of plain sockets' readers until restore.
func CountReads() (reads interface{ Load() int64 }, restore func()) { return sockio.CountReads() }
