#!/bin/sh
# README command 2: install dependencies, build, run every test (unit and integration).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root: the integration tests create real containers" >&2; exit 1; }
"$repo/scripts/install-deps.sh"
# The crash points (runtime/base/fault.h) compiled in, for the robustness tests' crash cases;
# inert unless $OCIRUN_CRASH_AT is set. A plain scripts/build.sh leaves them out of the static
# build (once configured ON, build/ keeps them until reconfigured with =OFF).
"$repo/scripts/build.sh" -DOCIRUN_FAULT_INJECTION=ON
cd "$repo/build"
ctest --output-on-failure -j2 --timeout 300
