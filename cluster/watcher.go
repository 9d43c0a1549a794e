package cluster

import "github.com/nats-io/nats.go/jetstream"

// StopWatcher stops a key-value watcher without waiting for JetStream to delete its
// consumer. Stopping ends the watcher's subscription at once (its Updates channel closes);
// deleting the consumer is then an API request, which a node whose peers are gone would wait
// on for the client's whole default timeout (5 s), once per watcher — enough to hold a
// node's shutdown past its bound. The request runs in the background instead, and ends with
// its answer or with the connection; the server drops an unused watch consumer by itself.
func StopWatcher(kw jetstream.KeyWatcher) {
	go func() { _ = kw.Stop() }()
}
