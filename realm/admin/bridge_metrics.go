package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pawl-wamp/pawl/realm/httpbridge"
)

var (
	descBridgeRequests = prometheus.NewDesc("pawl_bridge_requests_total",
		"HTTP requests received by the HTTP bridge's publisher, caller and webhook services.", nil, nil)
	descBridgeRefusals = prometheus.NewDesc("pawl_bridge_refusals_total",
		"HTTP bridge requests answered with a 4xx or 5xx status, by the error URI of the refusal.", []string{"reason"}, nil)
	descBridgeForwarded = prometheus.NewDesc("pawl_bridge_events_forwarded_total",
		"Events the HTTP bridge's subscriber forwarders POSTed and their endpoints accepted.", nil, nil)
	descBridgeRetries = prometheus.NewDesc("pawl_bridge_forward_retries_total",
		"Further POST attempts of the HTTP bridge's subscriber forwarders after a failed one.", nil, nil)
	descBridgeFailures = prometheus.NewDesc("pawl_bridge_forward_failures_total",
		"Events the HTTP bridge's subscriber forwarders gave up (retries exhausted, or refused by the endpoint).", nil, nil)
	descBridgeDropped = prometheus.NewDesc("pawl_bridge_events_dropped_total",
		"Events the HTTP bridge's subscriber forwarders dropped because their queue was full.", nil, nil)
	descBridgeInvocations = prometheus.NewDesc("pawl_bridge_invocations_total",
		"Invocations the HTTP bridge's callee forwarders POSTed to their endpoints.", nil, nil)
)

// bridgeCollector reads the HTTP bridge's counters (httpbridge.Stats, which sums its
// forwarders' counters) at scrape time; it keeps no state of its own.
type bridgeCollector struct{ b *httpbridge.Bridge }

func (c bridgeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBridgeRequests, descBridgeRefusals, descBridgeForwarded,
		descBridgeRetries, descBridgeFailures, descBridgeDropped, descBridgeInvocations} {
		ch <- d
	}
}

func (c bridgeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descBridgeRequests, st.Requests.Load())
	for reason, n := range st.RefusedByReason() {
		counter(descBridgeRefusals, n, string(reason))
	}
	counter(descBridgeForwarded, st.Forwarded.Load())
	counter(descBridgeRetries, st.Retries.Load())
	counter(descBridgeFailures, st.Failed.Load())
	counter(descBridgeDropped, st.Dropped.Load())
	counter(descBridgeInvocations, st.Invoked.Load())
}
