#!/bin/sh
# Installs what ocirun needs to build and test, from Debian 12's repositories only.
set -eu
# clang, libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) and llvm-14
# (llvm-symbolizer): the sanitizer and fuzz stages of test.sh.
# systemd, dbus: the systemd cgroup driver test boots systemd in private namespaces;
# containerd, podman: the end-to-end tests (they install them too when run alone).
packages="build-essential cmake pkg-config libseccomp-dev libcap-dev nlohmann-json3-dev libfmt-dev catch2 busybox-static iproute2 clang libclang-rt-14-dev llvm-14 systemd dbus containerd podman"
missing=""
for p in $packages; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
fi
