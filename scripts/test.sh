#!/bin/sh
# README command 2: install dependencies, build, run every test (unit and integration);
# then the same unit and integration tests under ASan + UBSan, and each fuzz target for
# a bounded time (OCIRUN_FUZZ_SECONDS, default 30; 0 skips both sanitizer stages).
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

fuzz_seconds="${OCIRUN_FUZZ_SECONDS:-30}"
[ "$fuzz_seconds" = 0 ] && exit 0

# 2. ASan + UBSan: clang, dynamic, one tree for the tests and the fuzz targets
#    (build-sanitize/). The e2e, VM, systemd and soak tests are left to the static build above: they
#    exercise clients, a guest kernel and repetition, not more of ocirun's own code.
echo "== sanitizer build (ASan + UBSan): unit and integration tests" >&2
CXX=clang++ cmake -S "$repo" -B "$repo/build-sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOCIRUN_STATIC=OFF -DOCIRUN_FUZZ=ON >/dev/null
cmake --build "$repo/build-sanitize" -j"$(nproc)"
cd "$repo/build-sanitize"
# Sanitizer reports name file:line only with llvm-symbolizer on PATH (llvm-14 keeps it here).
PATH="$PATH:/usr/lib/llvm-14/bin" ctest --output-on-failure -j2 --timeout 300 -LE 'e2e|vm|systemd|soak'

# 3. Each fuzz target on its seeds, two at a time.
echo "== fuzzing, ${fuzz_seconds}s per target" >&2
"$repo/scripts/fuzz.sh" --no-build --seconds "$fuzz_seconds" --jobs 2
