#!/bin/sh
# Side-by-side benchmark of ocirun, crun and runc; see bench/README.md.
#   bench/run.sh [--quick] [--iterations N] [--runtimes ocirun,crun,runc] [--ocirun BIN | --commit REV]
#                [other bench.py flags: bench/bench.py --help]
# Builds ocirun (Release) from the working tree in build-bench/ unless --ocirun BIN or $OCIRUN
# names one, or --commit REV asks for a committed revision (git archive + build under /tmp); installs crun
# and runc with apt-get if missing, then runs bench/bench.py in a private mount namespace where
# /sys/fs/cgroup/unified is unmounted (crun 1.8.1 refuses the hybrid host otherwise). All runtimes
# run in that same namespace; the host's mounts are not changed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root" >&2; exit 1; }

ocirun=${OCIRUN:-}
commit=
# Pick out --ocirun BIN (also passed on to bench.py) and --commit REV (handled here).
n=$#
i=0
while [ $i -lt $n ]; do
  a=$1
  shift
  i=$((i + 1))
  case "$a" in
    --ocirun) ocirun=$1; set -- "$@" "$a" "$1"; shift; i=$((i + 1)) ;;
    --ocirun=*) ocirun=${a#--ocirun=}; set -- "$@" "$a" ;;
    --commit) commit=$1; shift; i=$((i + 1)) ;;
    --commit=*) commit=${a#--commit=} ;;
    *) set -- "$@" "$a" ;;
  esac
done

build_ocirun() {  # SRC BUILD
  log=$(mktemp /tmp/ocirun-bench-build.XXXXXX)
  if ! { cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release &&
         cmake --build "$2" -j"$(nproc)" --target ocirun; } >"$log" 2>&1; then
    tail -30 "$log" >&2
    rm -f "$log"
    echo "$0: building ocirun failed" >&2
    exit 1
  fi
  rm -f "$log"
}

label=
if [ -n "$commit" ]; then
  # A committed revision, exported with git archive (the repository is only read) and built
  # in a cache directory keyed by the full hash.
  sha=$(git -C "$repo" rev-parse --verify "$commit^{commit}")
  src="/tmp/ocirun-bench-src.$sha"
  if [ ! -x "$src/build/ocirun" ]; then
    rm -rf "$src"
    mkdir -p "$src"
    git -C "$repo" archive "$sha" | tar -x -C "$src"
    build_ocirun "$src" "$src/build"
  fi
  ocirun="$src/build/ocirun"
  label=$(git -C "$repo" rev-parse --short "$sha")
elif [ -z "$ocirun" ]; then
  build_ocirun "$repo" "$repo/build-bench"
  ocirun="$repo/build-bench/ocirun"
fi
set -- "$@" --ocirun "$ocirun"
[ -z "$label" ] || set -- "$@" --ocirun-commit "$label"
[ -x "$ocirun" ] || { echo "$0: ocirun not found: $ocirun" >&2; exit 1; }

missing=
for rt in crun runc; do
  command -v "$rt" >/dev/null 2>&1 || missing="$missing $rt"
done
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086
  apt-get install -y $missing >&2
fi

py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)

# unshare -m makes mounts private by default, so the umount stays inside this namespace.
exec unshare --mount --propagation private sh -c '
  if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
  exec "$@"' sh "$py" "$here/bench.py" "$@"
