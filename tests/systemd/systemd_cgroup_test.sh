#!/bin/bash
# The systemd cgroup driver against a real systemd: boots /lib/systemd/systemd as PID 1 of
# private namespaces (mount, pid, cgroup) on a read-only bind of the host's / with tmpfs
# /run, /tmp and /var/{lib/systemd,log,cache}, and a cgroup2 mount at /sys/fs/cgroup (so
# systemd runs in unified mode), then runs `ocirun --systemd-cgroup` inside and checks from
# the host what systemd and ocirun did.
#   tests/systemd/systemd_cgroup_test.sh [--runtime BIN] [--cgroups-test BIN] [--hybrid] [--keep]
# --hybrid boots systemd in hybrid mode instead (v1 name=systemd, memory and pids hierarchies
# plus cgroup2), where the memory and pids limits can be checked on the scope.
# With --cgroups-test (the built tests/cgroups_test), its [dbus-live] cases also run inside:
# the D-Bus client against systemd's private socket and a dbus-daemon started there.
# Needs root and a cgroup2 mount; exits 77 (skipped) without. The host's own systemd (if
# any) is not involved: the systemd under test lives in its own cgroup, made here, under
# this process's cgroup2 cgroup, and everything dies with its PID namespace.
set -u

repo=$(cd "$(dirname "$0")/../.." && pwd)
runtime="$repo/build/ocirun"
keep=0
layout=unified
cgroups_test=

# --- the init side: runs inside `unshare`, becomes systemd ------------------------------
if [ "${1:-}" = "--boot" ]; then
  set -e
  root=$2
  mount --rbind / "$root"
  mount -o remount,bind,ro "$root"
  for d in run tmp var/lib/systemd var/log var/cache; do
    mount -t tmpfs -o mode=755 tmpfs "$root/$d"
  done
  chmod 1777 "$root/tmp"
  mount -t proc proc "$root/proc"
  # The rbind brought the host's /sys; replace its cgroup tree with our cgroup namespace's
  # (unmounted, not covered: covered mounts stay in mountinfo, where ocirun looks).
  umount -R "$root/sys/fs/cgroup"
  if [ "$3" = hybrid ]; then
    # systemd's hybrid mode: a tmpfs with cgroup2 at unified/, its name=systemd hierarchy and
    # the v1 controllers it may delegate (all rooted at the cgroups the host side made).
    mount -t tmpfs -o mode=755 cgroup "$root/sys/fs/cgroup"
    mkdir "$root/sys/fs/cgroup/unified" "$root/sys/fs/cgroup/systemd"
    mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup/unified"
    mount -t cgroup -o none,name=systemd cgroup "$root/sys/fs/cgroup/systemd"
    for c in $4; do
      mkdir "$root/sys/fs/cgroup/$c"
      mount -t cgroup -o "$c" cgroup "$root/sys/fs/cgroup/$c"
    done
  else
    mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
  fi
  mkdir -p "$root/run/systemd/system"
  # A target with nothing in it: systemd starts only itself (and what the test asks for).
  printf '[Unit]\nDescription=ocirun systemd-cgroup test\n' >"$root/run/systemd/system/ocirun-test.target"
  exec chroot "$root" /lib/systemd/systemd --system --unit=ocirun-test.target --log-level=warning </dev/null
fi

while [ $# -gt 0 ]; do
  case $1 in
    --runtime) runtime=$2; shift 2 ;;
    --cgroups-test) cgroups_test=$(readlink -f "$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    --hybrid) layout=hybrid; shift ;;
    *) echo "usage: $0 [--runtime BIN] [--cgroups-test BIN] [--hybrid] [--keep]" >&2; exit 2 ;;
  esac
done
runtime=$(readlink -f "$runtime")

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd"
[ -x "$runtime" ] || { echo "runtime not found: $runtime" >&2; exit 2; }
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
  unified=/sys/fs/cgroup
elif [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
  unified=/sys/fs/cgroup/unified
else
  skip "no cgroup2 mount"
fi

pass=0 failed=0
log() { echo "[$(date +%H:%M:%S)] $*"; }
ok() { pass=$((pass + 1)); log "PASS $*"; }
bad() { failed=$((failed + 1)); log "FAIL $*"; }
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$2], got [$3]"; fi
}

self=$(sed -n 's/^0:://p' /proc/self/cgroup)
[ "$self" = / ] && self=
nsroot="$unified$self/ocirun-sdtest.$$"
work=$(mktemp -d /var/tmp/ocirun-sdtest.XXXXXX)
sdpid=

# hybrid: every v1 hierarchy of this host goes to systemd (it would mount the missing ones
# itself, rooted at the host's root cgroups), each rooted at a cgroup made here under this
# process's own. root_of[hierarchy dir] -> that cgroup on the host.
v1_controllers=
v1_roots=()
declare -A root_of
if [ "$layout" = hybrid ]; then
  while IFS=: read -r _ key own; do
    [ -n "$key" ] || continue
    h=$key; [ "$key" = name=systemd ] && h=systemd
    [ "$(stat -f -c %T "/sys/fs/cgroup/$h" 2>/dev/null)" = cgroupfs ] || continue
    [ "$own" = / ] && own=
    root_of[$h]="/sys/fs/cgroup/$h$own/ocirun-sdtest.$$"
    v1_roots+=("${root_of[$h]}")
    [ "$h" = systemd ] || v1_controllers="$v1_controllers $h"
  done </proc/self/cgroup
  for h in systemd memory pids; do [ -n "${root_of[$h]:-}" ] || skip "no v1 $h hierarchy for --hybrid"; done
fi

cleanup() {
  # Frozen tasks take no SIGKILL: thaw whatever a failed test left paused.
  local f
  for f in $(find "$nsroot" -name cgroup.freeze 2>/dev/null); do echo 0 >"$f"; done
  [ -n "${root_of[freezer]:-}" ] &&
    for f in $(find "${root_of[freezer]}" -name freezer.state 2>/dev/null); do echo THAWED >"$f"; done
  if [ -n "$sdpid" ]; then
    kill -9 "$sdpid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$sdpid" 2>/dev/null || break; sleep 0.1; done
  fi
  # systemd's cgroups outlive it (SIGKILL): remove them deepest first, once they are empty.
  local d
  for d in "$nsroot" "${v1_roots[@]}"; do
    [ -d "$d" ] || continue
    for _ in $(seq 50); do
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
      [ -d "$d" ] || break
      sleep 0.1
    done
    [ -d "$d" ] && echo "warning: could not remove $d" >&2
  done
  if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
[ -n "${SDTEST_HOLD:-}" ] && trap "cleanup; exit" INT TERM

# Inside, /tmp, /run and /var/{lib/systemd,log,cache} are fresh tmpfs: a build tree under one
# of them (a clone in /tmp) would vanish. Run copies from the work dir instead.
mkdir -p "$work/bin"
cp "$runtime" "$work/bin/ocirun"
runtime="$work/bin/ocirun"
if [ -n "$cgroups_test" ]; then
  cp "$cgroups_test" "$work/bin/cgroups_test"
  cgroups_test="$work/bin/cgroups_test"
fi

log "bundle in $work"
"$repo/bundles/make-bundle.sh" --runtime "$runtime" "$work/bundle" >"$work/bundle.log" 2>&1 ||
  { cat "$work/bundle.log"; exit 2; }
mkdir -p "$work/root"

# systemd's cgroup namespace root: a cgroup of our own, so systemd never sees the host's.
mkdir "$nsroot"
for d in "${v1_roots[@]}"; do
  mkdir "$d"
  # A new v1 cpuset takes no task until it has cpus and mems.
  case $d in /sys/fs/cgroup/cpuset/*)
    cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
    cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems" ;;
  esac
done
(
  echo "$BASHPID" >"$nsroot/cgroup.procs"
  for d in "${v1_roots[@]}"; do echo "$BASHPID" >"$d/cgroup.procs"; done
  exec env -i container=ocirun-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    unshare --mount --pid --fork --cgroup --propagation private "$0" --boot "$work/root" "$layout" "$v1_controllers"
) >"$work/boot.log" 2>&1 &
unshare_pid=$!
for _ in $(seq 100); do
  sdpid=$(pgrep -P "$unshare_pid" | head -1)
  [ -n "$sdpid" ] && break
  sleep 0.1
done
[ -n "$sdpid" ] || { cat "$work/boot.log"; echo "systemd did not start" >&2; exit 1; }

# Runs a command in systemd's namespaces and root; joins its init.scope first, so the
# command's cgroup is one systemd can see (and move processes out of).
inside() {
  sh -c 'for d in $1; do [ -d "$d/init.scope" ] && echo $$ >"$d/init.scope/cgroup.procs"; done
         shift; exec nsenter -t "$0" -m -p -C -r -w -- "$@"' \
    "$sdpid" "$nsroot ${v1_roots[*]}" "$@"
}

state=
for _ in $(seq 300); do
  state=$(inside systemctl is-system-running 2>/dev/null)
  case $state in running | degraded) break ;; esac
  sleep 0.1
done
check "systemd is up as PID 1 in the namespace" running "${state/degraded/running}"
[ -S "$work/root/run/systemd/private" ] || inside test -S /run/systemd/private ||
  { bad "no /run/systemd/private"; exit 1; }

# --- 0. the D-Bus client on its own ---------------------------------------------------------
if [ -n "$cgroups_test" ]; then
  if inside dbus-daemon --session --address=unix:path=/tmp/test-bus --fork >/dev/null 2>&1 &&
    inside env OCIRUN_TEST_DBUS_SOCKET=/tmp/test-bus OCIRUN_TEST_SYSTEMD_SOCKET=/run/systemd/private \
      "$cgroups_test" "[dbus-live]" >"$work/dbus-live.log" 2>&1 &&
    ! grep -q "skipped" "$work/dbus-live.log"; then
    ok "cgroups_test [dbus-live]: $(grep -E "passed|failed" "$work/dbus-live.log" | tail -1)"
  else
    bad "cgroups_test [dbus-live]:"; cat "$work/dbus-live.log"
  fi
fi

# The bundle: sleep, a cgroupsPath in systemd's form and, when systemd's cgroup2 offers the
# controllers, limits: the cgroupfs driver writes them in the scope systemd made. (On a
# hybrid host the cgroup2 mount has at most hugetlb, and only if the host enabled it.)
controllers=$(cat "$nsroot/cgroup.controllers")
[ "$layout" = hybrid ] && controllers="$controllers $v1_controllers"
controllers=${controllers# }
limits='.'
have() { case " $controllers " in *" $1 "*) return 0 ;; esac; return 1; }
# hugetlb is no controller systemd manages: it never enables it for a slice, so no limit of it
# can reach a scope (section 4). The rest sets none and passes whatever the host enabled.
have pids && limits="$limits | .linux.resources.pids.limit = 42"
have memory && limits="$limits | .linux.resources.memory.limit = 67108864"
log "controllers systemd can delegate ($layout): [${controllers}]"
make_config() {  # make_config CGROUPSPATH > config.json
  jq --arg p "$1" ".process.args = [\"sleep\", \"1000\"] | .process.terminal = false | .linux.cgroupsPath = \$p
      | $limits" "$work/bundle/config.json"
}
make_config "system.slice:ocirun:test1" >"$work/config1.json"
make_config "kubepods-besteffort-pod123.slice:cri-containerd:abc" >"$work/config2.json"
inside sh -c "cp -a '$work/bundle' /tmp/b1 && cp '$work/config1.json' /tmp/b1/config.json &&
              cp -a '$work/bundle' /tmp/b2 && cp '$work/config2.json' /tmp/b2/config.json"

rt() { inside "$runtime" --root /run/ocirun "$@"; }
# run -d with the container's stdio away from our pipes.
run_detached() {  # run_detached ID BUNDLE
  inside sh -c "'$runtime' --root /run/ocirun --systemd-cgroup run -d --bundle '$2' '$1' </dev/null >/tmp/$1.out 2>/tmp/$1.err"
  local rc=$?
  [ $rc = 0 ] || inside cat "/tmp/$1.err"
  return $rc
}
unit_prop() { inside systemctl show -p "$2" --value "$1"; }
# The host pid that is pid $1 in systemd's PID namespace (NSpid: host, that, the container's),
# among the pids in cgroup.procs $2.
host_pid_of() {
  local p
  for p in $(cat "$2" 2>/dev/null); do
    [ "$(awk '/^NSpid:/ {print $3}' "/proc/$p/status" 2>/dev/null)" = "$1" ] && { echo "$p"; return; }
  done
}

if [ -n "${SDTEST_HOLD:-}" ]; then  # debugging: keep the environment up
  echo "sdpid=$sdpid nsroot=$nsroot work=$work"; sleep "$SDTEST_HOLD"; exit 0
fi

# --- 1. system.slice:ocirun:test1 ---------------------------------------------------------
log "run --systemd-cgroup test1 (system.slice:ocirun:test1)"
if run_detached test1 /tmp/b1; then ok "run -d with --systemd-cgroup"; else bad "run -d with --systemd-cgroup"; fi
scope="$nsroot/system.slice/ocirun-test1.scope"
check "scope unit active" active "$(unit_prop ocirun-test1.scope ActiveState)"
check "scope ControlGroup" /system.slice/ocirun-test1.scope "$(unit_prop ocirun-test1.scope ControlGroup)"
check "scope delegated" yes "$(unit_prop ocirun-test1.scope Delegate)"
check "scope in system.slice" system.slice "$(unit_prop ocirun-test1.scope Slice)"
pid=$(rt state test1 | jq -r .pid)
if [ -n "$(host_pid_of "$pid" "$scope/cgroup.procs")" ]; then
  ok "init (pid $pid inside) is in $scope/cgroup.procs"
else
  bad "init pid $pid not in $scope/cgroup.procs: [$(cat "$scope/cgroup.procs" 2>&1)]"
fi
limit_checks() {  # limit_checks SCOPEDIR UNIT  (SCOPEDIR relative to the namespace's root)
  local n=0 memory_file=memory.max memory_prop=MemoryMax pids_dir=$nsroot memory_dir=$nsroot
  if [ "$layout" = hybrid ]; then
    memory_file=memory.limit_in_bytes memory_prop=MemoryLimit
    memory_dir=${root_of[memory]} pids_dir=${root_of[pids]}
    for d in "${v1_roots[@]}"; do
      if [ -d "$d$1" ]; then ok "scope cgroup in $d"; else bad "no scope cgroup $d$1"; fi
    done
  fi
  if have pids; then
    check "pids.max written in the scope" 42 "$(cat "$pids_dir$1/pids.max" 2>&1)"
    check "systemd knows TasksMax" 42 "$(unit_prop "$2" TasksMax)"
    n=1
  fi
  if have memory; then
    check "$memory_file written in the scope" 67108864 "$(cat "$memory_dir$1/$memory_file" 2>&1)"
    check "systemd knows $memory_prop" 67108864 "$(unit_prop "$2" "$memory_prop")"
    n=1
  fi
  [ $n = 1 ] || log "SKIP limits: systemd's cgroup2 has no pids or memory controller here"
}
limit_checks /system.slice/ocirun-test1.scope ocirun-test1.scope
if have memory && have pids; then
  # update: the files change, and so does the unit (or a daemon-reload would undo it).
  if rt update --memory 100m --pids-limit 50 test1; then ok "update"; else bad "update"; fi
  if [ "$layout" = hybrid ]; then
    check "update: memory.limit_in_bytes" 104857600 "$(cat "${root_of[memory]}/system.slice/ocirun-test1.scope/memory.limit_in_bytes")"
    check "update: MemoryLimit" 104857600 "$(unit_prop ocirun-test1.scope MemoryLimit)"
    check "update: pids.max" 50 "$(cat "${root_of[pids]}/system.slice/ocirun-test1.scope/pids.max")"
  else
    check "update: memory.max" 104857600 "$(cat "$scope/memory.max")"
    check "update: MemoryMax" 104857600 "$(unit_prop ocirun-test1.scope MemoryMax)"
    check "update: pids.max" 50 "$(cat "$scope/pids.max")"
  fi
  check "update: TasksMax" 50 "$(unit_prop ocirun-test1.scope TasksMax)"
fi
check "state.json records the unit" ocirun-test1.scope \
  "$(inside cat /run/ocirun/test1/state.json | jq -r .cgroup.systemd_unit)"
check "ps lists the init" "${pid:-no pid}" "$(rt ps --format json test1 | jq -r '.[0]')"

frozen_state() {  # what the freezer ocirun uses says: v1 freezer.state, or cgroup2's cgroup.events
  if [ -n "${root_of[freezer]:-}" ]; then cat "${root_of[freezer]}/system.slice/ocirun-test1.scope/freezer.state"
  else grep frozen "$scope/cgroup.events"; fi
}
frozen_yes="frozen 1" frozen_no="frozen 0"
[ -n "${root_of[freezer]:-}" ] && frozen_yes=FROZEN frozen_no=THAWED
rt pause test1 && check "pause freezes the scope" "$frozen_yes" "$(frozen_state)"
check "status paused" paused "$(rt state test1 | jq -r .status)"
rt resume test1 && check "resume thaws it" "$frozen_no" "$(frozen_state)"
check "status after resume" running "$(rt state test1 | jq -r .status)"

# A second container may not take a running unit's name.
inside sh -c "cp -a /tmp/b1 /tmp/b1dup"
if inside sh -c "'$runtime' --root /run/ocirun --systemd-cgroup create --bundle /tmp/b1dup dup </dev/null >/dev/null 2>/tmp/dup.err"; then
  bad "a second container in ocirun-test1.scope was created"
else
  err=$(inside cat /tmp/dup.err)
  case $err in *ocirun-test1.scope*) ok "unit name clash refused: $err" ;; *) bad "unit clash: unexpected error [$err]" ;; esac
fi
check "the clash left test1's scope running" active "$(unit_prop ocirun-test1.scope ActiveState)"
check "the clash left no state" "" "$(inside ls /run/ocirun | grep -x dup)"

rt kill test1 KILL
for _ in $(seq 50); do [ "$(rt state test1 2>/dev/null | jq -r .status)" = stopped ] && break; sleep 0.1; done
if rt delete test1; then ok "delete"; else bad "delete"; fi
check "unit gone after delete" inactive "$(unit_prop ocirun-test1.scope ActiveState)"
if [ -d "$scope" ]; then bad "$scope still exists"; else ok "scope cgroup removed"; fi
gone_everywhere() {  # gone_everywhere PATH: no v1 hierarchy keeps it (systemd's, or the ones ocirun made)
  local d left=
  for d in "${v1_roots[@]}"; do [ -d "$d$1" ] && left="$left $d$1"; done
  check "no v1 hierarchy keeps $1" "" "$left"
}
[ "$layout" = hybrid ] && gone_everywhere /system.slice/ocirun-test1.scope

# --- 2. a nested slice --------------------------------------------------------------------
log "run --systemd-cgroup abc (kubepods-besteffort-pod123.slice:cri-containerd:abc)"
if run_detached abc /tmp/b2; then ok "run -d in a nested slice"; else bad "run -d in a nested slice"; fi
scope2="$nsroot/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice/cri-containerd-abc.scope"
pid=$(rt state abc | jq -r .pid)
if [ -n "$(host_pid_of "$pid" "$scope2/cgroup.procs")" ]; then
  ok "init is in $scope2"
else
  bad "init pid $pid not in $scope2/cgroup.procs"
fi
check "nested scope slice" kubepods-besteffort-pod123.slice "$(unit_prop cri-containerd-abc.scope Slice)"
limit_checks "${scope2#$nsroot}" cri-containerd-abc.scope
if rt delete -f abc; then ok "delete -f"; else bad "delete -f"; fi
check "nested unit gone" inactive "$(unit_prop cri-containerd-abc.scope ActiveState)"
if [ -d "$scope2" ]; then bad "$scope2 still exists"; else ok "nested scope cgroup removed"; fi
[ "$layout" = hybrid ] && gone_everywhere "${scope2#$nsroot}"

# --- containerd: ctr + the runc v2 shim with SystemdCgroup (ctr's --runc-systemd-cgroup) ------
# Hybrid only: containerd's default spec sets cpu shares, and the unified test tree has no cpu.
if [ "$layout" != hybrid ]; then
  log "SKIP containerd: needs --hybrid (containerd's default spec sets cpu shares)"
elif ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
  log "SKIP containerd: not installed"
else
  log "containerd (runc v2 shim, SystemdCgroup) with ocirun"
  inside sh -c "cp -a '$work/bundle/rootfs' /tmp/ctr-rootfs && mkdir -p /tmp/containerd /run/containerd &&
    (containerd --root /tmp/containerd --state /run/containerd --address /run/containerd/containerd.sock \
       </dev/null >/tmp/containerd.log 2>&1 &)"
  ctr_() { inside ctr --address /run/containerd/containerd.sock "$@"; }
  for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
  if ctr_ run -d --runc-binary "$runtime" --runc-systemd-cgroup --cgroup system.slice:ctr:c1 \
      --memory-limit 67108864 --rootfs /tmp/ctr-rootfs c1 sleep 1000 >/dev/null; then
    ok "ctr run -d --runc-systemd-cgroup"
  else
    bad "ctr run -d --runc-systemd-cgroup"; inside tail -5 /tmp/containerd.log
  fi
  check "ctr: scope active" active "$(unit_prop ctr-c1.scope ActiveState)"
  check "ctr: MemoryLimit on the unit" 67108864 "$(unit_prop ctr-c1.scope MemoryLimit)"
  check "ctr: memory.limit_in_bytes in the scope" 67108864 \
    "$(cat "${root_of[memory]}/system.slice/ctr-c1.scope/memory.limit_in_bytes" 2>&1)"
  ctr_ task pause c1
  check "ctr: task pause" PAUSED "$(ctr_ task ls | awk '$1 == "c1" {print $3}')"
  ctr_ task resume c1
  check "ctr: task resume" RUNNING "$(ctr_ task ls | awk '$1 == "c1" {print $3}')"
  check "ctr: task exec joins the scope" 0::/system.slice/ctr-c1.scope \
    "$(ctr_ task exec --exec-id e1 c1 sh -c 'grep ^0:: /proc/self/cgroup')"
  ctr_ task kill -s KILL c1
  for _ in $(seq 50); do [ "$(ctr_ task ls | awk '$1 == "c1" {print $3}')" = STOPPED ] && break; sleep 0.1; done
  ctr_ task delete c1 >/dev/null && ctr_ container delete c1 >/dev/null
  check "ctr: no task left" "" "$(ctr_ task ls -q)"
  check "ctr: unit gone" inactive "$(unit_prop ctr-c1.scope ActiveState)"
  gone_everywhere /system.slice/ctr-c1.scope
fi

# --- 3. run in the foreground: the scope goes when the container exits ------------------------
make_config "system.slice:ocirun:fg" | jq '.process.args = ["sh", "-c", "exit 7"]' >"$work/config4.json"
inside sh -c "cp -a /tmp/b1 /tmp/b4 && cp '$work/config4.json' /tmp/b4/config.json"
inside sh -c "'$runtime' --root /run/ocirun --systemd-cgroup run --bundle /tmp/b4 fg </dev/null >/tmp/fg.out 2>/tmp/fg.err"
check "foreground run: the container's exit status" 7 "$?"
check "foreground run: no error" "" "$(inside cat /tmp/fg.err)"
check "foreground run: unit gone" inactive "$(unit_prop ocirun-fg.scope ActiveState)"
if [ -d "$nsroot/system.slice/ocirun-fg.scope" ]; then bad "ocirun-fg.scope cgroup left"; else ok "foreground run: scope cgroup gone"; fi
[ "$layout" = hybrid ] && gone_everywhere /system.slice/ocirun-fg.scope

# --- 3. bad cgroupsPath: refused before anything exists -----------------------------------
make_config "no-colons" >"$work/config3.json"
inside sh -c "cp -a /tmp/b1 /tmp/b3 && cp '$work/config3.json' /tmp/b3/config.json"
if inside sh -c "'$runtime' --root /run/ocirun --systemd-cgroup create --bundle /tmp/b3 bad </dev/null >/dev/null 2>/tmp/bad.err"; then
  bad "cgroupsPath without colons accepted"
else
  err=$(inside cat /tmp/bad.err)
  case $err in *slice:prefix:name*) ok "bad cgroupsPath refused: $err" ;; *) bad "bad cgroupsPath: [$err]" ;; esac
fi
# --- 4. a limit of a controller systemd does not enable for the unit ----------------------
# The host's state that broke these tests: hugetlb enabled at its cgroup2 root (any runtime that
# applied a hugetlb limit leaves it so), so systemd's root here offers it. ocirun writes no
# cgroup.subtree_control above the unit's own cgroup (systemd owns those; ocirun once tried and
# got EBUSY): the limit is refused by name, and nothing is left.
if have hugetlb; then
  make_config "system.slice:ocirun:huge" |
    jq '.linux.resources.hugepageLimits = [{"pageSize": "2MB", "limit": 4194304}]' >"$work/config5.json"
  inside sh -c "cp -a /tmp/b1 /tmp/b5 && cp '$work/config5.json' /tmp/b5/config.json"
  if inside sh -c "'$runtime' --root /run/ocirun --systemd-cgroup run -d --bundle /tmp/b5 huge </dev/null >/dev/null 2>/tmp/huge.err"; then
    bad "a hugetlb limit under --systemd-cgroup was accepted"
    rt delete -f huge
  else
    err=$(inside cat /tmp/huge.err)
    case $err in *"hugetlb controller is not enabled in /sys/fs/cgroup"*"systemd owns that cgroup"*)
      ok "hugetlb limit refused by name: $err" ;; *) bad "hugetlb limit: unexpected error [$err]" ;; esac
  fi
  check "hugetlb limit: unit gone" inactive "$(unit_prop ocirun-huge.scope ActiveState)"
else
  log "SKIP hugetlb limit: the host's cgroup2 root has no hugetlb enabled, so systemd's root offers none"
fi
# Whatever the host's state: no slice systemd made has a controller ocirun would have enabled.
written=$(find "$nsroot" -mindepth 2 -name cgroup.subtree_control -exec grep -l hugetlb {} + 2>/dev/null)
check "no subtree_control below the namespace root names hugetlb" "" "$written"

check "nothing left in /run/ocirun" "" "$(inside ls /run/ocirun)"
check "no scopes left" "" "$(inside systemctl list-units --type=scope --no-legend --plain | grep -v init.scope)"

log "systemd cgroup driver: $pass passed, $failed failed"
[ "$failed" = 0 ]
