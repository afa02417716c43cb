#!/usr/bin/env bash
# Sends an application's outbound TCP connections to the sidecar without the application knowing,
# as Istio's init container does: iptables nat OUTPUT rules REDIRECT every new outbound TCP
# connection to the proxy's outbound port, where a listener with original_destination: true reads
# where each one was going (SO_ORIGINAL_DST) and an original_dst cluster connects there.
#
# Run once per network namespace (a pod's init container, with NET_ADMIN and NET_RAW, as root),
# before the application starts:
#
#   intercept.sh [--proxy-port 15001] [--proxy-uid 65532] [--exclude-cidrs 10.0.0.1/32,...]
#                [--exclude-ports 9901,...] [--ipv6] [--remove] [--dry-run]
#
# Every flag has an environment variable of the same meaning: PROXY_PORT, PROXY_UID,
# EXCLUDE_CIDRS, EXCLUDE_PORTS, INTERCEPT_IPV6=1, IPTABLES (the binary; default iptables, e.g.
# iptables-legacy where the kernel has no nf_tables) and IP6TABLES.
#
# Not redirected:
#   - connections of the proxy's own user (--proxy-uid): its upstream connections would loop
#   - loopback destinations (127.0.0.0/8, ::1): the app calling the sidecar or itself directly
#   - destinations in --exclude-cidrs and destination ports in --exclude-ports
#
# Idempotent: the rules live in their own chain (SIDECAR_OUTPUT), which is flushed and refilled
# on every run, and OUTPUT jumps to it exactly once. --remove takes both away. The rules in force
# are printed at the end.
set -euo pipefail

chain=SIDECAR_OUTPUT
proxy_port=${PROXY_PORT:-15001}
proxy_uid=${PROXY_UID:-65532}
exclude_cidrs=${EXCLUDE_CIDRS:-}
exclude_ports=${EXCLUDE_PORTS:-}
ipv6=${INTERCEPT_IPV6:-0}
iptables=${IPTABLES:-iptables}
ip6tables=${IP6TABLES:-ip6tables}
remove=0
dry_run=0

usage() {
  sed -n '9,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --proxy-port) proxy_port=${2:?--proxy-port needs a value}; shift 2 ;;
    --proxy-uid) proxy_uid=${2:?--proxy-uid needs a value}; shift 2 ;;
    --exclude-cidrs) exclude_cidrs=${2?--exclude-cidrs needs a value}; shift 2 ;;
    --exclude-ports) exclude_ports=${2?--exclude-ports needs a value}; shift 2 ;;
    --ipv6) ipv6=1; shift ;;
    --remove) remove=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage ;;
    *) echo "intercept.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

fail() {
  echo "intercept.sh: $*" >&2
  exit 2
}

[[ $proxy_port =~ ^[0-9]+$ ]] && [ "$proxy_port" -ge 1 ] && [ "$proxy_port" -le 65535 ] \
  || fail "--proxy-port: '$proxy_port' is not a port (1..65535)"
[[ $proxy_uid =~ ^[0-9]+$ ]] || fail "--proxy-uid: '$proxy_uid' is not a numeric user id"
IFS=, read -r -a ports <<< "$exclude_ports"
for p in "${ports[@]}"; do
  [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || fail "--exclude-ports: '$p' is not a port (1..65535)"
done
IFS=, read -r -a cidrs <<< "$exclude_cidrs"
for c in "${cidrs[@]}"; do
  [[ $c =~ ^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$ ]] || fail "--exclude-cidrs: '$c' is not an address or CIDR"
done

# run IPTABLES ARGS...: runs it, or with --dry-run prints it
run() {
  if [ "$dry_run" = 1 ]; then
    echo "$*"
  else
    "$@"
  fi
}

# install IPTABLES LOOPBACK FAMILY: (re)fills the chain for one address family
install() {
  local ipt=$1 loopback=$2 family=$3
  if ! "$ipt" -t nat -S "$chain" >/dev/null 2>&1; then
    run "$ipt" -t nat -N "$chain"
  else
    run "$ipt" -t nat -F "$chain"
  fi
  run "$ipt" -t nat -A "$chain" -m owner --uid-owner "$proxy_uid" -j RETURN
  run "$ipt" -t nat -A "$chain" -d "$loopback" -j RETURN
  for c in "${cidrs[@]}"; do
    # an IPv4 CIDR goes to iptables, an IPv6 one to ip6tables
    if { [[ $c == *:* ]] && [ "$family" = 6 ]; } || { [[ $c != *:* ]] && [ "$family" = 4 ]; }; then
      run "$ipt" -t nat -A "$chain" -d "$c" -j RETURN
    fi
  done
  for p in "${ports[@]}"; do
    run "$ipt" -t nat -A "$chain" -p tcp --dport "$p" -j RETURN
  done
  run "$ipt" -t nat -A "$chain" -p tcp -j REDIRECT --to-ports "$proxy_port"
  if ! "$ipt" -t nat -C OUTPUT -p tcp -j "$chain" >/dev/null 2>&1; then
    run "$ipt" -t nat -A OUTPUT -p tcp -j "$chain"
  fi
}

# uninstall IPTABLES: takes the jump and the chain away, if there
uninstall() {
  local ipt=$1
  while "$ipt" -t nat -C OUTPUT -p tcp -j "$chain" >/dev/null 2>&1; do
    run "$ipt" -t nat -D OUTPUT -p tcp -j "$chain"
    [ "$dry_run" = 1 ] && break
  done
  if "$ipt" -t nat -S "$chain" >/dev/null 2>&1; then
    run "$ipt" -t nat -F "$chain"
    run "$ipt" -t nat -X "$chain"
  fi
}

families=("$iptables 127.0.0.0/8 4")
if [ "$ipv6" = 1 ]; then
  families+=("$ip6tables ::1/128 6")
fi

for f in "${families[@]}"; do
  read -r ipt loopback family <<< "$f"
  command -v "$ipt" >/dev/null || fail "$ipt not found (set IPTABLES / IP6TABLES)"
  if [ "$remove" = 1 ]; then
    uninstall "$ipt"
    echo "intercept.sh: $ipt: removed chain $chain"
  else
    install "$ipt" "$loopback" "$family"
    if [ "$dry_run" = 0 ]; then
      echo "intercept.sh: $ipt: outbound TCP goes to port $proxy_port (not for uid $proxy_uid, loopback${exclude_cidrs:+, $exclude_cidrs}${exclude_ports:+, ports $exclude_ports}):"
      "$ipt" -t nat -S "$chain"
      "$ipt" -t nat -S OUTPUT | grep -- "-j $chain"
    fi
  fi
done
