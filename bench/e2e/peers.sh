#!/usr/bin/env bash
# The sidecar beside HAProxy and NGINX (and the direct path) in one run, through the shared peers
# harness (../shared/peers/run.sh, or PEERS_DIR), then a Markdown table and one PNG chart per
# workload under OUT:
#
#   bench/e2e/peers.sh                      # h1-100B h1-16K h2c-100B tcp, 3 reps of 10 s: about 26 min
#   TESTS="h1-100B h2c-100B tcp" bench/e2e/peers.sh   # about 18 min
#   TRANSPORT=epoll bench/e2e/peers.sh      # the proxy on epoll (--transport), named sidecar-epoll
#
# TRANSPORT=epoll is what the proxy runs on in a container whose seccomp profile refuses io_uring
# (Docker's and podman's default profiles do, and containerd 2.0's RuntimeDefault).
#
# Every peer gets WARMUP seconds of unrecorded load before each test (default 30: the proxy's JIT
# is still compiling for ~25 s on one core; the native peers are measured with the same warm-up).
# The proxy runs with the JVM defaults of ./sidecar (serial GC, small initial heap, the build's
# class-data-sharing archive) and bench/e2e/l7-bench.yaml: one event loop, HTTP/1.1 and h2c on
# 18481, TCP on 18483. Needs what the harness needs (its README) and python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$root/../shared/peers}
[ -x "$PEERS_DIR/run.sh" ] || { echo "no peers harness at $PEERS_DIR (set PEERS_DIR)" >&2; exit 1; }
"$root/sidecar" version >/dev/null   # builds the proxy now if it is missing or older than its sources

export OUT=${OUT:-$(mktemp -d /tmp/peers.XXXXXX)}
export PEERS=${PEERS:-"direct haproxy nginx"}
export TESTS=${TESTS:-"h1-100B h1-16K h2c-100B tcp"}
export REPS=${REPS:-3} DURATION=${DURATION:-10} WARMUP=${WARMUP:-30}
export PROXY_NAME=sidecar${TRANSPORT:+-$TRANSPORT} PROXY_HTTP_PORT=18481 PROXY_H2C_PORT=18481 PROXY_TCP_PORT=18483
# ./sidecar execs java with its JVM defaults (and SIDECAR_JAVA_OPTS), so the measured process is java itself
export PROXY_CMD="exec $root/sidecar run -c $root/bench/e2e/l7-bench.yaml --log-level warn${TRANSPORT:+ --transport $TRANSPORT}"
"$PEERS_DIR/run.sh"
python3 "$root/bench/e2e/peers-charts.py" "$OUT"
echo "results: $OUT/results.md, charts: $OUT/*.png"
