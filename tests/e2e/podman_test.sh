#!/bin/bash
# End-to-end test: podman 4 (Debian's package, with conmon) driving an OCI runtime.
#
#   tests/e2e/podman_test.sh [--runtime BIN] [--only REGEX] [--verbose] [--keep]
#
# BIN defaults to the built ocirun (<repo>/build/ocirun); pass --runtime "$(command -v runc)" or
# "$(command -v crun)" to check the tests themselves. Needs root. Installs podman (and
# busybox-static) with apt-get when missing. Runs in a private mount namespace with podman's
# storage (vfs), run root, tmp dir, events log and containers.conf all under a temp dir
# (--root, --runroot (<= 50 chars), --tmpdir, CONTAINERS_CONF), containers under their own cgroup
# parent and without network (--network none: nothing is added to the host's network setup).
# For crun on a hybrid cgroup host the namespace also hides /sys/fs/cgroup/unified under a tmpfs (crun
# refuses hybrid hosts whose v2 mount has controllers); the host is not changed.
#
# containers.conf lists the runtime's name in runtime_supports_json: conmon passes
# `--log-format json --log FILE` only to runtimes podman knows (see tests/e2e/README.md).
#
# Output: one PASS/FAIL/SKIP line per case, then "podman e2e (...): N passed, M failed, K
# skipped"; the exit status is non-zero when a case failed.
set -u

E2E_NAME=podman_test
E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
. "$E2E_REPO/tests/e2e/lib.sh"
e2e_parse_args "$@"
e2e_resolve_runtime
rt_name=$(basename "$runtime")

if [ -z "${E2E_PODMAN_NS:-}" ]; then
  # Before the private mount namespace, so that the packages' scripts see the host as it is.
  e2e_need_packages podman conmon busybox-static util-linux bsdutils
  # The whole run gets a deadline (E2E_TIMEOUT seconds, default 600) and a TERM, so that its
  # cleanup runs before an outer timeout (ctest's is 900 s) would kill it outright.
  e2e_forward_args
  E2E_PODMAN_NS=1 exec timeout --kill-after=60 "${E2E_TIMEOUT:-600}" \
    unshare --mount --propagation private -- "$0" "${E2E_ARGS[@]}"
fi
# podman, conmon and the runtime (whose default --root podman uses: /run/<runtime>) write below
# /run: give them a private one.
mount -t tmpfs -o mode=755 e2e-podman-run /run || e2e_die "cannot mount a tmpfs on /run"
if [ "$rt_name" = crun ] && [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  # A private tmpfs in its place, as crun writes below it when it is not a cgroup2 mount.
  umount /sys/fs/cgroup/unified && mount -t tmpfs -o mode=755 e2e-no-unified /sys/fs/cgroup/unified &&
    e2e_log "crun: replaced /sys/fs/cgroup/unified by a tmpfs in this private mount namespace"
fi

E2E_TMP=$(readlink -f "$(mktemp -d /tmp/ocirun-e2e-pm.XXXXXX)")
chmod 711 "$E2E_TMP"
E2E_RTLOG=$E2E_TMP/runtime-calls.log
: >"$E2E_RTLOG"
cd "$E2E_TMP" || e2e_die "cannot cd to $E2E_TMP"   # conmon writes an "oom" file into its cwd
runroot=$E2E_TMP/run          # podman refuses a --runroot longer than 50 characters
[ ${#runroot} -le 50 ] || e2e_die "run root $runroot is longer than 50 characters"
cgparent="ocirun-e2e-pm-$$"   # the containers' (and conmon's) cgroup parent
podman_ready=

P() {
  timeout 120 podman --runtime "$wrapper" --root "$E2E_TMP/storage" --runroot "$runroot" \
    --storage-driver vfs --tmpdir "$E2E_TMP/libpod" --cgroup-manager cgroupfs --events-backend file "$@"
}

cleanup() {
  set +e
  if [ -n "$podman_ready" ]; then
    P rm -a -f -t 0 >/dev/null 2>&1
    P rmi -a -f >/dev/null 2>&1
  fi
  e2e_remove_leftovers "$cgparent"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bundle=$(e2e_make_rootfs "$E2E_TMP/bundle" "$runtime")
rootfs=$bundle/rootfs
wrapper=$(e2e_wrap_runtime "$runtime" "$E2E_TMP/bin")

# podman's default ulimits (nofile and nproc 1048576) need CAP_SYS_RESOURCE when they exceed the
# hard limits (and conmon's RLIMIT_NPROC is capped below the shell's), so hosts whose bounding set
# lacks it get small limits, which a container may always lower itself to.
ulimits=
capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
if [ $(((16#$capbnd >> 24) & 1)) = 0 ]; then
  ulimits='default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]'
fi
cat >"$E2E_TMP/containers.conf" <<EOF
[containers]
netns = "none"
$ulimits

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$E2E_TMP/events.log"
# conmon passes --log-format json --log FILE only to runtimes listed here.
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "ocirun"]
tmp_dir = "$E2E_TMP/libpod"
volume_path = "$E2E_TMP/volumes"

[network]
network_config_dir = "$E2E_TMP/net"
EOF
cat >"$E2E_TMP/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$runroot"
graphroot = "$E2E_TMP/storage"
EOF
export CONTAINERS_CONF=$E2E_TMP/containers.conf
export CONTAINERS_STORAGE_CONF=$E2E_TMP/storage.conf
podman_ready=1

e2e_log "podman $(podman --version | awk '{print $3}'), conmon $(conmon --version | awk 'NR==1 {print $3}'), runtime $runtime ($("$runtime" --version 2>&1 | head -n1)), cgroup $(e2e_cgroup_mode)"
e2e_log "temp dir $E2E_TMP"

RUN=(run --cgroup-parent "/$cgparent")
ROOTFS=(--rootfs "$rootfs")

# ---- Helpers --------------------------------------------------------------------------------

status_of() { P inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }
pid_of() { P inspect -f '{{.State.Pid}}' "$1"; }

# start_detached NAME [RUN-OPTIONS...] -- CMD [ARGS...]
start_detached() {
  local name=$1 opts=(); shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  P "${RUN[@]}" -d --name "$name" "${opts[@]}" "${ROOTFS[@]}" "$@" >/dev/null || { echo "podman run -d $name failed"; return 1; }
  wait_for 10 status_is "$name" running || { echo "$name is not running: $(status_of "$name")"; return 1; }
}
remove() { P rm -f -t 0 "$@" >/dev/null 2>&1; return 0; }

pty() {
  local cmd; cmd=$(printf '%q ' "$@")
  timeout 60 script -qefc "$cmd" /dev/null </dev/null | tr -d '\r'
  return "${PIPESTATUS[0]}"
}
Pcmd() { # the podman command line, for pty
  echo podman --runtime "$wrapper" --root "$E2E_TMP/storage" --runroot "$runroot" \
    --storage-driver vfs --tmpdir "$E2E_TMP/libpod" --cgroup-manager cgroupfs --events-backend file
}

# ---- Cases ----------------------------------------------------------------------------------

t_info() {
  local out
  out=$(P info --format '{{.Host.OCIRuntime.Path}}|{{.Host.OCIRuntime.Version}}' 2>&1) || { echo "podman info failed: $out"; return 1; }
  expect_eq "${out%%|*}" "$wrapper" "runtime path in podman info" || return 1
  expect_eq "${out#*|}" "$("$runtime" --version 2>&1)" "runtime version in podman info (from --version)"
}

t_run_echo() {
  local out rc
  out=$(P "${RUN[@]}" --rm "${ROOTFS[@]}" sh -c 'echo hi' 2>&1); rc=$?
  expect_eq "$out" hi "output" || return 1
  expect_eq "$rc" 0 "exit status"
}

t_run_exit_code() {
  local out rc
  out=$(P "${RUN[@]}" --rm "${ROOTFS[@]}" sh -c 'echo out; echo err >&2; exit 7' 2>"$E2E_TMP/err"); rc=$?
  expect_eq "$rc" 7 "exit status" || return 1
  expect_eq "$out" out "stdout" || return 1
  expect_eq "$(cat "$E2E_TMP/err")" err "stderr"
}

t_run_env_workdir_user() {
  local out
  out=$(P "${RUN[@]}" --rm -e FOO=bar -e "SPACED=a b" -w /tmp -u 1000:1000 "${ROOTFS[@]}" \
    sh -c 'echo "$FOO|$SPACED|$(pwd)|$(id -u):$(id -g)"' 2>&1) || { echo "podman run failed: $out"; return 1; }
  expect_eq "$out" "bar|a b|/tmp|1000:1000" "env, workdir and user"
}

t_run_stdin() {
  local out
  out=$(printf 'a\nb\nc\n' | P "${RUN[@]}" --rm -i "${ROOTFS[@]}" wc -l 2>&1) || { echo "podman run -i failed: $out"; return 1; }
  expect_eq "$(echo $out)" 3 "lines counted from stdin (EOF must reach the container)"
}

t_run_tty() {
  local out rc
  out=$(pty $(Pcmd) "${RUN[@]}" --rm -t "${ROOTFS[@]}" sh -c 'test -t 0 && test -t 1 && echo "is-a-tty $(tty)"; exit 3'); rc=$?
  expect_match "$out" 'is-a-tty /dev/' "terminal in the container" || return 1
  expect_eq "$rc" 3 "exit status"
}

t_run_missing_binary() {
  local out rc
  out=$(P "${RUN[@]}" --rm "${ROOTFS[@]}" /no/such/binary 2>&1); rc=$?
  expect_eq "$rc" 127 "exit status for a missing binary (podman maps 'no such file' to 127)" || { echo "output: $out"; return 1; }
  expect_match "$out" '/no/such/binary' "podman's error names the binary" || return 1
  # The error must come from the runtime's JSON log, not be a generic one.
  expect_match "$out" '[Nn]o such file or directory|not found' "error text" || return 1
  expect_eq "$(P ps -a -q)" "" "containers after the failed run"
}

t_run_defaults() {
  local out
  out=$(P "${RUN[@]}" --rm "${ROOTFS[@]}" sh -c '
    grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t " " "
    echo "net $(ls /sys/class/net | tr "\n" " ")"
    echo "hostname $(hostname)"
    echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo "proc-sys writable" || echo "proc-sys read-only"
    for f in /etc/hosts /etc/hostname /dev/shm /run/.containerenv; do [ -e $f ] || echo "missing $f"; done
  ' 2>/dev/null) || { echo "podman run failed: $out"; return 1; }
  local bad=0
  line() { grep -E "^$1" <<<"$out"; }
  # podman 4.3's default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP
  # SETGID SETPCAP SETUID SYS_CHROOT MKNOD NET_RAW AUDIT_WRITE.
  expect_eq "$(line CapEff)" "CapEff: 00000000a80425fb" "capabilities" || bad=1
  expect_eq "$(line Seccomp)" "Seccomp: 2" "seccomp filter" || bad=1
  expect_eq "$(line net)" "net lo " "network (--network none)" || bad=1
  expect_match "$(line hostname)" '^hostname [0-9a-f]{12}$' "hostname" || bad=1
  expect_eq "$(line proc-sys)" "proc-sys read-only" "/proc/sys" || bad=1
  expect_eq "$(line missing)" "" "files podman mounts" || bad=1
  [ $bad = 0 ] || echo "output: $out"
  return $bad
}

t_run_resources() {
  start_detached res1 --memory 64m --pids-limit 50 --cpus 0.5 -- sleep 1000 || return 1
  local pid dir bad=0; pid=$(pid_of res1)
  if [ "$(e2e_cgroup_mode)" = v1 ]; then
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid" memory)/memory.limit_in_bytes")" 67108864 "memory.limit_in_bytes" || bad=1
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid" pids)/pids.max")" 50 "pids.max" || bad=1
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid" cpu)/cpu.cfs_quota_us")" 50000 "cpu.cfs_quota_us" || bad=1
  else
    dir=$(e2e_cgroup_dir "$pid")
    expect_eq "$(cat "$dir/memory.max")" 67108864 "memory.max" || bad=1
    expect_eq "$(cat "$dir/pids.max")" 50 "pids.max" || bad=1
    expect_eq "$(cat "$dir/cpu.max")" "50000 100000" "cpu.max" || bad=1
  fi
  expect_match "$(e2e_cgroup_dir "$pid" memory)" "/$cgparent/" "cgroup under --cgroup-parent" || bad=1
  return $bad
}

t_update() {
  local out; out=$(P update --memory 128m --cpus 0.25 res1 2>&1) || { echo "podman update failed: $out"; return 1; }
  local pid bad=0; pid=$(pid_of res1)
  if [ "$(e2e_cgroup_mode)" = v1 ]; then
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid" memory)/memory.limit_in_bytes")" 134217728 "memory.limit_in_bytes after update" || bad=1
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid" cpu)/cpu.cfs_quota_us")" 25000 "cpu.cfs_quota_us after update" || bad=1
  else
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid")/memory.max")" 134217728 "memory.max after update" || bad=1
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid")/cpu.max")" "25000 100000" "cpu.max after update" || bad=1
  fi
  remove res1
  return $bad
}

t_detached_ps_logs() {
  start_detached d1 -- sh -c 'echo started; echo ready > /run/marker; trap "exit 42" TERM; sleep 1000 & wait' || return 1
  P ps --format '{{.Names}} {{.Status}}' | grep -qE '^d1 Up' || { echo "d1 not Up in podman ps: $(P ps)"; return 1; }
  local out; out=$(P logs d1 2>&1)
  expect_eq "$out" started "podman logs"
}

t_exec() {
  local out rc
  out=$(P exec d1 sh -c 'cat /run/marker; tr "\0" " " < /proc/1/cmdline; echo; exit 5' 2>&1); rc=$?
  expect_eq "$rc" 5 "exit status of podman exec" || { echo "output: $out"; return 1; }
  expect_match "$out" '^ready' "file written by the init (same mount ns)" || return 1
  expect_match "$out" 'sh -c echo started' "pid 1 seen by exec (same pid ns)"
}

t_exec_env_workdir_user() {
  local out
  out=$(P exec -e X=y -w /tmp -u 1000:1000 d1 sh -c 'echo "$X|$(pwd)|$(id -u):$(id -g)"' 2>&1) || { echo "podman exec failed: $out"; return 1; }
  expect_eq "$out" "y|/tmp|1000:1000" "env, workdir, user of the exec'd process"
}

t_exec_stdin() {
  local out
  out=$(printf '1\n2\n' | P exec -i d1 wc -l 2>&1) || { echo "podman exec -i failed: $out"; return 1; }
  expect_eq "$(echo $out)" 2 "lines read by the exec'd process"
}

t_exec_tty() {
  local out rc
  out=$(pty $(Pcmd) exec -t d1 sh -c 'test -t 0 && test -t 1 && echo "exec-tty $(tty)"; exit 6'); rc=$?
  expect_match "$out" 'exec-tty /dev/' "terminal in the exec'd process" || return 1
  expect_eq "$rc" 6 "exit status"
}

t_exec_detached() {
  P exec -d d1 sleep 999 >/dev/null || { echo "podman exec -d failed"; return 1; }
  local out; out=$(P top d1 args 2>&1)
  expect_match "$out" 'sleep 999' "the detached exec'd process in podman top" || return 1
}

t_exec_missing() {
  local out rc
  out=$(P exec d1 /no/such/binary 2>&1); rc=$?
  expect_eq "$rc" 127 "exit status of exec of a missing binary" || { echo "output: $out"; return 1; }
  expect_eq "$(status_of d1)" running "d1 after the failed exec"
}

t_pause_unpause() {
  P pause d1 >/dev/null || { echo "podman pause failed"; return 1; }
  expect_eq "$(status_of d1)" paused "status after pause" || return 1
  local pid; pid=$(pid_of d1)
  if [ "$(e2e_cgroup_mode)" = v1 ]; then
    expect_eq "$(cat "$(e2e_cgroup_dir "$pid" freezer)/freezer.state")" FROZEN "freezer.state" || return 1
  fi
  P unpause d1 >/dev/null || { echo "podman unpause failed"; return 1; }
  expect_eq "$(status_of d1)" running "status after unpause"
}

t_stop() {
  P stop -t 5 d1 >/dev/null || { echo "podman stop failed"; return 1; }
  expect_eq "$(P inspect -f '{{.State.ExitCode}}' d1)" 42 "exit code after the TERM trap" || return 1
  expect_eq "$(status_of d1)" exited "status after stop"
}

t_restart() {
  local old; old=$(P inspect -f '{{.State.Pid}}' d1)
  P start d1 >/dev/null || { echo "podman start of an exited container failed"; return 1; }
  wait_for 10 status_is d1 running || { echo "d1 not running after start"; return 1; }
  P restart -t 5 d1 >/dev/null || { echo "podman restart failed"; return 1; }
  wait_for 10 status_is d1 running || { echo "d1 not running after restart"; return 1; }
  local out; out=$(P exec d1 cat /run/marker 2>&1)
  expect_eq "$out" ready "exec after restart"
}

t_rm_running() {
  P rm -f -t 0 d1 >/dev/null || { echo "podman rm -f failed"; return 1; }
  expect_eq "$(P ps -a -q)" "" "containers after rm -f"
}

t_stop_timeout_kill() {
  # A pid 1 without a TERM handler ignores TERM: podman must fall back to KILL.
  start_detached st2 -- sleep 1000 || return 1
  P stop -t 1 st2 >/dev/null 2>&1 || { echo "podman stop failed"; return 1; }
  expect_eq "$(P inspect -f '{{.State.ExitCode}}' st2)" 137 "exit code after the KILL" || return 1
  remove st2
}

t_kill_signal() {
  start_detached k1 -- sh -c 'trap "exit 10" USR1; sleep 1000 & wait' || return 1
  P kill -s USR1 k1 >/dev/null || { echo "podman kill -s USR1 failed"; return 1; }
  local rc; rc=$(P wait k1)
  expect_eq "$rc" 10 "exit code after USR1" || return 1
  remove k1
}

t_create_start_attach() {
  P create --cgroup-parent "/$cgparent" --name c1 "${ROOTFS[@]}" sh -c 'echo from-c1; exit 4' >/dev/null || { echo "podman create failed"; return 1; }
  expect_eq "$(status_of c1)" created "status after create" || return 1
  local out rc
  out=$(P start -a c1 2>&1); rc=$?
  expect_eq "$out" from-c1 "output of start -a" || return 1
  expect_eq "$rc" 4 "exit status of start -a" || return 1
  remove c1
}

oom_kills() { # CGROUP-DIR: the kernel's count of OOM kills in it
  if [ -f "$1/memory.oom_control" ]; then awk '$1 == "oom_kill" {print $2}' "$1/memory.oom_control"
  else awk '$1 == "oom_kill" {print $2}' "$1/memory.events"; fi
}
oom_seen() { [ "$(oom_kills "$1")" -ge 1 ] 2>/dev/null; }
t_oom() {
  # A child is OOM-killed (the kernel counts it in the container's cgroup) and its 137 becomes the
  # container's exit code.
  start_detached oom1 --memory 32m --memory-swap 32m -- \
    sh -c 'trap "exit \$rc" TERM; dd if=/dev/zero of=/dev/null bs=64M count=1; rc=$?; sleep 1000 & wait' || return 1
  local dir; dir=$(e2e_cgroup_dir "$(pid_of oom1)" memory)
  wait_for 10 oom_seen "$dir" ||
    { echo "no OOM kill counted in $dir: $(oom_kills "$dir")"; remove oom1; return 1; }
  P stop -t 5 oom1 >/dev/null || { echo "podman stop failed"; remove oom1; return 1; }
  expect_eq "$(P inspect -f '{{.State.ExitCode}}' oom1)" 137 "exit code (the OOM-killed child's status)" || { remove oom1; return 1; }
  remove oom1
  # Foreground, the init itself OOM-killed: podman run exits 137. (State.OOMKilled is not checked:
  # conmon 2.1.6 as podman 4.3.1 starts it writes its "oom" marker into its cwd, where podman does
  # not look, whatever the runtime.)
  local out rc
  out=$(P "${RUN[@]}" --rm --memory 32m --memory-swap 32m "${ROOTFS[@]}" dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1); rc=$?
  expect_eq "$rc" 137 "exit status of podman run whose init is OOM-killed" || { echo "output: $out"; return 1; }
}

t_image() {
  e2e_make_image_archive "$E2E_TMP/busybox-oci.tar" "$rootfs" \
    '{"org.opencontainers.image.ref.name":"localhost/ocirun-e2e-busybox:latest"}' ||
    { echo "could not build the archive"; return 1; }
  local out rc
  out=$(P load -q -i "$E2E_TMP/busybox-oci.tar" 2>&1) || { echo "podman load failed: $out"; return 1; }
  local img; img=$(P images --format '{{.Repository}}:{{.Tag}}' | head -n1)
  [ -n "$img" ] || { echo "no image after load: $out"; return 1; }
  out=$(P "${RUN[@]}" --rm "$img" 2>&1); rc=$?
  expect_eq "$out" "image-default-cmd yes /home/user" "the image's Cmd, Env and WorkingDir" || return 1
  expect_eq "$rc" 0 "exit status" || return 1
  P rmi -f "$img" >/dev/null || { echo "podman rmi failed"; return 1; }
}

t_nothing_left() {
  local bad=0 out
  out=$(P ps -a -q 2>&1) || { echo "podman ps failed: $out"; return 1; }
  [ -z "$out" ] || { echo "containers left: $out"; bad=1; }
  # podman calls the runtime without --root: its state is in its default root, /run/<name>.
  # ~cache: compiled seccomp filters, kept on purpose (not a container's state).
  out=$(ls -A "/run/$rt_name" 2>/dev/null | grep -vx '~cache'); [ -z "$out" ] || { echo "runtime state left in /run/$rt_name: $out"; bad=1; }
  # podman keeps conmon's cgroup (<parent>/conmon) for the next container: not ours to judge.
  out=$(e2e_cgroups_below "$cgparent" | grep -v "/$cgparent/conmon\$"); [ -z "$out" ] || { echo "cgroups left: $out"; bad=1; }
  out=$(e2e_pids_in_cgroup "$cgparent"); [ -z "$out" ] || { echo "processes left in the cgroups: $out"; bad=1; }
  out=$(e2e_mounts_below "$E2E_TMP"); [ -z "$out" ] || { echo "mounts left: $out"; bad=1; }
  out=$(e2e_pids_with_arg "$E2E_TMP/" | while read -r p; do [ "$p" = $$ ] || { tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline"; echo; }; done | grep -E 'conmon|/bin/')
  [ -z "$out" ] || { echo "processes left: $out"; bad=1; }
  return $bad
}

e2e_case "podman info names the runtime" t_info
e2e_case "run --rm --rootfs: echo hi" t_run_echo
e2e_case "run: exit code, stdout, stderr" t_run_exit_code
e2e_case "run -e -w -u" t_run_env_workdir_user
e2e_case "run -i: stdin to EOF" t_run_stdin
e2e_case "run -t (terminal)" t_run_tty
e2e_case "run: missing binary -> 127 with the runtime's error" t_run_missing_binary
e2e_case "run: podman's default spec (caps, seccomp, netns, hostname, /proc/sys)" t_run_defaults
e2e_case "run --memory --pids-limit --cpus: cgroup values" t_run_resources
e2e_case "update --memory --cpus" t_update
e2e_case "run -d, ps, logs" t_detached_ps_logs
e2e_case "exec [exec]" t_exec
e2e_case "exec -e -w -u [exec]" t_exec_env_workdir_user
e2e_case "exec -i [exec]" t_exec_stdin
e2e_case "exec -t [exec]" t_exec_tty
e2e_case "exec -d, top [exec]" t_exec_detached
e2e_case "exec: missing binary -> 127 [exec]" t_exec_missing
e2e_case "pause / unpause" t_pause_unpause
e2e_case "stop (TERM trap, exit code)" t_stop
e2e_case "start again, restart [exec]" t_restart
e2e_case "rm -f of a running container" t_rm_running
e2e_case "stop -t 1 falls back to KILL" t_stop_timeout_kill
e2e_case "kill -s USR1, wait" t_kill_signal
e2e_case "create, start -a" t_create_start_attach
e2e_case "OOM kill: counted in the cgroup, exit code 137" t_oom
e2e_case "image: load an OCI archive built here, run it" t_image
e2e_case "nothing left behind" t_nothing_left

e2e_summary "podman e2e ($rt_name)"
