#!/bin/sh
# Builds an OCI bundle for tests: DEST/rootfs (Debian's static busybox and its applet links)
# and DEST/config.json written by `RUNTIME spec`.
#   bundles/make-bundle.sh [--runtime BIN] DEST
# BIN defaults to the built ocirun (<repo>/build/ocirun). Safe to run again on the same DEST.
set -eu

usage() { echo "usage: $0 [--runtime BIN] DEST" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
runtime="$repo/build/ocirun"
if [ "${1:-}" = "--runtime" ]; then
  [ $# -ge 2 ] || usage
  runtime=$2
  shift 2
fi
[ $# -eq 1 ] || usage
dest=$1

# The runtime may be a bare name ("runc"); resolve it before we cd away.
case "$runtime" in
  */*) ;;
  *) runtime=$(command -v "$runtime") || runtime="./$runtime" ;;
esac
[ -x "$runtime" ] || { echo "$0: runtime not found: $runtime (build ocirun or pass --runtime)" >&2; exit 1; }
runtime=$(readlink -f "$runtime")

# The rootfs needs a busybox that runs without the host's libraries.
if ! dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
  apt-get install -y busybox-static >&2
fi

mkdir -p "$dest"
# Runtimes refuse a rootfs reached through a symlink, so work on the resolved path.
dest=$(readlink -f "$dest")
rootfs="$dest/rootfs"

for d in bin sbin etc proc sys dev tmp root usr/bin usr/sbin home/user; do
  mkdir -p "$rootfs/$d"
done
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
cp /bin/busybox "$rootfs/bin/busybox"

# `busybox --list-full` prints each applet's path, e.g. "usr/bin/awk"; "linuxrc" (no dir) is skipped.
for applet in $(/bin/busybox --list-full); do
  case "$applet" in
    bin/busybox) ;;
    */*) ln -sfn /bin/busybox "$rootfs/$applet" ;;
  esac
done

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
EOF
chown 1000:1000 "$rootfs/home/user"

# `spec` refuses to overwrite an existing config.json.
rm -f "$dest/config.json"
(cd "$dest" && "$runtime" spec)
echo "$dest"
