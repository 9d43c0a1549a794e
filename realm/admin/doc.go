// Package admin is the router's admin listener: what an operator, a load balancer and
// Prometheus ask of a running router, on an address of its own (loopback by default).
//
//   - /metrics: Prometheus exposition of the router's counters (metrics.go) and the Go
//     runtime's and process's.
//   - /healthz: the process is alive. /readyz: the router serves — every Check passes
//     (listeners, the history store); otherwise 503 with a JSON body naming what is not
//     ready (health.go).
//   - /status: a page showing realms, sessions, subscriptions, registrations and recent
//     slow-consumer cut-offs, which it reads from /status.json every two seconds (status.go).
//
// Nothing here counts: the router's layers keep plain atomic counters where the work
// happens (session.Traffic, pubsub.Counts, rpc.Counts, realm.AuthCounts), and a scrape reads
// them. Handler builds it all; cmd/pawl serves it where the config's admin.listen says.
package admin
