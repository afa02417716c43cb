#!/usr/bin/env bash
# Latency added by a proxy at a fixed rate below saturation: HTTP/1.1 keep-alive GETs of 100 B,
# one connection per target, RATE requests/s, each target measured for SECONDS in one-second turns
# interleaved with the others (FixedRateLatency), directly and through HAProxy, NGINX and the
# sidecar, with the configs and ports of ../shared/peers (or PEERS_DIR).
#
#   bench/e2e/latency.sh                 # RATE=1000 SECONDS=20 WARMUP=30 PACED_WARMUP=20
#
# Layout as in the peers harness: client on CPU 0, proxies and upstream nginx on CPU 1. Every
# proxy gets WARMUP seconds of wrk load first (the sidecar's JIT needs them), then every target
# PACED_WARMUP unrecorded one-second turns at RATE: after saturating load, the sidecar still
# compiles what paced requests take, for a minute or so, and its p99 shows it. Prints one line per
# target with p50/p90/p99/p99.9/max in microseconds, and the added latency (target - direct).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$root/../shared/peers}
RATE=${RATE:-1000}
SECONDS_=${SECONDS_:-${DURATION:-20}}
WARMUP=${WARMUP:-30}
PACED_WARMUP=${PACED_WARMUP:-20}
for tool in nginx haproxy wrk java; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
"$root/sidecar" version >/dev/null   # builds the proxy now if it is missing or older than its sources
[ -f "$root/bench/target/benchmarks.jar" ] || (cd "$root" && ./mvnw -q -B -DskipTests -pl bench -am package)
run=$(mktemp -d /tmp/latency-run.XXXXXX)
. "$(dirname "$0")/lib.sh"
chmod 755 "$run"
mkdir -p "$run/tmp" "$run/www"
head -c 16384 /dev/urandom >"$run/www/16k"
cp "$PEERS_DIR"/conf/upstream.nginx.conf "$PEERS_DIR"/conf/nginx.conf "$PEERS_DIR"/conf/haproxy.cfg "$run/"

taskset -c 1 nginx -c "$run/upstream.nginx.conf" -p "$run/" -e "$run/upstream.err" -g 'daemon off;' & pids+=($!)
taskset -c 1 haproxy -f "$run/haproxy.cfg" -db >"$run/haproxy.log" 2>&1 & pids+=($!)
taskset -c 1 nginx -c "$run/nginx.conf" -p "$run/" -e "$run/nginx.err" -g 'daemon off;' & pids+=($!)
taskset -c 1 "$root/sidecar" run -c "$root/bench/e2e/l7-bench.yaml" --log-level warn >"$run/sidecar.log" 2>&1 & pids+=($!)
for port in 18081 18181 18281 18481; do wait_port "$port" || { echo "port $port did not open" >&2; exit 1; }; done
for port in 18181 18281 18481; do taskset -c 0 wrk -t1 -c50 -d"${WARMUP}s" "http://127.0.0.1:$port/" >/dev/null; done
taskset -c 0 java -Dwarmup="$PACED_WARMUP" -cp "$root/bench/target/benchmarks.jar" dev.sidecar.bench.e2e.FixedRateLatency "$RATE" "$SECONDS_" \
  direct=http://127.0.0.1:18081/ haproxy=http://127.0.0.1:18181/ nginx=http://127.0.0.1:18281/ sidecar=http://127.0.0.1:18481/ \
  | tee "$run/latency.txt"
awk '/^direct:/{for(i=1;i<=NF;i++) if($i ~ /^p(50|99)$/) d[$i]=$(i+1)}
     !/^direct:/{n=$1; for(i=1;i<=NF;i++) if($i ~ /^p(50|99)$/) v[$i]=$(i+1);
       printf "%s added latency: p50 %+.1f us, p99 %+.1f us\n", n, v["p50"]-d["p50"], v["p99"]-d["p99"]}' "$run/latency.txt"
