#!/bin/sh
# README command 2: install dependencies, build, run every test (unit and integration).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root: the integration tests create real containers" >&2; exit 1; }
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
cd "$repo/build"
ctest --output-on-failure -j2 --timeout 300
