#!/bin/sh
# Configures and builds ocirun and its tests into build/. Arguments go to cmake's configure
# step (scripts/test.sh passes -DOCIRUN_FAULT_INJECTION=ON).
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$repo/build" -j"$(nproc)"
