# Sourced by the bench/e2e scripts that start servers of their own: each adds the processes it
# starts to `pids` and keeps its scratch files in `$run`; both go when the script exits.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$run"; }
trap cleanup EXIT
# wait_port PORT [TRIES]: until something accepts on 127.0.0.1:PORT, TRIES times 0.1 s (300).
wait_port() { local i; for i in $(seq "${2:-300}"); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
