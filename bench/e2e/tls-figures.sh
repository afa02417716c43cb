#!/usr/bin/env bash
# TLS figures side by side in one run: sidecar with the OpenSSL engine and with the JDK engine
# vs HAProxy, each terminating TLS in front of the same nginx upstream.
#
#   bench/e2e/tls-figures.sh            # REPS=3 DURATION=8 WARMUP=30 by default
#
# Measures, on loopback only, with the load generator on LOADGEN_CPU and proxy + upstream sharing
# PROXY_CPU (the layout of ../shared/peers):
#   - full handshakes: wrk with "Connection: close" over HTTPS, so every request is a new TLS
#     connection (TLS 1.3), with an ECDSA P-256 and an RSA 2048 certificate, on listeners that
#     resume no session (HAProxy: no-tls-tickets and no session cache; the sidecar:
#     session_resumption: false). wrk offers its last session again on every new connection, so
#     where a server allows it every handshake after the first is a resumption instead;
#     handshakes per second, and per CPU-second of the proxy process (its utime + stime from
#     /proc over the run): the per-core figure that the shared upstream and load generator do not
#     blur
#   - resumed handshakes: the same on an ECDSA listener that issues and takes tickets (both
#     engines of the sidecar; the JDK engine cannot turn resumption off, so it has no full rows)
#   - keep-alive requests: wrk -c CONNS keep-alive GETs of a 6-byte answer over HTTPS (the ECDSA
#     listener with resumption; its handshakes are done in the first milliseconds), requests per
#     second and per CPU-second of the proxy: the record layer and the proxying, not the handshake
#   - bulk throughput: wrk keep-alive downloads of a 1 MiB body through the proxy over HTTPS and
#     over plaintext HTTP (Gbit/s of body)
# Certificates and keys are made in a temporary directory for the run and removed after it.
# Needs: haproxy nginx wrk openssl python3. Every load is bounded by DURATION; everything started
# here is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-30}
CONNS=${CONNS:-32}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
SIDECAR_JAVA_OPTS=${SIDECAR_JAVA_OPTS:--XX:+UseSerialGC -Xms64m -Xmx256m}
OUT=${OUT:-$(mktemp -d /tmp/tls-figures.XXXXXX)}
mkdir -p "$OUT"
run=$(mktemp -d /tmp/tls-run.XXXXXX)
. "$(dirname "$0")/lib.sh"

for tool in haproxy nginx wrk openssl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y haproxy nginx wrk openssl)" >&2; exit 1; }
done
[ -f "$root/proxy/target/sidecar.jar" ] || (cd "$root" && ./mvnw -q -B -Dmaven.test.skip=true -pl proxy -am package)

# certificates for this run only
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$run/ec.key" -out "$run/ec.crt" -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$run/rsa.key" -out "$run/rsa.crt" -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
cat "$run/ec.crt" "$run/ec.key" >"$run/ec.pem"
cat "$run/rsa.crt" "$run/rsa.key" >"$run/rsa.pem"

# Ports: upstream nginx 19081; haproxy ec 19481, rsa 19482, plain 19483, ec with resumption 19484; the sidecar's
# the same from 19581.
mkdir -p "$run/tmp" "$run/www"
chmod 755 "$run" "$run/www"   # nginx's workers run as another user
head -c 1048576 /dev/zero >"$run/www/1m"
echo hello >"$run/www/index.html"
cat >"$run/nginx.conf" <<NGINX
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx.err;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $run/tmp;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:19081 backlog=4096; root $run/www; location = / { return 200 "hello\n"; } }
}
NGINX
cat >"$run/haproxy.cfg" <<HAP
global
    nbthread 1
    maxconn 8000
    tune.ssl.cachesize 0
    tune.ssl.default-dh-param 2048
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    http-reuse always
frontend ec
    bind 127.0.0.1:19481 ssl crt $run/ec.pem alpn http/1.1 no-tls-tickets
    default_backend nginx
frontend rsa
    bind 127.0.0.1:19482 ssl crt $run/rsa.pem alpn http/1.1 no-tls-tickets
    default_backend nginx
frontend plain
    bind 127.0.0.1:19483
    default_backend nginx
frontend resume
    bind 127.0.0.1:19484 ssl crt $run/ec.pem alpn http/1.1
    default_backend nginx
backend nginx
    server up 127.0.0.1:19081
HAP
for engine in openssl jdk; do
full=", session_resumption: false"
[ "$engine" = jdk ] && full=
cat >"$run/sidecar-$engine.yaml" <<YAML
server: { workers: 1, tls_engine: $engine }
admin: { address: 127.0.0.1:0 }
listeners:
  - name: ec
    address: 127.0.0.1:19581
    protocol: http
    cluster: nginx
    tls: { certificates: [{ cert_chain_file: $run/ec.crt, private_key_file: $run/ec.key }], alpn: [http/1.1]$full }
  - name: rsa
    address: 127.0.0.1:19582
    protocol: http
    cluster: nginx
    tls: { certificates: [{ cert_chain_file: $run/rsa.crt, private_key_file: $run/rsa.key }], alpn: [http/1.1]$full }
  - { name: plain, address: 127.0.0.1:19583, protocol: http, cluster: nginx }
  - name: resume
    address: 127.0.0.1:19584
    protocol: http
    cluster: nginx
    tls: { certificates: [{ cert_chain_file: $run/ec.crt, private_key_file: $run/ec.key }], alpn: [http/1.1] }
clusters:
  - { name: nginx, endpoints: [{ address: 127.0.0.1:19081 }] }
YAML
done

taskset -c "$PROXY_CPU" nginx -c "$run/nginx.conf" -g 'daemon off;' & pids+=($!)
sleep 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

start_peer() {  # name -> sets PEER_PID and BASE (first of the ec, rsa, plain ports)
  case $1 in
    haproxy) taskset -c "$PROXY_CPU" haproxy -f "$run/haproxy.cfg" -db >"$run/haproxy.log" 2>&1 & PEER_PID=$!; BASE=19481 ;;
    sidecar-*) taskset -c "$PROXY_CPU" java $SIDECAR_JAVA_OPTS -jar "$root/proxy/target/sidecar.jar" run -c "$run/$1.yaml" \
                 --log-level warn >"$run/$1.log" 2>&1 & PEER_PID=$!; BASE=19581 ;;
  esac
  wait_port "$BASE" 100; wait_port $((BASE + 2)) 100; wait_port $((BASE + 3)) 100
}
stop_peer() { kill "$PEER_PID" 2>/dev/null || true; wait "$PEER_PID" 2>/dev/null || true; }

L="taskset -c $LOADGEN_CPU"
# prints "requests_per_second proxy_cpu_seconds"
measured() {  # url extra-wrk-args...
  local url=$1; shift
  local before after rps
  before=$(cpu_ticks "$PEER_PID")
  rps=$($L wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" "$url" 2>&1 | awk '/Requests\/sec/{print $2}')
  after=$(cpu_ticks "$PEER_PID")
  echo "$rps $(python3 -c "print(($after - $before) / $tck)")"
}
gbps() {  # url -> Gbit/s of body, keep-alive (every response must be a 200 with the whole body)
  $L wrk -t1 -c4 -d"${DURATION}s" "$1" 2>&1 | awk '/Non-2xx/{bad=1} /Requests\/sec/{r=$2} END{if (bad) print "NaN"; else printf "%.2f\n", r * 1048576 * 8 / 1e9}'
}

csv=$OUT/raw.csv
echo "peer,rep,ec_hs_per_s,ec_cpu_s,rsa_hs_per_s,rsa_cpu_s,resumed_hs_per_s,resumed_cpu_s,ka_req_per_s,ka_cpu_s,tls_gbps,plain_gbps" >"$csv"
for rep in $(seq "$REPS"); do
  for peer in haproxy sidecar-openssl sidecar-jdk; do
    start_peer "$peer"; sleep 1
    ec=https://127.0.0.1:$BASE/ rsa=https://127.0.0.1:$((BASE + 1))/ plain=http://127.0.0.1:$((BASE + 2)) resume=https://127.0.0.1:$((BASE + 3))/
    # unrecorded warm-up, the same for every peer: handshakes on both keys, then bulk both ways.
    # A JVM is still compiling the handshake path some 20 s into such load: with 10 s here, the
    # sidecar's ECDSA rows (measured first) came out below its RSA rows per core.
    $L wrk -t1 -c"$CONNS" -d"${WARMUP}s" -H 'Connection: close' "$ec" >/dev/null 2>&1 || true
    $L wrk -t1 -c"$CONNS" -d10s -H 'Connection: close' "$rsa" >/dev/null 2>&1 || true
    $L wrk -t1 -c"$CONNS" -d5s -H 'Connection: close' "$resume" >/dev/null 2>&1 || true
    $L wrk -t1 -c"$CONNS" -d5s "$resume" >/dev/null 2>&1 || true
    $L wrk -t1 -c4 -d3s "${ec}1m" >/dev/null 2>&1 || true
    $L wrk -t1 -c4 -d3s "$plain/1m" >/dev/null 2>&1 || true
    if [ "$peer" = sidecar-jdk ]; then
      ec_rps=NaN ec_cpu=NaN rsa_rps=NaN rsa_cpu=NaN
    else
      read -r ec_rps ec_cpu <<<"$(measured "$ec" -H 'Connection: close')"
      read -r rsa_rps rsa_cpu <<<"$(measured "$rsa" -H 'Connection: close')"
    fi
    read -r res_rps res_cpu <<<"$(measured "$resume" -H 'Connection: close')"
    read -r ka_rps ka_cpu <<<"$(measured "$resume")"
    tls_g=$(gbps "${ec}1m")
    plain_g=$(gbps "$plain/1m")
    stop_peer
    echo "$peer,$rep,$ec_rps,$ec_cpu,$rsa_rps,$rsa_cpu,$res_rps,$res_cpu,$ka_rps,$ka_cpu,$tls_g,$plain_g" | tee -a "$csv"
    sleep 1
  done
done

python3 - "$csv" "$DURATION" <<'PY' | tee "$OUT/results.md"
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
duration = float(sys.argv[2])
peers = ["haproxy", "sidecar-openssl", "sidecar-jdk"]
med = {}
for p in peers:
    r = [x for x in rows if x["peer"] == p]
    m = lambda f: statistics.median(f(x) for x in r)
    per_core = lambda rate, cpu: (lambda x: float(x[rate]) * duration / float(x[cpu]))
    med[p] = {
        "ec": m(lambda x: float(x["ec_hs_per_s"])),
        "ec_core": m(per_core("ec_hs_per_s", "ec_cpu_s")),
        "rsa": m(lambda x: float(x["rsa_hs_per_s"])),
        "rsa_core": m(per_core("rsa_hs_per_s", "rsa_cpu_s")),
        "res": m(lambda x: float(x["resumed_hs_per_s"])),
        "res_core": m(per_core("resumed_hs_per_s", "resumed_cpu_s")),
        "ka": m(lambda x: float(x["ka_req_per_s"])),
        "ka_core": m(per_core("ka_req_per_s", "ka_cpu_s")),
        "tls": m(lambda x: float(x["tls_gbps"])),
        "plain": m(lambda x: float(x["plain_gbps"])),
    }
h = med["haproxy"]
f0 = lambda v: "-" if math.isnan(v) else f"{v:.0f}"
f2 = lambda v: "-" if math.isnan(v) else f"{v:.2f}"
print("| peer | full ECDSA P-256 handshakes/s | per core | vs HAProxy (per core) | full RSA 2048 handshakes/s | per core | vs HAProxy (per core) "
      "| resumed ECDSA handshakes/s | per core | vs HAProxy (per core) | keep-alive requests/s | per core | vs HAProxy (rate, per core) "
      "| 1 MiB over TLS Gbit/s | plaintext Gbit/s | TLS / plaintext |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for p in peers:
    m = med[p]
    print(f"| {p} | {f0(m['ec'])} | {f0(m['ec_core'])} | {f2(m['ec_core'] / h['ec_core'])} | {f0(m['rsa'])} | {f0(m['rsa_core'])} "
          f"| {f2(m['rsa_core'] / h['rsa_core'])} | {f0(m['res'])} | {f0(m['res_core'])} | {f2(m['res_core'] / h['res_core'])} "
          f"| {f0(m['ka'])} | {f0(m['ka_core'])} | {f2(m['ka'] / h['ka'])}, {f2(m['ka_core'] / h['ka_core'])} "
          f"| {m['tls']:.2f} | {m['plain']:.2f} | {m['tls'] / m['plain']:.2f} |")
o, j = med["sidecar-openssl"], med["sidecar-jdk"]
print()
print(f"OpenSSL engine vs JDK engine: resumed handshakes per core {o['res_core'] / j['res_core']:.2f}x; "
      f"keep-alive requests per core {o['ka_core'] / j['ka_core']:.2f}x; bulk over TLS {o['tls'] / j['tls']:.2f}x")
PY
echo "results in $OUT" >&2
