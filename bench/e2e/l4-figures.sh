#!/usr/bin/env bash
# L4 figures side by side in one run: sidecar (io_uring and epoll) vs HAProxy `mode tcp` vs direct.
#
#   bench/e2e/l4-figures.sh            # REPS=3 DURATION=5 WARMUP=15 by default
#
# Measures, on loopback only, with the load generator on LOADGEN_CPU and proxy + upstream sharing
# PROXY_CPU (the layout of ../shared/peers):
#   - iperf3 throughput, one stream (Gbit/s)
#   - new connections per second: wrk with "Connection: close" against an nginx upstream, so
#     every request is a new TCP connection through the proxy
#   - RSS of the proxy idle, and with OPEN idle connections held open through it
# Needs: haproxy nginx wrk iperf3 python3 (Debian: apt-get install -y haproxy nginx wrk iperf3).
# Every load is bounded by DURATION; everything started here is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-15}        # unrecorded load before each measured run; the JIT needs ~10 s here
OPEN=${OPEN:-1000}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
export SIDECAR_JAVA_OPTS=${SIDECAR_JAVA_OPTS:-}   # extra JVM flags for ./sidecar, after its own
OUT=${OUT:-$(mktemp -d /tmp/l4-figures.XXXXXX)}
run=$(mktemp -d /tmp/l4-run.XXXXXX)
. "$(dirname "$0")/lib.sh"

for tool in haproxy nginx wrk iperf3 python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y haproxy nginx wrk iperf3)" >&2; exit 1; }
done
"$root/sidecar" version >/dev/null   # builds the proxy now if it is missing or older than its sources

# Ports: upstream nginx 19081, iperf3 19201; haproxy 19181 (->nginx) 19183 (->iperf3); sidecar 19281 / 19283.
mkdir -p "$run/tmp"
cat >"$run/nginx.conf" <<NGINX
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx.err;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $run/tmp;
    keepalive_timeout 300s;
    client_header_timeout 300s;
    server { listen 127.0.0.1:19081 backlog=4096; location = / { return 200 "hello\n"; } }
}
NGINX
cat >"$run/haproxy.cfg" <<HAP
global
    nbthread 1
    maxconn 8000
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
listen http_tcp
    bind 127.0.0.1:19181
    server up 127.0.0.1:19081
listen iperf_tcp
    bind 127.0.0.1:19183
    server up 127.0.0.1:19201
HAP
cat >"$run/sidecar.yaml" <<YAML
admin: { address: 127.0.0.1:19901 }
listeners:
  - { name: http-tcp, address: 127.0.0.1:19281, cluster: nginx }
  - { name: iperf-tcp, address: 127.0.0.1:19283, cluster: iperf }
clusters:
  - { name: nginx, endpoints: [{ address: 127.0.0.1:19081 }] }
  - { name: iperf, endpoints: [{ address: 127.0.0.1:19201 }] }
YAML

taskset -c "$PROXY_CPU" nginx -c "$run/nginx.conf" -g 'daemon off;' & pids+=($!)
taskset -c "$PROXY_CPU" iperf3 -s -B 127.0.0.1 -p 19201 >"$run/iperf3.log" 2>&1 & pids+=($!)
sleep 1

rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }

start_peer() {  # name -> sets PEER_PID
  case $1 in
    haproxy) taskset -c "$PROXY_CPU" haproxy -f "$run/haproxy.cfg" -db >"$run/haproxy.log" 2>&1 & PEER_PID=$!; wait_port 19181 100 ;;
    # ./sidecar: the JVM flags and class archive the proxy ships with (it execs java, so $! is the JVM)
    sidecar-*) taskset -c "$PROXY_CPU" "$root/sidecar" run -c "$run/sidecar.yaml" \
                 --transport "${1#sidecar-}" >"$run/$1.log" 2>&1 & PEER_PID=$!; wait_port 19281 100 ;;
  esac
}
stop_peer() { kill "$PEER_PID" 2>/dev/null || true; wait "$PEER_PID" 2>/dev/null || true; }
ports() { case $1 in direct) echo "19081 19201" ;; haproxy) echo "19181 19183" ;; sidecar-*) echo "19281 19283" ;; esac; }

hold_open() {  # port count -> holds COUNT idle connections for a few seconds, prints how many opened
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    socks.append(s)
time.sleep(3)
print(len(socks))
PY
}

L="taskset -c $LOADGEN_CPU"
csv=$OUT/raw.csv
echo "peer,rep,gbps,conn_per_s,rss_idle_kb,rss_open_kb" >"$csv"
for rep in $(seq "$REPS"); do
  for peer in direct haproxy sidecar-io_uring sidecar-epoll; do
    read -r hp tp <<<"$(ports $peer)"
    PEER_PID=; rss_idle=; rss_open=
    if [ "$peer" != direct ]; then start_peer "$peer"; sleep 1; rss_idle=$(rss_kb "$PEER_PID"); fi
    # unrecorded warm-up, the same for every peer (the JVM's JIT needs it; the others don't mind)
    $L wrk -t1 -c50 -d${WARMUP}s -H 'Connection: close' "http://127.0.0.1:$hp/" >/dev/null 2>&1 || true
    cps=$($L wrk -t1 -c50 -d${DURATION}s -H 'Connection: close' "http://127.0.0.1:$hp/" 2>&1 | awk '/Requests\/sec/{print $2}')
    sleep 1
    gbps=$($L iperf3 -c 127.0.0.1 -p "$tp" -t "$DURATION" -O 1 -f g 2>&1 | awk '/receiver/{print $(NF-2)}')
    if [ -n "$PEER_PID" ]; then
      hold_open "$hp" "$OPEN" >"$run/hold.out" & holder=$!
      sleep 2.5; rss_open=$(rss_kb "$PEER_PID"); wait "$holder"
      stop_peer
    fi
    echo "$peer,$rep,$gbps,$cps,$rss_idle,$rss_open" | tee -a "$csv"
    sleep 1
  done
done

python3 - "$csv" <<'PY' | tee "$OUT/results.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
peers = ["direct", "haproxy", "sidecar-io_uring", "sidecar-epoll"]
med = {}
for p in peers:
    r = [x for x in rows if x["peer"] == p]
    m = lambda k: statistics.median(float(x[k]) for x in r if x[k]) if any(x[k] for x in r) else None
    med[p] = {k: m(k) for k in ("gbps", "conn_per_s", "rss_idle_kb", "rss_open_kb")}
def ratio(a, b): return f"{a / b:.2f}" if a and b else "-"
print("| peer | iperf3 Gbit/s | vs direct | vs haproxy | new conn/s | vs haproxy | RSS idle MiB | RSS with open conns MiB |")
print("|---|---|---|---|---|---|---|---|")
for p in peers:
    m = med[p]
    f = lambda v, d=1: f"{v:.{d}f}" if v is not None else "-"
    print(f"| {p} | {f(m['gbps'], 2)} | {ratio(m['gbps'], med['direct']['gbps'])} | {ratio(m['gbps'], med['haproxy']['gbps'])} "
          f"| {f(m['conn_per_s'], 0)} | {ratio(m['conn_per_s'], med['haproxy']['conn_per_s'])} "
          f"| {f(m['rss_idle_kb'] and m['rss_idle_kb'] / 1024)} | {f(m['rss_open_kb'] and m['rss_open_kb'] / 1024)} |")
PY
echo "results in $OUT" >&2
