package admin

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/transport/websocket"
)

// descLimitRefusals counts what a limit refused, by limit. The counters are the process-wide
// LimitStats of the packages that enforce each limit (README "Limits"), read at scrape time.
var descLimitRefusals = prometheus.NewDesc("pawl_limit_refusals_total",
	"Requests, connections and messages refused because a configured limit was hit, by limit.",
	[]string{"limit"}, nil)

// limitCounters names each limit counter by the config key (or rule) it enforces; a label
// value is fixed here, never taken from a client.
var limitCounters = []struct {
	limit string
	count *atomic.Int64
}{
	{"max_sessions", &websocket.LimitStats.ConnectionsRefused},
	{"max_message_size", &websocket.LimitStats.MessagesTooBig},
	{"max_uri_length", &realm.LimitStats.URITooLong},
	{"invalid_uri", &realm.LimitStats.InvalidURI},
	{"anonymous_session_kill", &realm.LimitStats.AnonymousKills},
	{"testament_bytes", &realm.LimitStats.TestamentBytes},
	{"cluster_unavailable", &realm.LimitStats.ClusterUnavailable},
	{"max_subscriptions_per_session", &pubsub.LimitStats.SubscriptionLimit},
	{"retained", &pubsub.LimitStats.RetainedRefused},
	{"reserved_topic", &pubsub.LimitStats.ReservedTopic},
	{"history_not_kept", &pubsub.LimitStats.HistoryNotKept},
	{"call_queue_limit", &rpc.LimitStats.CallQueueFull},
	{"max_queued_call_bytes", &rpc.LimitStats.QueuedCallBytes},
	{"progressive_input_too_fast", &rpc.LimitStats.StreamTooFast},
	{"max_registrations_per_session", &rpc.LimitStats.RegistrationLimit},
	{"reserved_procedure", &rpc.LimitStats.ReservedNamespace},
}

// limitCollector exports the limit counters; it keeps no state of its own.
type limitCollector struct{}

func (limitCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descLimitRefusals }

func (limitCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range limitCounters {
		ch <- prometheus.MustNewConstMetric(descLimitRefusals, prometheus.CounterValue, float64(c.count.Load()), c.limit)
	}
}
