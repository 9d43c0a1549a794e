#!/usr/bin/env bash
# Runs the load tool against Pawl and against the nexus router (gammazero/nexus v3.3.0), one
# after the other in this same run, each router started fresh per scenario, and prints both
# figures and their ratio. Nexus is built in a scratch folder outside the repository.
#
#   bench/compare.sh                      # all scenarios, JSON serializer
#   SCENARIOS="fanout rpc" SERIALIZER=msgpack bench/compare.sh
#   TRANSPORT=rawsocket bench/compare.sh  # every scenario over RawSocket (pawl on its WebSocket
#                                         # port, nexus on its rawsocket tcp_address)
#
# Scenarios: fanout (RATE publications/s offered), fanout-max (closed loop: as fast as the
# subscribers take events, at most WINDOW publications ahead), rpc, idle.
#
#   ROUTERS="pawl nexus floor" SCENARIOS=rpc bench/compare.sh
#
# adds bench/floorrouter, which answers only the rpc scenario's messages (JSON over WebSocket)
# with nothing but the system calls a call needs: its CPU per call against nexus's is the
# floor under any router's ratio in that run.
# Knobs (environment): SCENARIOS, SERIALIZER, TRANSPORT (websocket or rawsocket), SUBSCRIBERS, RATE, WINDOW, DURATION, CALLERS,
# SESSIONS, SOURCE_IPS, WORKDIR (scratch folder; default a new one under /tmp), PAWLBENCH (a
# load tool binary to use instead of building this tree's, e.g. to measure an older tree with
# the same tool), WRITE_DELAY
# (also run Pawl with limits.write_delay set to it, e.g. 20ms, as "pawl-delayed"), ROUTERS (any
# of pawl, nexus, floor), PAWL_PORT, NEXUS_PORT, NEXUS_RS_PORT, FLOOR_PORT (five digits each;
# defaults 18181, 18180, 18182, 18183: runs side by side on one machine need ports of their own).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${WORKDIR:-$(mktemp -d /tmp/pawl-bench.XXXXXX)}
scenarios=${SCENARIOS:-"fanout fanout-max rpc idle"}
serializer=${SERIALIZER:-json}
transport=${TRANSPORT:-websocket}
case $transport in
websocket) scheme=ws:// path=/ws ;;
rawsocket) scheme=rs:// path= ;;
*) echo "TRANSPORT=$transport: want websocket or rawsocket" >&2; exit 2 ;;
esac
subscribers=${SUBSCRIBERS:-1000}
rate=${RATE:-200}
window=${WINDOW:-20}
write_delay=${WRITE_DELAY:-}
routers=${ROUTERS:-"pawl nexus"}
if [ -n "$write_delay" ]; then
	routers="pawl pawl-delayed nexus"
fi
duration=${DURATION:-10s}
callers=${CALLERS:-64}
sessions=${SESSIONS:-10000}
source_ips=${SOURCE_IPS:-4}
pawl_port=${PAWL_PORT:-18181}
nexus_port=${NEXUS_PORT:-18180}
nexus_rs_port=${NEXUS_RS_PORT:-18182}
floor_port=${FLOOR_PORT:-18183}

echo "== building in $work ($(nproc) cores)"
go build -C "$repo" -o "$work/pawl" ./cmd/pawl
if [ -n "${PAWLBENCH:-}" ]; then # a load tool built elsewhere, e.g. to measure an older tree alike
	cp "$PAWLBENCH" "$work/pawlbench"
else
	go build -C "$repo" -o "$work/pawlbench" ./cmd/pawlbench
fi
case " $routers " in *" floor "*) go build -C "$repo" -o "$work/floorrouter" ./bench/floorrouter ;; esac
if [ ! -x "$work/nexusd" ]; then
	mkdir -p "$work/nexus-build"
	(
		cd "$work/nexus-build"
		[ -f go.mod ] || go mod init nexus-build >/dev/null 2>&1
		go get github.com/gammazero/nexus/v3/nexusd@v3.3.0 >/dev/null 2>&1
		go build -o "$work/nexusd" github.com/gammazero/nexus/v3/nexusd
	)
fi
cat > "$work/nexus.json" <<JSON
{"websocket": {"address": "127.0.0.1:$nexus_port"},
 "rawsocket": {"tcp_address": "127.0.0.1:$nexus_rs_port"},
 "router": {"realms": [{"uri": "realm1", "anonymous_auth": true, "allow_disclose": true}]}}
JSON
cat > "$work/pawl-delayed.yaml" <<YAML
listeners: [{listen: "127.0.0.1:$pawl_port", path: /ws}]
realms: [{name: realm1}]
limits: {write_delay: ${write_delay:-0s}}
YAML

# Each router gets the same open-files limit the load tool has.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

start_router() { # name → sets pid and url
	case $1 in
	pawl)
		"$work/pawl" serve -listen 127.0.0.1:$pawl_port >"$work/pawl.log" 2>&1 &
		pid=$! url=${scheme}127.0.0.1:$pawl_port$path ;;
	pawl-delayed)
		"$work/pawl" serve -config "$work/pawl-delayed.yaml" >"$work/pawl.log" 2>&1 &
		pid=$! url=${scheme}127.0.0.1:$pawl_port$path ;;
	floor)
		"$work/floorrouter" -listen 127.0.0.1:$floor_port >"$work/floor.log" 2>&1 &
		pid=$! url=ws://127.0.0.1:$floor_port/ws ;;
	nexus)
		"$work/nexusd" -c "$work/nexus.json" >"$work/nexus.log" 2>&1 &
		if [ "$transport" = rawsocket ]; then
			pid=$! url=rs://127.0.0.1:$nexus_rs_port
		else
			pid=$! url=ws://127.0.0.1:$nexus_port/ws
		fi ;;
	esac
	for _ in $(seq 50); do
		if (exec 3<>/dev/tcp/127.0.0.1/"${url:15:5}") 2>/dev/null; then return; fi
		sleep 0.1
	done
	echo "router $1 did not start" >&2
	exit 1
}

stop_router() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

run() { # router scenario → one JSON line
	local router=$1 scenario=$2 r=$rate
	if [ "$scenario" = fanout-max ]; then
		scenario=fanout r=0
	fi
	start_router "$router"
	"$work/pawlbench" -json -scenario "$scenario" -url "$url" -pid "$pid" -serializer "$serializer" \
		-subscribers "$subscribers" -rate "$r" -window "$window" -duration "$duration" -callers "$callers" \
		-sessions "$sessions" -source-ips "$source_ips" || echo '{}'
	stop_router
	sleep 1
}

results="$work/results.jsonl"
: >"$results"
for scenario in $scenarios; do
	for router in $routers; do
		if [ "$router" = floor ] && { [ "$scenario" != rpc ] || [ "$serializer" != json ] || [ "$transport" != websocket ]; }; then
			continue # the floor router answers only the rpc scenario, JSON over WebSocket
		fi
		line=$(run "$router" "$scenario")
		echo "{\"router\": \"$router\", \"scenario\": \"$scenario\", \"transport\": \"$transport\", \"report\": $line}" >>"$results"
	done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r.get("scenario", "?"), {})[r["router"]] = r["report"]
fields = [("ops_per_sec", "ops/s", "higher is better"),
          ("router_cpu_us_per_op", "router CPU µs/op", "lower is better"),
          ("loadtool_cpu_us_per_op", "load tool CPU µs/op", "the load tool's own share"),
          ("router_syscr_per_op", "router reads/op", "read syscalls (/proc/PID/io)"),
          ("router_syscw_per_op", "router writes/op", "write syscalls (/proc/PID/io)"),
          ("p50_us", "p50 µs", "lower is better"), ("p99_us", "p99 µs", "lower is better"),
          ("dropped", "dropped", ""), ("failed", "failed", ""),
          ("router_rss_bytes_per_session", "router bytes/session", "lower is better")]
for scenario, rs in by.items():
    p, n, d = rs.get("pawl", {}), rs.get("nexus", {}), rs.get("pawl-delayed")
    if d is None and "floor" in rs:
        d, dname = rs["floor"], "floor"
    else:
        dname = "pawl-delayed"
    transport = next((r.get("transport", "websocket") for r in rows if r.get("scenario") == scenario), "websocket")
    print(f"\n{scenario} ({p.get('serializer', '?')}, {transport})")
    head = f"  {'':24} {'pawl':>12} {'nexus':>12} {'pawl/nexus':>11}"
    if d is not None:
        head += f" {dname:>13} {dname.split('-')[-1] + '/nexus':>14}"
    print(head)
    for key, label, note in fields:
        if key not in p and key not in n:
            continue
        a, b = p.get(key, 0), n.get(key, 0)
        ratio = f"{a / b:.2f}" if b else "-"
        line = f"  {label:24} {a:12.2f} {b:12.2f} {ratio:>11}"
        if d is not None:
            c = d.get(key, 0)
            line += f" {c:13.1f} {(f'{c / b:.2f}' if b else '-'):>14}"
        print(f"{line}  {note}")
PY
echo
echo "raw results: $results"
