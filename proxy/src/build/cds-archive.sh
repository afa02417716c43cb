#!/usr/bin/env bash
# Makes the proxy's class-data-sharing archive: a training run of the proxy (CdsTraining) lists
# the classes it loads, and -Xshare:dump archives them, the JDK's own included. The build makes
# proxy/target/sidecar.jsa with it, and container/image/runtime.sh the image's /app/sidecar.jsa.
#
#   cds-archive.sh CLASSPATH CLASSLIST ARCHIVE JAVA [ARG...]
#
# JAVA [ARG...] is the command that runs the java the archive is for, behind a wrapper where
# needed (runtime.sh runs it inside a copy of the image's root). CLASSPATH, CLASSLIST and ARCHIVE
# are paths as that java sees them; the archive maps only for exactly that class path.
set -euo pipefail

classpath=$1
classlist=$2
archive=$3
shift 3

if ! "$@" -XX:DumpLoadedClassList="$classlist" -XX:+UseSerialGC -cp "$classpath" dev.sidecar.proxy.CdsTraining >&2; then
  echo "cds-archive.sh: the training run (dev.sidecar.proxy.CdsTraining) failed" >&2
  exit 1
fi
if ! "$@" -Xshare:dump -XX:SharedClassListFile="$classlist" -XX:SharedArchiveFile="$archive" \
    -Xlog:cds=off -Xlog:cds+heap=off -cp "$classpath" >/dev/null; then
  echo "cds-archive.sh: -Xshare:dump failed for $classlist" >&2
  exit 1
fi
