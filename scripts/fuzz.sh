#!/bin/sh
# Builds the libFuzzer targets (fuzz/, clang, ASan + UBSan) into build-sanitize/ and
# runs each for a bounded time on its seeds in fuzz/corpus/<name>/.
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--no-build] [TARGET...]
# --seconds: per target (default 60); --jobs: targets run at once (default 1).
# The corpus a run grows stays in build-sanitize/fuzz/corpus-<name>/ (the seeds in
# the repo are not touched), crashing inputs in build-sanitize/fuzz/artifacts/.
# Exits non-zero when a target crashes, leaks or times out; its log says which input.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
build="$repo/build-sanitize"
seconds=60
jobs=1
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
targets="${*:-spec state signal_id seccomp}"

if [ "$do_build" = 1 ]; then
  # The same tree as the sanitizer test stage of scripts/test.sh, so CI builds it once.
  CXX=clang++ cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOCIRUN_STATIC=OFF -DOCIRUN_FUZZ=ON >/dev/null
  cmake --build "$build" -j2 --target fuzz_targets
fi

# symbolize=1 needs llvm-symbolizer on PATH (Debian keeps it in llvm-14's bin).
PATH="$PATH:/usr/lib/llvm-14/bin"
export PATH
out="$build/fuzz"
mkdir -p "$out/artifacts"

run_one() {
  name="$1"
  work="$out/corpus-$name"
  mkdir -p "$work"
  dict=""
  [ "$name" != signal_id ] && dict="-dict=$repo/fuzz/json.dict"
  # close_fd_mask=3: compile() warns on stderr about unknown syscall names, a line per
  # input; libFuzzer keeps its own copy of stderr for its reports and the sanitizers'.
  # timeout=25: an input that takes longer is reported as a finding (a hang).
  "$out/fuzz_$name" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -close_fd_mask=3 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/$name-" $dict \
    "$work" "$repo/fuzz/corpus/$name" >"$out/$name.log" 2>&1
}

summary() {
  name="$1" rc="$2"
  log="$out/$name.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 | sed 's/^\(#[0-9]*\).*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [0-9/]*[a-zA-Z]*\).*/\2 \3 \4/')
  if [ "$rc" = 0 ]; then
    echo "fuzz $name: ok, ${seconds}s, ${execs:-?} execs, $last"
  else
    echo "fuzz $name: FAILED (exit $rc), ${execs:-?} execs, $last; log: $log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$log" | head -n 8 >&2 || true
  fi
}

failed=0
running=""
for name in $targets; do
  [ -x "$out/fuzz_$name" ] || { echo "fuzz.sh: no target fuzz_$name (built with OCIRUN_FUZZ=ON?)" >&2; exit 2; }
  ( run_one "$name"; ) &
  running="$running $!:$name"
  if [ "$(echo $running | wc -w)" -ge "$jobs" ]; then
    for job in $running; do
      pid=${job%%:*} n=${job#*:}
      rc=0; wait "$pid" || rc=$?
      summary "$n" "$rc"; [ "$rc" = 0 ] || failed=1
    done
    running=""
  fi
done
for job in $running; do
  pid=${job%%:*} n=${job#*:}
  rc=0; wait "$pid" || rc=$?
  summary "$n" "$rc"; [ "$rc" = 0 ] || failed=1
done
exit "$failed"
