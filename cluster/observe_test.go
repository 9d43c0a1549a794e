package cluster_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/cluster/clustertest"
	"github.com/pawl-wamp/pawl/internal/leakcheck"
	"github.com/pawl-wamp/pawl/realm/admin"
	"github.com/pawl-wamp/pawl/wamp"
)

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %d", url, err, resp.StatusCode)
	}
	return body
}

// metric reads an unlabelled sample of a Prometheus exposition (-1: absent).
func metric(exposition []byte, name string) float64 {
	for _, line := range strings.Split(string(exposition), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// A node's admin routes show its cluster: the bus's NATS traffic, the nodes up and called down
// on /metrics (promtool finds nothing wrong), and the nodes on /status.json (the status page's
// source).
func TestClusterObservability(t *testing.T) {
	leakcheck.Check(t)
	nodes := clustertest.StartNodes(t, 3, nil)
	r := startRouters(t, nodes)
	srv := make([]*httptest.Server, 2)
	for i := range srv {
		srv[i] = httptest.NewServer(admin.Handler(r[i].rt, admin.Options{Cluster: r[i].member}))
		t.Cleanup(srv[i].Close)
	}
	before := [2][]byte{get(t, srv[0].URL+"/metrics"), get(t, srv[1].URL+"/metrics")}

	in, _ := subscribe(t, r[1].join(t, "bob", "user", "json"), "com.example.seen", nil)
	pub := r[0].join(t, "alice", "user", "json")
	for i := range 3 {
		if _, err := pub.PublishAcknowledged(ctxT(t), "com.example.seen", nil, wamp.List{i}, nil); err != nil {
			t.Fatal(err)
		}
	}
	in.wait(t, 3)

	m0, m1 := get(t, srv[0].URL+"/metrics"), get(t, srv[1].URL+"/metrics")
	if bin, err := exec.LookPath("promtool"); err != nil {
		t.Fatalf("promtool not found (%v): run .ci/install-deps (Debian package prometheus)", err)
	} else {
		cmd := exec.Command(bin, "check", "metrics")
		cmd.Stdin = bytes.NewReader(m0)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
	delta := func(after []byte, i int, name string) float64 { return metric(after, name) - metric(before[i], name) }
	if d := delta(m0, 0, "pawl_cluster_messages_sent_total"); d != 3 {
		t.Errorf("node 1 sent %v messages for 3 publications to one interested node, want 3", d)
	}
	if d := delta(m1, 1, "pawl_cluster_messages_received_total"); d != 3 {
		t.Errorf("node 2 received %v publications, want 3", d)
	}
	if d := delta(m0, 0, "pawl_cluster_sent_bytes_total"); d <= 0 || d != delta(m1, 1, "pawl_cluster_received_bytes_total") {
		t.Errorf("node 1 sent %v bytes, node 2 received %v", d, delta(m1, 1, "pawl_cluster_received_bytes_total"))
	}
	if v := metric(m0, "pawl_cluster_nodes"); v != 3 {
		t.Errorf("pawl_cluster_nodes %v, want 3", v)
	}
	if v := metric(m0, "pawl_cluster_serving"); v != 1 {
		t.Errorf("pawl_cluster_serving %v, want 1", v)
	}
	if v := metric(m0, "pawl_cluster_refusals_total"); v < 0 {
		t.Error("pawl_cluster_refusals_total missing")
	}

	var st admin.Status
	if err := json.Unmarshal(get(t, srv[0].URL+"/status.json"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Cluster == nil || st.Cluster.Node != "node1" || len(st.Cluster.Nodes) != 3 || !st.Cluster.Nodes[0].Self ||
		st.Cluster.Nodes[1].Name != "node2" || st.Cluster.Nodes[2].Name != "node3" || st.Cluster.Nodes[2].Slot != nodes[2].Slot() {
		t.Errorf("status.json cluster: %+v", st.Cluster)
	}
	if page := get(t, srv[0].URL+"/status"); !bytes.Contains(page, []byte("renderCluster(st.cluster)")) {
		t.Error("the status page does not render the cluster")
	}

	nodes[2].Close() // called down within the bound
	deadline := time.Now().Add(clustertest.NodeTimeout + 10*clustertest.Heartbeat)
	for {
		m := get(t, srv[0].URL+"/metrics")
		if metric(m, "pawl_cluster_nodes") == 2 && metric(m, "pawl_cluster_node_down_events_total") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after node 3 died: pawl_cluster_nodes %v, pawl_cluster_node_down_events_total %v",
				metric(m, "pawl_cluster_nodes"), metric(m, "pawl_cluster_node_down_events_total"))
		}
		time.Sleep(clustertest.Heartbeat)
	}
}
