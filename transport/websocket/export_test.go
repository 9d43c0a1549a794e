package websocket

// SetOutboxShareAbove lets a test share small flushes with helpers; it returns the restore.
func SetOutboxShareAbove(n int) (restore func()) {
	old := outboxShareAbove.Swap(int32(n))
	return func() { outboxShareAbove.Store(old) }
}
