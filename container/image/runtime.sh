#!/usr/bin/env bash
# Builds the files the proxy's image adds to an empty (scratch) base: a Java runtime cut down
# with jlink to the modules the proxy uses, the shared libraries that runtime and Netty's native
# transports load (glibc, zlib, copied from this machine), and a passwd entry for the non-root
# user. Jib adds the application layers on top.
#
#   runtime.sh PROXY_TARGET_DIR OUTPUT_DIR
#
# PROXY_TARGET_DIR holds sidecar.jar (the proxy and its libraries in one jar) and native/ (Netty's
# native libraries), the proxy module's package output. The JDK
# is the one running the build ($JAVA_HOME, else the java on PATH); it must carry jmods/.
set -euo pipefail

target=$1
out=$2
java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
jmods=$java_home/jmods
[ -d "$jmods" ] || { echo "runtime.sh: $java_home has no jmods/ (on Debian: apt-get install openjdk-17-jmods)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/opt" "$out/etc" "$out/tmp"

# What the class files use, plus what is reached only reflectively or through services:
#   jdk.crypto.ec     ECDHE and ECDSA for the JDK TLS engine (the fallback to BoringSSL)
#   jdk.unsupported   sun.misc.Unsafe and sun.misc.Signal (Netty's direct buffers; SIGTERM handling)
#   jdk.management    the process and GC meters (com.sun.management beans)
#   jdk.naming.dns    JNDI DNS, for libraries that look names up that way
#   jdk.zipfs         reading resources from jars through a file system
modules=$("$java_home/bin/jdeps" --ignore-missing-deps --print-module-deps --multi-release 17 \
  "$target/sidecar.jar")
modules="$modules,jdk.crypto.ec,jdk.unsupported,jdk.management,jdk.naming.dns,jdk.zipfs"
echo "runtime.sh: modules $modules" >&2

"$java_home/bin/jlink" --module-path "$jmods" --add-modules "$modules" \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/opt/java"

# java.desktop is in for java.beans (Jackson, Micrometer); its imaging, font and sound natives
# are not, nor the X11, freetype and ALSA libraries they would pull in.
for awt in libawt libawt_headless libawt_xawt libfontmanager libjavajpeg liblcms libmlib_image libsplashscreen libjsound; do
  rm -f "$out/opt/java/lib/$awt.so"
done

# Shared libraries: what ldd reports for the launcher, every library of the runtime, and
# Netty's native libraries for this machine (epoll, io_uring, BoringSSL; the build unpacked them
# into native/), plus the NSS modules glibc loads at run time for host lookups. Copied with their
# directories, symlinks resolved.
natives=("$target"/native/*"_$(uname -m | sed 's/aarch64/aarch_64/')".so)
libs=$( { ldd "$out/opt/java/bin/java"; find "$out/opt/java" -name '*.so' -exec ldd {} \; ; ldd "${natives[@]}"; } 2>/dev/null \
  | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | grep -v "^$out/" | sort -u)
multiarch=$(dirname "$(ldd "$out/opt/java/bin/java" | awk '/libc.so/ { print $3 }')")
for extra in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
  [ -e "$multiarch/$extra" ] && libs="$libs"$'\n'"$multiarch/$extra"
done
for lib in $libs; do
  case $lib in
    "$java_home"/*) continue ;;  # the runtime's own, already in opt/java
  esac
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
# Netty's own native libraries as files (/app/native, on the entrypoint's java.library.path):
# loaded from there, they need no writable /tmp to be copied out of their jars into
mkdir -p "$out/app/native"
cp "${natives[@]}" "$out/app/native/"

# No shell or useradd in the image: the user is written here. 65532 is distroless's "nonroot".
cat >"$out/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:sidecar:/tmp:/sbin/nologin
PASSWD
cat >"$out/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
printf 'hosts: files dns\n' >"$out/etc/nsswitch.conf"

# JVM options that depend on the runtime: -XX:TrimNativeHeapInterval is in 17.0.9 and later.
: >"$out/opt/java/sidecar.args"
if "$out/opt/java/bin/java" -XX:TrimNativeHeapInterval=5000 -version >/dev/null 2>&1; then
  echo "-XX:TrimNativeHeapInterval=5000" >"$out/opt/java/sidecar.args"
fi

# The class-data-sharing archive (/app/sidecar.jsa), made as proxy/target/sidecar.jsa is
# (proxy/src/build/cds-archive.sh) but by this runtime, inside a copy of the image's root where
# the jar sits at the path and with the time (Jib's epoch + 1 s) it has in the image: the
# JVM maps an archive only for the class path it was made for: the proxy's one jar,
# /app/sidecar.jar, which the entrypoint's class path (/app/sidecar-classpath) names. Needs
# unshare(1) with mount and PID namespaces (as root, or in an unprivileged user namespace);
# without them the image has no archive and starts as before.
mkdir -p "$out/app"
# The jar without the native libraries it carries for every platform (15 MB): Netty looks on
# java.library.path (/app/native, this machine's) before it looks in the jar.
"$java_home/bin/java" "$(dirname "$0")/JarWithout.java" "$target/sidecar.jar" "$out/app/sidecar.jar" META-INF/native/ >&2
classpath=/app/sidecar.jar
echo "$classpath" >"$out/app/sidecar-classpath"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$out/." "$stage/"
mkdir -p "$stage/tmp" "$stage/proc"
touch -d @1 "$stage/app/sidecar.jar"
# (a /proc of its own: the loader resolves the launcher's $ORIGIN through /proc/self/exe)
in_root=(unshare --mount --pid --fork --mount-proc --root="$stage")
[ "$(id -u)" = 0 ] || in_root=(unshare --map-root-user --mount --pid --fork --mount-proc --root="$stage")
if ! "${in_root[@]}" /opt/java/bin/java -version >/dev/null 2>&1; then
  echo "runtime.sh: no class-data-sharing archive: cannot run the image's java in a copy of its root (unshare needs root or an unprivileged user namespace)" >&2
elif bash "$(dirname "$0")/../../proxy/src/build/cds-archive.sh" "$classpath" /tmp/sidecar.classlist /tmp/sidecar.jsa \
    "${in_root[@]}" /opt/java/bin/java; then
  cp "$stage/tmp/sidecar.jsa" "$out/app/sidecar.jsa"
  echo "runtime.sh: class-data-sharing archive $(du -h "$out/app/sidecar.jsa" | cut -f1)" >&2
else
  echo "runtime.sh: no class-data-sharing archive (the step above failed)" >&2
fi

echo "runtime.sh: $(du -sh "$out" | cut -f1) in $out ($(echo "$libs" | wc -l) shared libraries)" >&2
