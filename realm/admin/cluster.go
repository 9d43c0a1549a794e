package admin

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Cluster is what the admin routes show of a node of a cluster (cluster.Member implements
// it): its traffic on /metrics (pawl_cluster_*) and its nodes on the status page.
type Cluster interface {
	ClusterStatus() ClusterStatus
}

// ClusterStatus is a node's view of its cluster: /status.json's "cluster".
type ClusterStatus struct {
	Name    string `json:"name"`
	Node    string `json:"node"`
	Serving bool   `json:"serving"`
	Error   string `json:"error,omitempty"` // why not serving
	// Nodes are this node (self) and the live peers it hears.
	Nodes []ClusterNode `json:"nodes"`

	// The bus's NATS traffic for publications (envelopes sent and received, and their bytes),
	// nodes called down, and work refused while this node was cut off.
	MessagesSent     int64 `json:"-"`
	MessagesReceived int64 `json:"-"`
	BytesSent        int64 `json:"-"`
	BytesReceived    int64 `json:"-"`
	NodesDown        int64 `json:"-"`
	Refusals         int64 `json:"-"`
}

// ClusterNode is one node as seen from this one.
type ClusterNode struct {
	Name     string    `json:"name"`
	Slot     int       `json:"slot"`
	Self     bool      `json:"self"`
	LastSeen time.Time `json:"last_seen,omitzero"` // last heartbeat heard (peers)
}

var (
	descClusterMessagesSent = prometheus.NewDesc("pawl_cluster_messages_sent_total",
		"NATS messages the cluster's pub/sub bus sent to other nodes (one per publication per interested node).", nil, nil)
	descClusterMessagesReceived = prometheus.NewDesc("pawl_cluster_messages_received_total",
		"Publications the cluster's pub/sub bus received from other nodes.", nil, nil)
	descClusterBytesSent = prometheus.NewDesc("pawl_cluster_sent_bytes_total",
		"Bytes of the NATS messages the cluster's pub/sub bus sent.", nil, nil)
	descClusterBytesReceived = prometheus.NewDesc("pawl_cluster_received_bytes_total",
		"Bytes of the NATS messages the cluster's pub/sub bus received.", nil, nil)
	descClusterNodes = prometheus.NewDesc("pawl_cluster_nodes",
		"Nodes of the cluster up as this node sees them, itself included.", nil, nil)
	descClusterServing = prometheus.NewDesc("pawl_cluster_serving",
		"1 while this node serves, 0 while it is cut off from its cluster.", nil, nil)
	descClusterNodesDown = prometheus.NewDesc("pawl_cluster_node_down_events_total",
		"Nodes this node called down (silent for node_timeout, or restarted).", nil, nil)
	descClusterRefusals = prometheus.NewDesc("pawl_cluster_refusals_total",
		"Sessions and requests refused because this node was cut off from its cluster.", nil, nil)
)

// clusterCollector reads a node's cluster counters at scrape time.
type clusterCollector struct{ c Cluster }

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClusterMessagesSent, descClusterMessagesReceived, descClusterBytesSent,
		descClusterBytesReceived, descClusterNodes, descClusterServing, descClusterNodesDown, descClusterRefusals} {
		ch <- d
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.c.ClusterStatus()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descClusterMessagesSent, st.MessagesSent)
	counter(descClusterMessagesReceived, st.MessagesReceived)
	counter(descClusterBytesSent, st.BytesSent)
	counter(descClusterBytesReceived, st.BytesReceived)
	counter(descClusterNodesDown, st.NodesDown)
	counter(descClusterRefusals, st.Refusals)
	ch <- prometheus.MustNewConstMetric(descClusterNodes, prometheus.GaugeValue, float64(len(st.Nodes)))
	serving := 0.0
	if st.Serving {
		serving = 1
	}
	ch <- prometheus.MustNewConstMetric(descClusterServing, prometheus.GaugeValue, serving)
}
