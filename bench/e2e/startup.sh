#!/usr/bin/env bash
# Start-up and idle memory of ./sidecar on the bench config (bench/e2e/l7-bench.yaml):
#   - from exec to the first proxied 200: wall time, CPU time, and the CPU of its busiest threads
#     (main, the JIT compilers, the event loop) at that moment;
#   - RSS at the first 200 and after IDLE seconds without traffic;
#   - with CONNS > 0, in one more run after the reps: RSS and live heap (after a full GC) per idle
#     client connection, with the native-heap trim off so that a trim does not hide what they add.
# One line per rep. Knobs: REPS (5), CPU (the CPU to pin the proxy to, 1; empty: no pinning),
# IDLE (12), CONNS (0), SIDECAR_JAVA_OPTS (passed on, e.g. an A/B of JVM flags).
# Needs python3 (the upstream and the idle clients) and curl.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
reps=${REPS:-5}; cpu=${CPU-1}; idle=${IDLE:-12}; conns=${CONNS:-0}
run=$(mktemp -d)
source "$root/bench/e2e/lib.sh"

"$root/sidecar" --version >/dev/null   # builds once, outside the timing
if (exec 3<>/dev/tcp/127.0.0.1/18481) 2>/dev/null; then echo "startup.sh: 127.0.0.1:18481 is in use" >&2; exit 1; fi
for port in 18081 18082; do
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$run" >/dev/null 2>&1 & pids+=($!)
  wait_port "$port"
done
pin=(); [ -n "$cpu" ] && pin=(taskset -c "$cpu")
tck=$(getconf CLK_TCK)
# Returns once the proxy answers its first 200 (bounded: 3,000 tries).
first_200() {
  for _ in $(seq 3000); do curl -sf -o /dev/null -m 1 http://127.0.0.1:18481/ && return; sleep 0.01; done
}
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

for rep in $(seq "$reps"); do
  t0=$(date +%s%N)
  "${pin[@]}" "$root/sidecar" run -c "$root/bench/e2e/l7-bench.yaml" --log-level warn >"$run/log" 2>&1 &
  p=$!
  first_200
  t1=$(date +%s%N)
  read -r -a st <"/proc/$p/stat"
  threads=$(for t in /proc/"$p"/task/*; do
              read -r -a ts <"$t/stat" || continue
              echo "$(( (ts[13] + ts[14]) * 1000 / tck )) $(tr ' ' _ <"$t/comm")"
            done | sort -rn | head -4 | awk '{printf "%s %s ms; ", $2, $1}')
  rss_first=$(kib "$p" VmRSS)
  sleep "$idle"
  rss_idle=$(kib "$p" VmRSS)
  line="rep $rep: first 200 after $(( (t1 - t0) / 1000000 )) ms wall, $(( (st[13] + st[14]) * 1000 / tck )) ms CPU"
  line+=" ($threads) RSS $(( rss_first / 1024 )) MiB then, $(( rss_idle / 1024 )) MiB after ${idle} s idle"
  echo "$line"
  kill "$p"; wait "$p" 2>/dev/null || true
done

if [ "$conns" -gt 0 ]; then
  opts=${SIDECAR_JAVA_OPTS:-}
  [ "$(tail -n 1 "$root/proxy/target/.jvm-trim" 2>/dev/null)" = yes ] && opts+=" -XX:TrimNativeHeapInterval=0"
  SIDECAR_JAVA_OPTS=$opts "$root/sidecar" run -c "$root/bench/e2e/l7-bench.yaml" --log-level warn >"$run/log" 2>&1 &
  p=$!
  first_200
  sleep 2
  python3 - "$p" "$conns" <<'EOF'
import resource, socket, subprocess, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
pid, n = int(sys.argv[1]), int(sys.argv[2])
def rss():
    return next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
def live():
    out = subprocess.run(["jcmd", str(pid), "GC.class_histogram"], capture_output=True, text=True).stdout
    return next(int(l.split()[2]) for l in out.splitlines() if l.startswith("Total"))
l0, r0 = live(), rss()
held = [socket.create_connection(("127.0.0.1", 18481)) for _ in range(n)]
time.sleep(3)
l1, r1 = live(), rss()
print(f"{n} idle connections: RSS +{(r1 - r0) * 1024 // n} B and live heap +{(l1 - l0) // n} B each")
for s in held:
    s.close()
EOF
  kill "$p"; wait "$p" 2>/dev/null || true
fi
