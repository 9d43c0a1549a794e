package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pawl-wamp/pawl/pubsub"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/rpc"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/wamp"
)

// The router's metrics. Counters end in _total, sizes are in bytes, durations in seconds.
var (
	descSessions = prometheus.NewDesc("pawl_sessions",
		"Sessions joined, by realm, transport and serializer.", []string{"realm", "transport", "serializer"}, nil)
	descReceived = prometheus.NewDesc("pawl_messages_received_total",
		"WAMP messages read from peers, by realm and message type.", []string{"realm", "type"}, nil)
	descSent = prometheus.NewDesc("pawl_messages_sent_total",
		"WAMP messages written to peers, by realm and message type.", []string{"realm", "type"}, nil)
	descReceivedBytes = prometheus.NewDesc("pawl_received_bytes_total",
		"Bytes of WAMP messages read from peers (serialized), by realm and message type.", []string{"realm", "type"}, nil)
	descSentBytes = prometheus.NewDesc("pawl_sent_bytes_total",
		"Bytes of WAMP messages written to peers (serialized), by realm and message type.", []string{"realm", "type"}, nil)
	descErrors = prometheus.NewDesc("pawl_errors_sent_total",
		"ERROR messages the router sent, by realm and error URI (beyond 200 distinct URIs per realm, under \"(other)\").",
		[]string{"realm", "uri"}, nil)
	descPublications = prometheus.NewDesc("pawl_publications_total",
		"Publications of peers routed by the broker (not the router's own meta events).", []string{"realm"}, nil)
	descDeliveries = prometheus.NewDesc("pawl_events_delivered_total",
		"EVENTs of publications queued for subscribers (one per recipient and matching subscription).", []string{"realm"}, nil)
	descCalls = prometheus.NewDesc("pawl_calls_total",
		"Calls routed to the dealer, whatever their outcome.", []string{"realm"}, nil)
	descCallDuration = prometheus.NewDesc("pawl_call_duration_seconds",
		"Time from a CALL to the final RESULT or ERROR its callee's answer (or departure) produced.", []string{"realm"}, nil)
	descSlowConsumers = prometheus.NewDesc("pawl_slow_consumer_disconnects_total",
		"Sessions cut off because their outbound queue was full.", []string{"realm"}, nil)
	descQueuedMessages = prometheus.NewDesc("pawl_queued_messages",
		"Messages waiting in the realm's sessions' outbound queues.", []string{"realm"}, nil)
	descQueuedBytes = prometheus.NewDesc("pawl_queued_bytes",
		"Bytes waiting in the realm's sessions' outbound queues.", []string{"realm"}, nil)
	descMaxQueuedMessages = prometheus.NewDesc("pawl_session_queue_max_messages",
		"The longest outbound queue among the realm's sessions, in messages.", []string{"realm"}, nil)
	descAuth = prometheus.NewDesc("pawl_authentications_total",
		"Authentications, by realm, method and result (success or failure).", []string{"realm", "method", "result"}, nil)
	descHistoryWritten = prometheus.NewDesc("pawl_history_events_written_total",
		"Events written to the event history store.", []string{"realm"}, nil)
	descHistoryNotKept = prometheus.NewDesc("pawl_history_events_not_kept_total",
		"Events meant for the history but not kept: writer_behind (its queue was full) or store_failed (the store refused them).",
		[]string{"realm", "reason"}, nil)
	descProtocolViolations = prometheus.NewDesc("pawl_protocol_violations_total",
		"Sessions aborted for breaking the WAMP protocol (all realms and handshakes).", nil, nil)
)

// routerCollector reads the router's counters at scrape time; it keeps no state of its own.
type routerCollector struct{ rt *realm.Router }

func (c routerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descReceived, descSent, descReceivedBytes, descSentBytes,
		descErrors, descPublications, descDeliveries, descCalls, descCallDuration, descSlowConsumers,
		descQueuedMessages, descQueuedBytes, descMaxQueuedMessages, descAuth, descHistoryWritten, descHistoryNotKept,
		descProtocolViolations} {
		ch <- d
	}
}

func (c routerCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descProtocolViolations, uint64(session.Stats.ProtocolViolations.Load()))
	for _, r := range c.rt.Realms() {
		name := string(r.Name())
		c.collectSessions(r, name, gauge)

		r.Traffic().EachType(func(in, out session.TypeTraffic) {
			if in.Messages > 0 || routerReceives[in.Type] {
				counter(descReceived, in.Messages, name, in.Type.String())
				counter(descReceivedBytes, in.Bytes, name, in.Type.String())
			}
			if out.Messages > 0 || routerSends[out.Type] {
				counter(descSent, out.Messages, name, out.Type.String())
				counter(descSentBytes, out.Bytes, name, out.Type.String())
			}
		})
		for uri, n := range r.Traffic().Errors() {
			counter(descErrors, n, name, string(uri))
		}
		for _, a := range r.AuthCounts() {
			counter(descAuth, a.Successes, name, a.Method, "success")
			counter(descAuth, a.Failed, name, a.Method, "failure")
		}
		counter(descSlowConsumers, r.SlowConsumerCutoffs(), name)

		if b, ok := r.Broker().(interface{ Counts() pubsub.Counts }); ok {
			bc := b.Counts()
			counter(descPublications, bc.Publications, name)
			counter(descDeliveries, bc.Deliveries, name)
			if bc.HistoryEnabled {
				counter(descHistoryWritten, bc.HistoryWritten, name)
				counter(descHistoryNotKept, bc.HistoryQueueFull, name, "writer_behind")
				counter(descHistoryNotKept, bc.HistoryStoreFailed, name, "store_failed")
			}
		}
		if d, ok := r.Dealer().(interface{ Counts() rpc.Counts }); ok {
			dc := d.Counts()
			counter(descCalls, dc.Calls, name)
			buckets := make(map[float64]uint64, len(rpc.LatencyBuckets))
			for i, le := range rpc.LatencyBuckets {
				buckets[le] = dc.Latency.Buckets[i]
			}
			ch <- prometheus.MustNewConstHistogram(descCallDuration, dc.Latency.Count, dc.Latency.Sum, buckets, name)
		}
	}
}

// collectSessions reports a realm's sessions by transport and serializer, and its sessions'
// outbound queues.
func (c routerCollector) collectSessions(r *realm.Realm, name string, gauge func(*prometheus.Desc, float64, ...string)) {
	type key struct{ transport, serializer string }
	counts := map[key]int{}
	// The realm's codecs and transports always appear, at zero when unused.
	for _, codec := range session.Codecs {
		counts[key{TransportWebSocket, codec.Name()}] = 0
	}
	var queuedMsgs, queuedBytes, maxMsgs int
	for _, s := range r.Sessions() {
		counts[key{Transport(s), serializer(s)}]++
		msgs, bytes := QueueDepth(s)
		queuedMsgs += msgs
		queuedBytes += bytes
		maxMsgs = max(maxMsgs, msgs)
	}
	for k, n := range counts {
		gauge(descSessions, float64(n), name, k.transport, k.serializer)
	}
	gauge(descQueuedMessages, float64(queuedMsgs), name)
	gauge(descQueuedBytes, float64(queuedBytes), name)
	gauge(descMaxQueuedMessages, float64(maxMsgs), name)
}

// TransportWebSocket is the transport of sessions from the network; in-process clients
// (realm.Router.LocalClient) use "memory".
const TransportWebSocket = "websocket"

// Transport names the transport a session came over (peer.Details.Transport).
func Transport(s *session.Session) string {
	if p := s.Peer(); p != nil {
		if t := p.Details().Transport; t != "" {
			return t
		}
	}
	return "unknown"
}

func serializer(s *session.Session) string {
	if s.Codec == nil {
		return "unknown"
	}
	return s.Codec.Name()
}

// QueueDepth is what waits in a session's outbound queue: messages and bytes.
func QueueDepth(s *session.Session) (messages, bytes int) {
	if p := s.Peer(); p != nil {
		return p.Queued()
	}
	return 0, 0
}

// routerReceives and routerSends are the message types that flow each way between a router
// and its peers: their counters are exported even at zero, so that rates start from the
// first message.
var (
	routerReceives = typeSet(wamp.TypeHello, wamp.TypeAuthenticate, wamp.TypeAbort, wamp.TypeGoodbye, wamp.TypeError,
		wamp.TypePublish, wamp.TypeSubscribe, wamp.TypeUnsubscribe, wamp.TypeCall, wamp.TypeCancel,
		wamp.TypeRegister, wamp.TypeUnregister, wamp.TypeYield)
	routerSends = typeSet(wamp.TypeWelcome, wamp.TypeAbort, wamp.TypeChallenge, wamp.TypeGoodbye, wamp.TypeError,
		wamp.TypePublished, wamp.TypeSubscribed, wamp.TypeUnsubscribed, wamp.TypeEvent, wamp.TypeResult,
		wamp.TypeRegistered, wamp.TypeUnregistered, wamp.TypeInvocation, wamp.TypeInterrupt)
)

func typeSet(types ...wamp.MessageType) map[wamp.MessageType]bool {
	m := make(map[wamp.MessageType]bool, len(types))
	for _, t := range types {
		m[t] = true
	}
	return m
}
