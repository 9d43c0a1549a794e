// Command pawlbench drives a WAMP router (Pawl, nexus, any other) over WebSocket and reports
// throughput, latency, and the router's CPU and memory read from /proc.
//
//	pawlbench -scenario fanout -url ws://127.0.0.1:8080/ws -subscribers 1000 -rate 200 -pid PID
//	pawlbench -scenario rpc    -callees 2 -callers 64 -duration 10s -pid PID
//	pawlbench -scenario idle   -sessions 19000 -source-ips 4 -pid PID
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

type config struct {
	url         string
	realm       wamp.URI
	codec       wamp.Codec
	pid         int
	duration    time.Duration
	subscribers int
	rate        int
	window      int
	payload     int
	callees     int
	callers     int
	sessions    int
	sourceIPs   int
	settle      time.Duration
	jsonOut     bool
}

// report is what a scenario measured; printed as text, or one JSON line with -json.
type report struct {
	Scenario    string  `json:"scenario"`
	Serializer  string  `json:"serializer"`
	Ops         int64   `json:"ops"` // deliveries, calls, or joined sessions
	OpsPerSec   float64 `json:"ops_per_sec"`
	Dropped     int64   `json:"dropped"` // events published but never delivered
	Failed      int64   `json:"failed"`  // calls or joins that failed
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	RouterCPU   float64 `json:"router_cpu_s"`
	CPUPerOpUs  float64 `json:"router_cpu_us_per_op"`
	LoadPerOpUs float64 `json:"loadtool_cpu_us_per_op"` // the load tool's own CPU
	// ReadsPerOp and WritesPerOp are the router's read and write system calls per operation
	// (/proc/PID/io syscr and syscw).
	ReadsPerOp  float64 `json:"router_syscr_per_op"`
	WritesPerOp float64 `json:"router_syscw_per_op"`
	RSSPerOp    float64 `json:"router_rss_bytes_per_session,omitempty"`
	// WirePerOp is the bytes the load tool read off its sockets per delivery (fanout),
	// WebSocket framing (and compression, with -deflate) included.
	WirePerOp float64 `json:"wire_bytes_per_op,omitempty"`
	Deflate   bool    `json:"deflate,omitempty"`
	Seconds   float64 `json:"seconds"`
}

func main() {
	var cfg config
	var realm, serializer, scenario string
	flag.StringVar(&scenario, "scenario", "fanout", "fanout, rpc or idle")
	flag.StringVar(&cfg.url, "url", "ws://127.0.0.1:8080/ws", "router URL: ws://host:port/path (WebSocket) or rs://host:port (RawSocket)")
	flag.StringVar(&realm, "realm", "realm1", "realm to join")
	flag.StringVar(&serializer, "serializer", "json", "json or msgpack")
	flag.IntVar(&cfg.pid, "pid", 0, "router process ID, for CPU and memory figures from /proc")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to publish or call")
	flag.IntVar(&cfg.subscribers, "subscribers", 1000, "fanout: subscribers on the topic")
	flag.IntVar(&cfg.rate, "rate", 200, "fanout: publications per second; 0: as fast as subscribers keep up (closed loop)")
	flag.IntVar(&cfg.window, "window", 20, "fanout with rate 0: publications ahead of the average subscriber")
	flag.IntVar(&cfg.payload, "payload", 64, "fanout and rpc: payload string length in bytes")
	flag.IntVar(&cfg.callees, "callees", 1, "rpc: callees sharing the procedure (round-robin)")
	flag.IntVar(&cfg.callers, "callers", 64, "rpc: concurrent callers, one session each")
	flag.IntVar(&cfg.sessions, "sessions", 10000, "idle: sessions to join")
	flag.IntVar(&cfg.sourceIPs, "source-ips", 1, "spread connections over 127.0.0.1..127.0.0.N (past the per-address port limit)")
	flag.DurationVar(&cfg.settle, "settle", 2*time.Second, "idle: how long the sessions stay joined before the router's memory is read (past ping_interval: with keepalive pings)")
	flag.BoolVar(&cfg.jsonOut, "json", false, "print the report as one JSON line")
	flag.BoolVar(&deflate, "deflate", false, "offer permessage-deflate on every connection (the router must enable it)")
	flag.Parse()
	cfg.realm = wamp.URI(realm)
	var ok bool
	if cfg.codec, ok = wamp.CodecNamed(serializer); !ok {
		fmt.Fprintln(os.Stderr, "pawlbench: unknown serializer", serializer)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var (
		r   report
		err error
	)
	switch scenario {
	case "fanout":
		r, err = runFanout(ctx, cfg)
	case "rpc":
		r, err = runRPC(ctx, cfg)
	case "idle":
		r, err = runIdle(ctx, cfg)
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pawlbench:", err)
		os.Exit(1)
	}
	r.Scenario, r.Serializer, r.Deflate = scenario, serializer, deflate
	if cfg.jsonOut {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("%s (%s): %d ops in %.1fs = %.0f/s; dropped %d, failed %d; p50 %.0fµs p99 %.0fµs; router CPU %.2fs = %.2fµs/op; router syscalls %.2f reads %.2f writes/op; load tool %.2fµs/op",
		r.Scenario, r.Serializer, r.Ops, r.Seconds, r.OpsPerSec, r.Dropped, r.Failed, r.P50us, r.P99us, r.RouterCPU, r.CPUPerOpUs,
		r.ReadsPerOp, r.WritesPerOp, r.LoadPerOpUs)
	if r.RSSPerOp > 0 {
		fmt.Printf("; router memory %.0f bytes/session", r.RSSPerOp)
	}
	if r.WirePerOp > 0 {
		fmt.Printf("; %.1f bytes read/op (deflate %v)", r.WirePerOp, deflate)
	}
	fmt.Println()
}

// sourceIP picks the loopback address for connection i.
func (c config) sourceIP(i int) string {
	if c.sourceIPs <= 1 {
		return ""
	}
	return fmt.Sprintf("127.0.0.%d", 1+i%c.sourceIPs)
}

// dialMany joins n peers, at most 64 dials at a time.
func dialMany(ctx context.Context, cfg config, n int) ([]*peer, error) {
	peers := make([]*peer, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			p, err := dialPeer(ctx, cfg.url, cfg.realm, cfg.codec, cfg.sourceIP(i))
			peers[i] = p
			errs <- err
		}()
	}
	var first error
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		for _, p := range peers {
			if p != nil {
				p.ws.Close()
			}
		}
		return nil, fmt.Errorf("join: %w", first)
	}
	return peers, nil
}

func (r *report) finish(before, after procStats, elapsed time.Duration, h *histogram) {
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
	}
	r.RouterCPU = after.cpuSeconds - before.cpuSeconds
	if r.Ops > 0 {
		r.CPUPerOpUs = r.RouterCPU * 1e6 / float64(r.Ops)
		r.LoadPerOpUs = (after.selfSeconds - before.selfSeconds) * 1e6 / float64(r.Ops)
		r.ReadsPerOp = float64(after.syscr-before.syscr) / float64(r.Ops)
		r.WritesPerOp = float64(after.syscw-before.syscw) / float64(r.Ops)
	}
	if h != nil {
		r.P50us = float64(h.quantile(0.50).Microseconds())
		r.P99us = float64(h.quantile(0.99).Microseconds())
	}
}
