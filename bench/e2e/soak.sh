#!/usr/bin/env bash
# Soak run (not part of CI): MINUTES (default 10) of mixed traffic through one proxy process with
# endpoint churn and certificate rotation, sampling RSS and Netty's direct memory, then checking
# that both stayed flat and that leak detection (PARANOID) reported nothing.
#
#   bench/e2e/soak.sh                  # MINUTES=10
#
# Traffic, in parallel loops until the deadline, all on loopback:
#   - HTTP/1.1 keep-alive (wrk -c8) and h2c (h2load -c4 -m8) to nginx upstreams, round robin;
#   - HTTP/2 to an h2c upstream (the gRPC shape: h2 on both sides), h2load -c2 -m8;
#   - HTTPS with a new TLS connection per request (curl), on a listener whose certificate and key
#     are rewritten every 20 s (the proxy watches and reloads them);
#   - TCP through the L4 listener to iperf3, 5 s bursts.
# Churn: every 5 s the config file's endpoint set changes (2 of 3 upstream ports in turn) and the
# proxy gets SIGHUP. Needs nginx, wrk, h2load, iperf3, curl, openssl.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
MINUTES=${MINUTES:-10}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
for tool in nginx wrk h2load iperf3 curl openssl java; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
"$root/sidecar" version >/dev/null   # builds the proxy now if it is missing or older than its sources
run=$(mktemp -d /tmp/soak.XXXXXX)
OUT=${OUT:-$run}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
chmod 755 "$run"; mkdir -p "$run/tmp" "$run/www" "$run/certs"

cat >"$run/upstream.conf" <<NGINX
worker_processes 1;
pid $run/upstream.pid;
error_log $run/upstream.err;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $run/tmp/body; proxy_temp_path $run/tmp/proxy; fastcgi_temp_path $run/tmp/fcgi;
  uwsgi_temp_path $run/tmp/uwsgi; scgi_temp_path $run/tmp/scgi;
  server {
    listen 127.0.0.1:19381; listen 127.0.0.1:19382; listen 127.0.0.1:19383;
    listen 127.0.0.1:19384 http2;
    location / { return 200 "soak upstream: a small fixed body\n"; }
  }
}
NGINX

cert() {  # a fresh self-signed P-256 pair, written beside and renamed into place (as a Secret update does)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=soak" \
    -addext "subjectAltName=DNS:soak" -keyout "$run/certs/new.key" -out "$run/certs/new.pem" 2>/dev/null
  mv "$run/certs/new.key" "$run/certs/server.key"; mv "$run/certs/new.pem" "$run/certs/server.pem"
}
config() {  # the proxy's config with the endpoints $1 and $2 (upstream ports)
  cat >"$run/sidecar.yaml.new" <<YAML
server: { workers: 1, drain_timeout: 2s }
admin: { address: 127.0.0.1:19399 }
listeners:
  - { name: web, address: 127.0.0.1:19481, protocol: http, cluster: web }
  - { name: h2, address: 127.0.0.1:19482, protocol: http, cluster: h2 }
  - name: https
    address: 127.0.0.1:19443
    protocol: http
    cluster: web
    tls: { certificates: [{ cert_chain_file: $run/certs/server.pem, private_key_file: $run/certs/server.key }] }
  - { name: tcp, address: 127.0.0.1:19483, protocol: tcp, cluster: iperf }
clusters:
  - name: web
    lb_policy: round_robin
    endpoints: [{ address: 127.0.0.1:$1 }, { address: 127.0.0.1:$2 }]
  - { name: h2, upstream_protocol: h2c, endpoints: [{ address: 127.0.0.1:19384 }] }
  - { name: iperf, endpoints: [{ address: 127.0.0.1:19201 }] }
YAML
  mv "$run/sidecar.yaml.new" "$run/sidecar.yaml"
}

cert
config 19381 19382
taskset -c "$PROXY_CPU" nginx -c "$run/upstream.conf" -g 'daemon off;' & pids+=($!)
taskset -c "$PROXY_CPU" iperf3 -s -B 127.0.0.1 -p 19201 >"$run/iperf3.log" 2>&1 & pids+=($!)
# ./sidecar execs java with its JVM defaults, so $! is the proxy's own pid
SIDECAR_JAVA_OPTS="-Dio.netty.leakDetection.level=paranoid ${SIDECAR_JAVA_OPTS:-}" taskset -c "$PROXY_CPU" \
  "$root/sidecar" run -c "$run/sidecar.yaml" >"$OUT/sidecar.log" 2>&1 & proxy=$!; pids+=($proxy)
for i in $(seq 300); do curl -sf -o /dev/null http://127.0.0.1:19399/ready && break; sleep 0.1; done

deadline=$(( $(date +%s) + MINUTES * 60 ))
L="taskset -c $LOADGEN_CPU"
loop() { while [ "$(date +%s)" -lt "$deadline" ]; do "$@" >/dev/null 2>&1 || true; done; }
loop $L wrk -t1 -c8 -d10s http://127.0.0.1:19481/ & pids+=($!)
loop $L h2load -c4 -m8 -D 10 http://127.0.0.1:19481/ & pids+=($!)
loop $L h2load -c2 -m8 -D 10 http://127.0.0.1:19482/ & pids+=($!)
loop $L iperf3 -c 127.0.0.1 -p 19483 -t 5 & pids+=($!)
( n=0; fails=0
  while [ "$(date +%s)" -lt "$deadline" ]; do
    code=$($L curl -sk --resolve soak:19443:127.0.0.1 -o /dev/null -w '%{http_code}' https://soak:19443/ || true)
    n=$((n+1)); [ "$code" = 200 ] || fails=$((fails+1)); sleep 0.05
  done; echo "$n $fails" >"$run/https.count" ) & pids+=($!)
( i=0; sets=("19381 19382" "19382 19383" "19381 19383")
  while [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 5; i=$((i+1)); config ${sets[$((i % 3))]}; kill -HUP "$proxy"
    [ $((i % 4)) -eq 0 ] && cert
  done ) & pids+=($!)

echo "minute,rss_mib,direct_mib,requests_total" | tee "$OUT/samples.csv"
start=$(date +%s)
while [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 15
  kill -0 "$proxy" 2>/dev/null || { echo "the proxy exited" >&2; exit 1; }
  rss=$(awk '/VmRSS/{printf "%.1f", $2/1024}' /proc/$proxy/status)
  stats=$(curl -s http://127.0.0.1:19399/stats/prometheus)
  direct=$(awk '/^sidecar_buffer_direct_used/{printf "%.1f", $2/1048576}' <<<"$stats")
  reqs=$(awk '/^sidecar_cluster_requests_total/{s+=$2} END{printf "%d", s}' <<<"$stats")
  echo "$(awk -v s=$(( $(date +%s) - start )) 'BEGIN{printf "%.2f", s/60}'),$rss,$direct,$reqs" | tee -a "$OUT/samples.csv"
done
sleep 2
read -r https_n https_fail <"$run/https.count" || true
leaks=$(grep -c 'LEAK:' "$OUT/sidecar.log" || true)
reloads=$(grep -c 'applied from file' "$OUT/sidecar.log" || true)
awk -F, -v leaks="$leaks" -v hn="${https_n:-0}" -v hf="${https_fail:-0}" 'NR==1{next}
  { m[NR]=$1; r[NR]=$2; d[NR]=$3; q[NR]=$4; n=NR }
  END {
    # flat: the last third against the middle third (the first third is warm-up)
    a=int(n/3)+2; b=int(2*n/3)+1; ra=0; rb=0; da=0; db=0; ca=0; cb=0
    for (i=a; i<b; i++) { ra+=r[i]; da+=d[i]; ca++ } for (i=b; i<=n; i++) { rb+=r[i]; db+=d[i]; cb++ }
    printf "requests %d; https handshakes %d, failed %d; leak reports %d\n", q[n], hn, hf, leaks
    printf "RSS: middle third %.1f MiB, last third %.1f MiB; direct memory: %.1f MiB, %.1f MiB\n", ra/ca, rb/cb, da/ca, db/cb
  }' "$OUT/samples.csv" | tee "$OUT/soak-summary.txt"
echo "config versions applied by SIGHUP: $reloads; log: $OUT/sidecar.log; samples: $OUT/samples.csv"
