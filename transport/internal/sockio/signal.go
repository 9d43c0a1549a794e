package sockio

// Signal is a connection's "this has happened" channel (its owner stopped reading, its socket
// is closed), made only when someone waits for it: an open connection that nobody waits on
// holds no channel. The connection keeps whether it happened, and its lock guards both.
type Signal struct{ ch chan struct{} }

// Wait is the channel that is closed when the signal fires; happened (the connection's flag)
// gives an already closed one.
func (s *Signal) Wait(happened bool) <-chan struct{} {
	if happened {
		return closedSignal
	}
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Fire closes the channel of whoever waits; the connection sets its flag with it, once.
func (s *Signal) Fire() {
	if s.ch != nil {
		close(s.ch)
	}
}

// closedSignal is what Wait gives after the event: a closed channel.
var closedSignal = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()
