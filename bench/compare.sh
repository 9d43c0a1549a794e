#!/usr/bin/env bash
# Runs the load tool against Pawl and against the nexus router (gammazero/nexus v3.3.0), one
# after the other in this same run, each router started fresh per scenario, and prints both
# figures and their ratio. Nexus is built in a scratch folder outside the repository.
#
#   bench/compare.sh                      # all scenarios, JSON serializer
#   SCENARIOS="fanout rpc" SERIALIZER=msgpack bench/compare.sh
#
# Scenarios: fanout (RATE publications/s offered), fanout-max (closed loop: as fast as the
# subscribers take events, at most WINDOW publications ahead), rpc, idle.
# Knobs (environment): SCENARIOS, SERIALIZER, SUBSCRIBERS, RATE, WINDOW, DURATION, CALLERS,
# SESSIONS, SOURCE_IPS, WORKDIR (scratch folder; default a new one under /tmp).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${WORKDIR:-$(mktemp -d /tmp/pawl-bench.XXXXXX)}
scenarios=${SCENARIOS:-"fanout fanout-max rpc idle"}
serializer=${SERIALIZER:-json}
subscribers=${SUBSCRIBERS:-1000}
rate=${RATE:-200}
window=${WINDOW:-20}
duration=${DURATION:-10s}
callers=${CALLERS:-64}
sessions=${SESSIONS:-10000}
source_ips=${SOURCE_IPS:-4}

echo "== building in $work ($(nproc) cores)"
go build -C "$repo" -o "$work/pawl" ./cmd/pawl
go build -C "$repo" -o "$work/pawlbench" ./cmd/pawlbench
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
{"websocket": {"address": "127.0.0.1:18180"},
 "router": {"realms": [{"uri": "realm1", "anonymous_auth": true, "allow_disclose": true}]}}
JSON

# Each router gets the same open-files limit the load tool has.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

start_router() { # name → sets pid and url
	case $1 in
	pawl)
		"$work/pawl" serve -listen 127.0.0.1:18181 >"$work/pawl.log" 2>&1 &
		pid=$! url=ws://127.0.0.1:18181/ws ;;
	nexus)
		"$work/nexusd" -c "$work/nexus.json" >"$work/nexus.log" 2>&1 &
		pid=$! url=ws://127.0.0.1:18180/ws ;;
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
	for router in pawl nexus; do
		line=$(run "$router" "$scenario")
		echo "{\"router\": \"$router\", \"scenario\": \"$scenario\", \"report\": $line}" >>"$results"
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
          ("p50_us", "p50 µs", "lower is better"), ("p99_us", "p99 µs", "lower is better"),
          ("dropped", "dropped", ""), ("failed", "failed", ""),
          ("router_rss_bytes_per_session", "router bytes/session", "lower is better")]
for scenario, rs in by.items():
    p, n = rs.get("pawl", {}), rs.get("nexus", {})
    print(f"\n{scenario} ({p.get('serializer', '?')})")
    print(f"  {'':24} {'pawl':>12} {'nexus':>12} {'pawl/nexus':>11}")
    for key, label, note in fields:
        if key not in p and key not in n:
            continue
        a, b = p.get(key, 0), n.get(key, 0)
        ratio = f"{a / b:.2f}" if b else "-"
        print(f"  {label:24} {a:12.1f} {b:12.1f} {ratio:>11}  {note}")
PY
echo
echo "raw results: $results"
