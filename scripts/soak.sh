#!/bin/bash
# Soak test: many container lifecycles, then many exec and pause/resume rounds on one long-lived
# container, counting what leaks. Prints the counts; exits 1 if anything leaked, 2 on misuse,
# 77 when not root.
#   scripts/soak.sh [--cycles N] [--exec-cycles M] [--runtime BIN] [--rss-slack KIB]
# N create/start/wait/delete cycles (default 10000); M rounds of exec + pause + resume (default
# 1000) while a foreground `run` and an `events` stream stay attached to the container, those
# two being ocirun's long-lived processes: their fds and RSS, and the container init's, are
# compared after a warm-up and at the end. Counted at the end: cgroups, mounts, state dirs,
# processes left in the soak's cgroups, zombies.
set -u

# Detached containers outlive the command that made them and are reparented to the nearest
# subreaper (containerd's shim, conmon), else to PID 1, which may never reap them (as in some
# sandboxes). Be that subreaper, as a shim would: bash reaps every child that exits.
if [ "${OCIRUN_SOAK_SUBREAPER:-}" != 1 ]; then
  export OCIRUN_SOAK_SUBREAPER=1
  exec python3 -c 'import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
os.execv("/bin/bash", ["/bin/bash"] + sys.argv[1:])' "$0" "$@"
fi

cycles=10000
exec_cycles=1000
rss_slack=2048  # KiB an ocirun process may grow by (allocator noise) before it counts as a leak
repo=$(cd "$(dirname "$0")/.." && pwd)
runtime="$repo/build/ocirun"
usage() { echo "usage: $0 [--cycles N] [--exec-cycles M] [--runtime BIN] [--rss-slack KIB]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) [ $# -ge 2 ] || usage; cycles=$2; shift 2 ;;
    --exec-cycles) [ $# -ge 2 ] || usage; exec_cycles=$2; shift 2 ;;
    --runtime) [ $# -ge 2 ] || usage; runtime=$2; shift 2 ;;
    --rss-slack) [ $# -ge 2 ] || usage; rss_slack=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ "$cycles" =~ ^[0-9]+$ && "$exec_cycles" =~ ^[0-9]+$ ]] || usage
[ "$(id -u)" = 0 ] || { echo "soak: needs root (skipped)" >&2; exit 77; }
runtime=$(readlink -f "$(command -v "$runtime" || echo "$runtime")")
[ -x "$runtime" ] || { echo "soak: runtime not found: $runtime" >&2; exit 2; }

work=$(mktemp -d /tmp/ocirun-soak-XXXXXX)
chmod 755 "$work"
root="$work/state"
prefix="soak-$$"
long="$prefix-long"
bg_pids=()

rt() { "$runtime" --root "$root" "$@"; }

cleanup() {
  for id in $(ls "$root" 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
  for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$repo/bundles/make-bundle.sh" --runtime "$runtime" "$work/bundle" >/dev/null || { echo "soak: make-bundle failed" >&2; exit 1; }
bundle="$work/bundle"
# Foreground, no terminal, read-only rootfs; args set per phase.
set_args() {
  python3 - "$bundle/config.json" "$@" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["root"]["readonly"] = True
json.dump(c, open(path, "w"), indent=2)
PY
}

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now_ms() { date +%s%3N; }
fail_count=0
report() {  # name value: a count that must be 0
  printf '  %-44s %s\n' "$1" "$2"
  [ "$2" = 0 ] || fail_count=$((fail_count + 1))
}
# Cgroup directories and mounts that name the soak's ids, processes still in those cgroups.
leaked_cgroups() { ls -d /sys/fs/cgroup/*/ocirun/"$prefix"* /sys/fs/cgroup/ocirun/"$prefix"* 2>/dev/null | wc -l; }
leaked_mounts() { grep -c -e "$prefix" -e "$work" /proc/self/mountinfo; }
leaked_processes() {  # live ones; zombies are counted below
  local n=0 f stat
  for f in $(grep -l "/ocirun/$prefix" /proc/[0-9]*/cgroup 2>/dev/null); do
    { read -r stat < "${f%/cgroup}/stat"; } 2>/dev/null || continue
    stat=${stat##*) }
    [ "${stat%% *}" = Z ] || n=$((n + 1))
  done
  echo "$n"
}
state_dirs() { ls -A "$root" 2>/dev/null | wc -l; }
# Zombies whose parent is this script or the long-lived container, or in a soak cgroup.
zombies() {
  local n=0 pid stat ppid
  for s in /proc/[0-9]*/stat; do
    { read -r stat < "$s"; } 2>/dev/null || continue
    stat=${stat##*) }
    [ "${stat%% *}" = Z ] || continue
    ppid=$(echo "$stat" | cut -d' ' -f2)
    pid=${s#/proc/}; pid=${pid%/stat}
    if [ "$ppid" = $$ ] || [ "$ppid" = "${long_init:-x}" ] || grep -q "/ocirun/$prefix" "/proc/$pid/cgroup" 2>/dev/null; then
      n=$((n + 1))
    fi
  done
  echo "$n"
}

echo "soak: runtime $runtime, $cycles lifecycle cycles, $exec_cycles exec/pause cycles"

# ---- Phase 1: create / start / wait / delete ----------------------------------------------------
set_args true
errors=0
t0=$(now_ms)
for ((i = 1; i <= cycles; i++)); do
  id="$prefix-$i"
  # create's output to a file: the container inherits it and holds it open (a pipe would wait).
  if ! rt create --bundle "$bundle" "$id" </dev/null >"$work/create.out" 2>&1; then
    errors=$((errors + 1)); echo "soak: cycle $i: create: $(cat "$work/create.out")" >&2
  elif ! out=$(rt start "$id" 2>&1); then
    errors=$((errors + 1)); echo "soak: cycle $i: start: $out" >&2
  else
    for ((w = 0; w < 500; w++)); do
      rt state "$id" 2>/dev/null | grep -q '"status": "stopped"' && break
      sleep 0.01
    done
    [ "$w" -lt 500 ] || { errors=$((errors + 1)); echo "soak: cycle $i: not stopped after 5s" >&2; }
  fi
  out=$(rt delete --force "$id" 2>&1) || { errors=$((errors + 1)); echo "soak: cycle $i: delete: $out" >&2; }
  if ((i % 1000 == 0)); then
    echo "  ... $i cycles, $(( ($(now_ms) - t0) / i )) ms/cycle, cgroups $(leaked_cgroups), state dirs $(state_dirs)"
  fi
done
t1=$(now_ms)
echo "phase 1: $cycles cycles in $(( (t1 - t0) / 1000 )) s ($(( cycles ? (t1 - t0) / cycles : 0 )) ms/cycle)"
report "failed commands" "$errors"
report "leaked cgroups" "$(leaked_cgroups)"
report "leaked mounts" "$(leaked_mounts)"
report "leftover state dirs" "$(state_dirs)"
report "processes left in soak cgroups" "$(leaked_processes)"
report "zombies" "$(zombies)"

# ---- Phase 2: exec + pause/resume on one container --------------------------------------------
set_args sleep 1000000
"$runtime" --root "$root" run --bundle "$bundle" "$long" </dev/null >"$work/run.out" 2>"$work/run.err" &
run_pid=$!
bg_pids+=("$run_pid")
for ((w = 0; w < 500; w++)); do
  rt state "$long" 2>/dev/null | grep -q '"status": "running"' && break
  sleep 0.01
done
long_init=$(rt state "$long" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
"$runtime" --root "$root" events --interval 1s "$long" >/dev/null 2>"$work/events.err" &
events_pid=$!
bg_pids+=("$events_pid")

errors=0
exec_round() {
  local out
  out=$(rt exec "$long" true 2>&1 </dev/null) || { errors=$((errors + 1)); echo "soak: exec: $out" >&2; }
  out=$(rt pause "$long" 2>&1) || { errors=$((errors + 1)); echo "soak: pause: $out" >&2; }
  out=$(rt resume "$long" 2>&1) || { errors=$((errors + 1)); echo "soak: resume: $out" >&2; }
}
# A warm-up, so one-time allocations are in the baseline.
for ((i = 0; i < 20; i++)); do exec_round; done
sleep 1.1
declare -A fd0 rss0
for p in run:$run_pid events:$events_pid init:$long_init; do
  fd0[${p%%:*}]=$(fd_count "${p#*:}"); rss0[${p%%:*}]=$(rss_kib "${p#*:}")
done
t0=$(now_ms)
for ((i = 1; i <= exec_cycles; i++)); do
  exec_round
  ((i % 200 == 0)) && echo "  ... $i exec/pause cycles"
done
t1=$(now_ms)
sleep 1.1  # an events interval, so the stream has done its periodic work after the last round
echo "phase 2: $exec_cycles exec+pause+resume cycles in $(( (t1 - t0) / 1000 )) s"
report "failed commands" "$errors"
for p in run:$run_pid events:$events_pid init:$long_init; do
  name=${p%%:*} pid=${p#*:}
  fd1=$(fd_count "$pid") rss1=$(rss_kib "$pid")
  if [ "$name" = init ]; then label="container init (pid $pid)"; else label="ocirun $name (pid $pid)"; fi
  kill -0 "$pid" 2>/dev/null || { report "$label exited" 1; continue; }
  report "$label fds gained (${fd0[$name]} -> $fd1)" "$((fd1 > fd0[$name] ? fd1 - fd0[$name] : 0))"
  grown=$((rss1 - rss0[$name]))
  printf '  %-44s %s KiB (%s -> %s)\n' "$label RSS growth" "$grown" "${rss0[$name]}" "$rss1"
  [ "$grown" -le "$rss_slack" ] || fail_count=$((fail_count + 1))
done
report "zombies" "$(zombies)"

rt kill "$long" KILL >/dev/null 2>&1
for ((w = 0; w < 500; w++)); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.01; done
kill -0 "$run_pid" 2>/dev/null && { report "ocirun run still there after its container died" 1; kill -KILL "$run_pid"; }
wait "$run_pid" 2>/dev/null
for ((w = 0; w < 300; w++)); do kill -0 "$events_pid" 2>/dev/null || break; sleep 0.01; done
kill -KILL "$events_pid" 2>/dev/null; wait "$events_pid" 2>/dev/null
bg_pids=()
report "leaked cgroups" "$(leaked_cgroups)"
report "leaked mounts" "$(leaked_mounts)"
report "leftover state dirs" "$(state_dirs)"
report "processes left in soak cgroups" "$(leaked_processes)"

if [ "$fail_count" -ne 0 ]; then
  echo "soak: FAILED: $fail_count leak or error counts are not 0"
  exit 1
fi
echo "soak: OK, nothing leaked"
