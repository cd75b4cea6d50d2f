#!/bin/sh
# README command 1: install dependencies, build, make the busybox bundle and run a
# container that shows its isolation from the host.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh" >/dev/null
bundle="$repo/build/demo-bundle"
"$repo/bundles/make-bundle.sh" --runtime "$repo/build/ocirun" "$bundle" >/dev/null

# What the container shows about itself.
cat >"$bundle/rootfs/demo.sh" <<'SH'
echo "hostname:     $(hostname)"
echo "my pid:       $$"
echo "uid_map:      $(cat /proc/self/uid_map)"
echo "capabilities: $(grep CapEff /proc/self/status)"
echo "processes I can see:"; ps
echo "my mounts:"; cat /proc/self/mounts
SH
# The default config wants a terminal; the demo may run without one.
sed -i 's/"terminal": true/"terminal": false/; s/^\(\s*\)"sh"$/\1"sh", "\/demo.sh"/' "$bundle/config.json"

echo "host: hostname $(hostname), this shell is pid $$"
echo "--- inside the container:"
exec "$repo/build/ocirun" run --bundle "$bundle" "demo-$$"
