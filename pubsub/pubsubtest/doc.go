// Package pubsubtest is the contract every pubsub.Broker must pass: BrokerContract runs the
// broker's whole observable behaviour — matching, subscribe and unsubscribe, exclusion and
// black/white listing, publisher disclosure, acknowledgements, retained events, event history,
// meta events, sessions leaving, and the subscribe/publish ordering guarantees — against a
// broker the caller builds, through real router sessions over fake in-memory peers
// (internal/fakepeer). The in-process broker runs it in pubsub's tests; a clustered one runs
// the same suite.
package pubsubtest
