#!/usr/bin/env bash
# Prints a seccomp profile that is PROFILE (a container runtime's default) with the three
# io_uring system calls allowed: io_uring_setup, io_uring_enter and io_uring_register. The
# default profiles of Docker (since 25.0), podman and containerd 2.0 refuse them, and the proxy
# then runs on epoll (`transport: auto`); under this profile it gets io_uring back.
#
#   container/seccomp/allow-io-uring.sh [PROFILE] > sidecar-io-uring.json
#
# PROFILE defaults to podman's default (/usr/share/containers/seccomp.json, containers-common);
# Docker's is moby's profiles/seccomp/default.json for the Docker version in use. Then:
#   podman run --security-opt seccomp=sidecar-io-uring.json ...    (docker run: the same)
#   Kubernetes: the file on each node under the kubelet's seccomp directory
#   (/var/lib/kubelet/seccomp/), and in the sidecar container's securityContext:
#   seccompProfile: { type: Localhost, localhostProfile: sidecar-io-uring.json }
# io_uring is left out of those defaults because it has been the way into several kernel
# vulnerabilities; allow it on kernels kept up to date. Needs jq.
set -euo pipefail
profile=${1:-/usr/share/containers/seccomp.json}
command -v jq >/dev/null || { echo "allow-io-uring.sh: needs jq" >&2; exit 1; }
[ -r "$profile" ] || { echo "allow-io-uring.sh: cannot read $profile" >&2; exit 1; }
# The calls are taken out of every rule that names them (a rule refusing them would conflict
# with the one allowing them) and allowed by one rule of their own, unless the profile allows
# whatever it does not name (a rule with the default action is refused by libseccomp).
jq --argjson io '["io_uring_setup", "io_uring_enter", "io_uring_register"]' '
  if (type != "object") or ((.syscalls // []) | type) != "array" or (.defaultAction | type) != "string"
  then error("not a seccomp profile: expected defaultAction and a syscalls list") else . end
  | .syscalls = [(.syscalls // [])[] | .names -= $io | select(.names | length > 0)]
  | if .defaultAction == "SCMP_ACT_ALLOW" then . else .syscalls += [{names: $io, action: "SCMP_ACT_ALLOW"}] end
' "$profile"
