#!/usr/bin/env bash
# gRPC-shaped unary calls through each proxy, HTTP/2 on both sides: the sidecar beside HAProxy
# and NGINX (grpc_pass), and direct to the upstream.
#
#   bench/e2e/grpc.sh                    # REPS=3 DURATION=10 WARMUP=60 (the h2-to-h2 path takes the JIT longer), about 6 min
#
# Every call is a POST with content-type application/grpc and te: trailers, a 5-byte gRPC frame
# header plus a 100-byte message, answered by nginx (one worker, two h2c ports, the two endpoints
# each proxy balances over) with 200, a 105-byte body and a grpc-status trailer (nginx's `return`
# cannot write the frame header's zero bytes, and nothing on the path decodes the body: the
# figures are the proxies' own work on
# HTTP/2 framing, HPACK, flow control and trailers on both sides; no protobuf is parsed anywhere.
# Layout as in the peers harness: h2load (-c10 -m10) on CPU 0, the proxy and nginx on CPU 1, one
# thread each. Per rep: requests/s, and proxy CPU per request from /proc (utime + stime over the
# measured run). Prints a Markdown table of medians and ratios against HAProxy; raw rows in
# OUT/grpc.csv.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-60}
OUT=${OUT:-$(mktemp -d /tmp/grpc.XXXXXX)}
for tool in nginx haproxy h2load; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
"$root/sidecar" version >/dev/null   # builds the proxy now if it is missing or older than its sources
run=$(mktemp -d /tmp/grpc-run.XXXXXX)
. "$(dirname "$0")/lib.sh"
chmod 755 "$run"
mkdir -p "$run/tmp" "$OUT"
message=$(head -c 100 /dev/zero | tr '\0' 'x')
printf '\0\0\0\0\x64%s' "$message" >"$run/request.bin"

cat >"$run/upstream.conf" <<EOF
worker_processes 1;
pid upstream.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path tmp/body;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:18091 http2;
        listen 127.0.0.1:18092 http2;
        location / {
            default_type application/grpc;
            add_trailer grpc-status 0 always;
            return 200 "xxxxx$message";
        }
    }
}
EOF
cat >"$run/haproxy.cfg" <<'EOF'
global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe_grpc
    bind 127.0.0.1:18191 proto h2
    default_backend be_grpc
backend be_grpc
    balance roundrobin
    server up1 127.0.0.1:18091 proto h2
    server up2 127.0.0.1:18092 proto h2
EOF
cat >"$run/nginx.conf" <<'EOF'
worker_processes 1;
pid nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path tmp/body;
    keepalive_requests 1000000;
    upstream grpc_up {
        server 127.0.0.1:18091;
        server 127.0.0.1:18092;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:18291 http2;
        location / { grpc_pass grpc://grpc_up; }
    }
}
EOF
cat >"$run/sidecar.yaml" <<'EOF'
server: { workers: 1 }
admin: { address: 127.0.0.1:18499 }
listeners:
  - name: grpc
    address: 127.0.0.1:18491
    protocol: http
    cluster: grpc
    http: { generate_request_id: false }
clusters:
  - name: grpc
    lb_policy: round_robin
    upstream_protocol: h2c
    endpoints: [{ address: 127.0.0.1:18091 }, { address: 127.0.0.1:18092 }]
EOF

taskset -c 1 nginx -c "$run/upstream.conf" -p "$run/" -e "$run/upstream.err" -g 'daemon off;' & pids+=($!)
taskset -c 1 haproxy -f "$run/haproxy.cfg" -db >"$run/haproxy.log" 2>&1 & haproxy_pid=$!; pids+=($!)
taskset -c 1 nginx -c "$run/nginx.conf" -p "$run/" -e "$run/nginx.err" -g 'daemon off;' & pids+=($!)
taskset -c 1 "$root/sidecar" run -c "$run/sidecar.yaml" --log-level warn >"$run/sidecar.log" 2>&1 & sidecar_pid=$!; pids+=($!)
for port in 18091 18191 18291 18491; do wait_port "$port" || { echo "port $port did not open" >&2; exit 1; }; done
# a port held by something left over from another run opens too: check that ours stay up
alive() {
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "a server of this run exited (a port taken by another process?):" >&2; cat "$run"/*.log "$run"/*.err >&2; exit 1; }
  done
}
nginx_pid=$(cat "$run/nginx.pid")   # the worker does the work: measure the master's one child
nginx_pid=$(pgrep -P "$nginx_pid" | head -1)

declare -A port=([direct]=18091 [haproxy]=18191 [nginx]=18291 [sidecar]=18491)
declare -A pid=([direct]= [haproxy]=$haproxy_pid [nginx]=$nginx_pid [sidecar]=$sidecar_pid)
load() {   # load PORT SECONDS -> prints "requests succeeded"
  taskset -c 0 h2load -c10 -m10 -D "$2" -d "$run/request.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$1/bench.Echo/Call" | awk '/^requests:/{print $8}'
}
ticks() { [ -n "$1" ] && awk '{print $14+$15}' "/proc/$1/stat" || echo 0; }
hz=$(getconf CLK_TCK)
for peer in haproxy nginx sidecar; do load "${port[$peer]}" "$WARMUP" >/dev/null; done
alive
echo "peer,rep,requests_per_s,cpu_us_per_request" >"$OUT/grpc.csv"
for rep in $(seq "$REPS"); do
  for peer in direct haproxy nginx sidecar; do
    t0=$(ticks "${pid[$peer]}")
    n=$(load "${port[$peer]}" "$DURATION")
    t1=$(ticks "${pid[$peer]}")
    awk -v p="$peer" -v r="$rep" -v n="$n" -v d="$DURATION" -v t="$((t1 - t0))" -v hz="$hz" \
      'BEGIN { printf "%s,%d,%.0f,%s\n", p, r, n / d, (p == "direct" || n == 0) ? "" : sprintf("%.1f", t / hz / n * 1e6) }' >>"$OUT/grpc.csv"
  done
  alive
done
python3 - "$OUT/grpc.csv" <<'EOF' | tee "$OUT/grpc.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for peer in ("direct", "haproxy", "nginx", "sidecar"):
    rps = [float(r["requests_per_s"]) for r in rows if r["peer"] == peer]
    cpu = [float(r["cpu_us_per_request"]) for r in rows if r["peer"] == peer and r["cpu_us_per_request"]]
    med[peer] = (statistics.median(rps), statistics.median(cpu) if cpu else None, min(rps), max(rps))
print("| peer | req/s (median) | reps' range | proxy CPU per request | req/s vs HAProxy | CPU vs HAProxy |")
print("|---|--:|--:|--:|--:|--:|")
h = med["haproxy"]
for peer, (rps, cpu, lo, hi) in med.items():
    print(f"| {peer} | {rps:,.0f} | {lo:,.0f}-{hi:,.0f} | {'' if cpu is None else f'{cpu:.1f} µs'} | "
          f"{rps / h[0]:.2f}× | {'' if cpu is None else f'{cpu / h[1]:.2f}×'} |")
EOF
echo "results: $OUT/grpc.md, $OUT/grpc.csv"
