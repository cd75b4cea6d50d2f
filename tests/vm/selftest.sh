#!/bin/bash
# Self-test of tests/vm/run-in-v2-vm.sh: two guest boots (~15 s on an idle host).
#   1. one boot checks the guest (pure cgroup v2 with the five controllers, root, writable /tmp
#      and repo dir, host binaries, stdout/stderr separation, memory.max OOM kill) and exits 7;
#   2. one boot checks that --timeout kills the guest and exits 124.
# Prints "N passed, N failed" last; exits non-zero on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN="$HERE/run-in-v2-vm.sh"
pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

cd "$HERE/../.." || exit 1   # the repo: the guest must see it as its working directory
"$RUN" -- bash -c '
  set -u
  cat /sys/fs/cgroup/cgroup.subtree_control
  stat -fc %T /sys/fs/cgroup
  [ -e /sys/fs/cgroup/cpu ] && echo "v1-dir-present" || echo "no-v1"
  id -u
  hostname
  echo hi > /tmp/x && cat /tmp/x
  echo run > /run/x && cat /run/x
  touch ./.vm-write-test && echo repo-writable && rm ./.vm-write-test
  /usr/bin/env true && echo host-binary-ok
  echo to-stderr >&2
  mkdir /sys/fs/cgroup/selftest
  echo 20M > /sys/fs/cgroup/selftest/memory.max
  (echo $BASHPID > /sys/fs/cgroup/selftest/cgroup.procs; exec sh -c "head -c 100M /dev/zero | tail") 2>/dev/null
  echo "hog=$?"
  grep "^oom_kill " /sys/fs/cgroup/selftest/memory.events
  exit 7' > "$out" 2> "$err"
rc=$?
check "exit status propagated (7, got $rc)" [ "$rc" = 7 ]
want='cpuset cpu io memory pids
cgroup2fs
no-v1
0
ocirun-v2-vm
hi
run
repo-writable
host-binary-ok
hog=137
oom_kill 1'
if [ "$(cat "$out")" = "$want" ]; then ok "guest state (cgroup2, controllers, root, tmpfs, binaries, OOM kill)"
else bad "guest state: got:"; sed 's/^/    /' "$out"; echo "  stderr:"; sed 's/^/    /' "$err"; fi
check "stderr kept separate" grep -qx to-stderr "$err"

start=$(date +%s)
"$RUN" --timeout 5 -- sleep 600 > /dev/null 2> "$err"
rc=$?
took=$(( $(date +%s) - start ))
check "--timeout exits 124 (got $rc)" [ "$rc" = 124 ]
check "--timeout took ${took}s (< 20)" [ "$took" -lt 20 ]

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
