#!/bin/bash
# End-to-end test: Docker 20.10 (Debian's docker.io: dockerd -> its containerd -> the runc v2
# shim) driving an OCI runtime, with the commands Docker users type every day.
#
#   tests/e2e/docker_test.sh [--runtime BIN] [--only REGEX] [--verbose] [--keep]
#
# BIN defaults to the built ocirun (<repo>/build/ocirun); pass --runtime "$(command -v runc)" to
# check the tests themselves. Needs root. Runs scripts/install-deps.sh when docker.io is missing
# (it installs the package without starting or enabling the host's dockerd).
#
# A private dockerd, in private mount and network namespaces: its own daemon.json (the runtime
# registered as "ocirun-e2e" and made the default), data root, exec root, pid file and socket
# under a temp dir, a tmpfs on /run (dockerd's containerd and the shims write there whatever
# their config says), no iptables rules, no IP forwarding or masquerading, its own bridge
# (ocirun-dk0, 10.213.77.0/24) and a user-defined network (ocirun-dk1, 10.213.78.0/24) that
# exist only in that network namespace, published ports through docker-proxy on its 127.0.0.1,
# containers under their own cgroup parent. The image is a busybox rootfs brought in with
# `docker import`: nothing is pulled. On exit (a trap: also after a failure) containers,
# volumes, networks and images are removed, dockerd and its containerd stopped, leftover
# processes killed by pid, mounts under the temp dir unmounted, the cgroups removed, the temp
# dir deleted; the namespaces (and so the bridges) go with their last process.
#
# Output: one PASS/FAIL/SKIP line per case, then "docker e2e (...): N passed, M failed, K
# skipped"; the exit status is non-zero when a case failed.
set -u

E2E_NAME=docker_test
E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
. "$E2E_REPO/tests/e2e/lib.sh"
e2e_parse_args "$@"
e2e_resolve_runtime
rt_name=$(basename "$runtime")
# Debian's client and daemon by path: another `docker` earlier in PATH must not answer.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
DOCKER=/usr/bin/docker

if [ -z "${E2E_DOCKER_NS:-}" ]; then
  # Before the private namespaces, so that the packages' scripts see the host as it is.
  if [ ! -x /usr/sbin/dockerd ] || [ ! -x "$DOCKER" ]; then
    "$E2E_REPO/scripts/install-deps.sh" || e2e_die "could not install docker.io (scripts/install-deps.sh)"
  fi
  e2e_need_packages busybox-static util-linux iproute2
  # The whole run gets a deadline (E2E_TIMEOUT seconds, default 600) and a TERM, so that its
  # cleanup runs before an outer timeout (ctest's is 900 s) would kill it outright.
  e2e_forward_args
  E2E_DOCKER_NS=1 exec timeout --kill-after=60 "${E2E_TIMEOUT:-600}" \
    unshare --mount --net --propagation private -- "$0" "${E2E_ARGS[@]}"
fi

# dockerd's containerd puts the shims' sockets in /run/containerd/s and dockerd keeps some of
# its own state below /run whatever --exec-root says: give them a private /run.
mount -t tmpfs -o mode=755 e2e-docker-run /run || e2e_die "cannot mount a tmpfs on /run"
ip link set lo up || e2e_die "cannot bring up lo in the private network namespace"
# dockerd runs with ip-forward off (it would set the sysctl itself), and then `docker run` warns
# "IPv4 forwarding is disabled" on stderr: this network namespace's own setting, so turn it on.
echo 1 >/proc/sys/net/ipv4/ip_forward

E2E_TMP=$(readlink -f "$(mktemp -d /tmp/ocirun-e2e-dk.XXXXXX)")
chmod 711 "$E2E_TMP"
E2E_RTLOG=$E2E_TMP/runtime-calls.log
: >"$E2E_RTLOG"
sock=$E2E_TMP/docker.sock
cgparent="ocirun-e2e-dk-$$"   # the containers' cgroup parent
bridge=ocirun-dk0 bridge_cidr=10.213.77.1/24
usernet=ocirun-e2e-net usernet_bridge=ocirun-dk1 usernet_subnet=10.213.78.0/24
img=ocirun-e2e/busybox:latest
export DOCKER_CONFIG=$E2E_TMP/client   # the CLI's config.json: not the caller's ~/.docker
dockerd_pid=

D() { timeout 60 "$DOCKER" -H "unix://$sock" "$@"; }

cleanup() {
  set +e
  # The live-restore case starts a new dockerd: its pid file names the one running now.
  [ -s "$E2E_TMP/dockerd.pid" ] && dockerd_pid=$(cat "$E2E_TMP/dockerd.pid")
  if [ -n "$dockerd_pid" ] && [ -d "/proc/$dockerd_pid" ]; then
    local ids
    ids=$(D ps -a -q 2>/dev/null); [ -z "$ids" ] || D rm -f $ids >/dev/null 2>&1
    D volume prune -f >/dev/null 2>&1
    D network rm "$usernet" >/dev/null 2>&1
    ids=$(D images -q 2>/dev/null | sort -u); [ -z "$ids" ] || D rmi -f $ids >/dev/null 2>&1
    stop_dockerd   # it stops its containerd on the way out
  fi
  e2e_remove_leftovers "$cgparent"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Setup: rootfs, wrapper, bridge, dockerd, image -----------------------------------------
bundle=$(e2e_make_rootfs "$E2E_TMP/bundle" "$runtime")
rootfs=$bundle/rootfs
wrapper=$(e2e_wrap_runtime "$runtime" "$E2E_TMP/bin")

ip link add "$bridge" type bridge && ip addr add "$bridge_cidr" dev "$bridge" && ip link set "$bridge" up ||
  e2e_die "cannot make the bridge $bridge"

storage=vfs
if grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null; then storage=overlay2; fi
mkdir -p "$E2E_TMP/exec" "$E2E_TMP/data" "$DOCKER_CONFIG"
cat >"$E2E_TMP/daemon.json" <<EOF
{
  "data-root": "$E2E_TMP/data",
  "exec-root": "$E2E_TMP/exec",
  "pidfile": "$E2E_TMP/dockerd.pid",
  "deprecated-key-path": "$E2E_TMP/key.json",
  "hosts": ["unix://$sock"],
  "storage-driver": "$storage",
  "runtimes": {"ocirun-e2e": {"path": "$wrapper"}},
  "default-runtime": "ocirun-e2e",
  "cgroup-parent": "/$cgparent",
  "bridge": "$bridge",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "default-address-pools": [{"base": "10.213.80.0/20", "size": 24}],
  "log-driver": "json-file",
  "features": {"buildkit": false},
  "live-restore": true
}
EOF
# Starts dockerd and waits until it answers (or has died); sets dockerd_pid.
start_dockerd() {
  dockerd --config-file "$E2E_TMP/daemon.json" >>"$E2E_TMP/dockerd.log" 2>&1 &
  dockerd_pid=$!
  dockerd_up() { [ -d "/proc/$dockerd_pid" ] || return 0; D version; }
  wait_for 60 dockerd_up && [ -d "/proc/$dockerd_pid" ]
}
# Stops it (TERM; with live-restore its containers keep running).
stop_dockerd() {
  kill "$dockerd_pid" 2>/dev/null
  wait_for 20 test ! -d "/proc/$dockerd_pid" || kill -9 "$dockerd_pid" 2>/dev/null
  wait "$dockerd_pid" 2>/dev/null
  return 0
}
start_dockerd || { tail -n 30 "$E2E_TMP/dockerd.log" >&2; e2e_die "dockerd did not start"; }

tar --numeric-owner -C "$rootfs" -cf - . |
  D import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]' - "$img" >/dev/null ||
  e2e_die "docker import of the busybox rootfs failed"

e2e_log "docker $(D version -f '{{.Server.Version}}'), runtime $runtime ($("$runtime" --version 2>&1 | head -n1)), cgroup $(e2e_cgroup_mode), storage $storage"
e2e_log "temp dir $E2E_TMP"

# ---- Helpers --------------------------------------------------------------------------------

RUN=(run --rm)
status_of() { D inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }
pid_of() { D inspect -f '{{.State.Pid}}' "$1"; }
exit_code_of() { D inspect -f '{{.State.ExitCode}}' "$1"; }
ip_of() { D inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
# blockdev_of PATH: "/dev/NAME MAJOR:MINOR" of the whole disk under PATH (--device-read-bps).
blockdev_of() {
  local dev sys
  dev=$(awk -v m="$1" '$5 == m {print $3}' /proc/self/mountinfo | tail -n1)
  sys=$(readlink -f "/sys/dev/block/$dev")
  [ -f "$sys/partition" ] && sys=$(dirname "$sys")
  echo "/dev/$(sed -n 's/^DEVNAME=//p' "$sys/uevent") $(cat "$sys/dev")"
}
# The runtime's --root as the shim passes it (dockerd 20.10 makes it <exec-root>/runtime-runc/moby
# whatever the runtime's name), and the containers it still has state for there (~cache is
# ocirun's store of compiled seccomp filters, not a container).
runtime_root() { grep -o -m1 -- '--root [^ ]*' "$E2E_RTLOG" | cut -d' ' -f2; }
runtime_states() {
  local root; root=$(runtime_root)
  [ -n "$root" ] && [ -d "$root" ] || { echo "no runtime root seen (\"$root\")"; return; }
  ls -A "$root" | grep -vx '~cache'
}
# rlimit_of PID NAME: "SOFT HARD" of the limit "Max NAME" in /proc/PID/limits.
rlimit_of() { awk -v n="Max $2" 'index($0, n " ") == 1 {print $(NF-2), $(NF-1)}' "/proc/$1/limits"; }
# cg NAME CONTROLLER FILE: a cgroup file of container NAME's init, read on the host.
cg() { cat "$(e2e_cgroup_dir "$(pid_of "$1")" "$2")/$3"; }

# expect_memory_limit NAME BYTES [SUFFIX], expect_cpu_max NAME "QUOTA PERIOD" [SUFFIX]: container
# NAME's memory limit and CPU bandwidth in its cgroup files (v1 or v2); SUFFIX ends the message.
expect_memory_limit() {
  local f=memory.limit_in_bytes; [ "$(e2e_cgroup_mode)" = v2 ] && f=memory.max
  expect_eq "$(cg "$1" memory $f)" "$2" "$f${3:-}"
}
expect_cpu_max() {
  if [ "$(e2e_cgroup_mode)" = v2 ]; then expect_eq "$(cg "$1" cpu cpu.max)" "$2" "cpu.max${3:-}"; return; fi
  expect_eq "$(cg "$1" cpu cpu.cfs_quota_us) $(cg "$1" cpu cpu.cfs_period_us)" "$2" "cpu.cfs_quota_us, cpu.cfs_period_us${3:-}"
}

# start_detached NAME [RUN-OPTIONS...] -- CMD [ARGS...]: runs until it is "running".
start_detached() {
  local name=$1 opts=(); shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  D run -d --name "$name" "${opts[@]}" "$img" "$@" >/dev/null || { echo "docker run -d $name failed"; return 1; }
  wait_for 10 status_is "$name" running || { echo "$name is not running: $(status_of "$name")"; return 1; }
}
remove() { D rm -f "$@" >/dev/null 2>&1; return 0; }
# pty CMD...: runs CMD with a terminal on its stdio (docker -t wants one); CR stripped from output.
pty() {
  local cmd; cmd=$(printf '%q ' "$@")
  timeout 60 script -qefc "$cmd" /dev/null </dev/null | tr -d '\r'
  return "${PIPESTATUS[0]}"
}
# A container's process that waits for TERM (exit 42) or USR1 (exit 10); "started" in its log.
WAITER=(sh -c 'echo started; trap "exit 42" TERM; trap "exit 10" USR1; sleep 1000 & wait')

# ---- Cases: run -----------------------------------------------------------------------------

t_info() {
  expect_eq "$(D info -f '{{.DefaultRuntime}}')" ocirun-e2e "default runtime" || return 1
  expect_eq "$(D info -f '{{(index .Runtimes "ocirun-e2e").Path}}')" "$wrapper" "runtime path"
}

t_run_output_exit() {
  local out rc
  out=$(D "${RUN[@]}" "$img" sh -c 'echo out; echo err >&2; exit 3' 2>"$E2E_TMP/err"); rc=$?
  expect_eq "$rc" 3 "exit status" || return 1
  expect_eq "$out" out "stdout" || return 1
  expect_eq "$(cat "$E2E_TMP/err")" err "stderr"
}

t_home() {
  local bad=0
  expect_eq "$(D "${RUN[@]}" "$img" sh -c 'echo $HOME')" /root "HOME of root" || bad=1
  expect_eq "$(D "${RUN[@]}" -u nobody "$img" sh -c 'echo $HOME')" /nonexistent "HOME of -u nobody" || bad=1
  expect_eq "$(D "${RUN[@]}" -u 1000 "$img" sh -c 'echo $HOME')" /home/user "HOME of -u 1000" || bad=1
  expect_eq "$(D "${RUN[@]}" -e HOME=/given "$img" sh -c 'echo $HOME')" /given "HOME from -e" || bad=1
  return $bad
}

t_exit_126_127() {
  local out rc bad=0
  out=$(D "${RUN[@]}" "$img" /etc 2>&1); rc=$?
  expect_eq "$rc" 126 "exit status of a directory as the program" || { echo "  $out"; bad=1; }
  out=$(D "${RUN[@]}" "$img" /etc/passwd 2>&1); rc=$?
  expect_eq "$rc" 126 "exit status of a file without x" || { echo "  $out"; bad=1; }
  out=$(D "${RUN[@]}" "$img" /nonexistent 2>&1); rc=$?
  expect_eq "$rc" 127 "exit status of a missing path" || { echo "  $out"; bad=1; }
  out=$(D "${RUN[@]}" "$img" no-such-command 2>&1); rc=$?
  expect_eq "$rc" 127 "exit status of a command not in PATH" || { echo "  $out"; bad=1; }
  expect_eq "$(D ps -a -q)" "" "containers left by the failed runs" || bad=1
  return $bad
}

t_user() {
  local bad=0
  expect_eq "$(D "${RUN[@]}" --user 1000:1000 --group-add 5 "$img" id)" \
    "uid=1000(user) gid=1000(user) groups=5(tty),1000(user)" "id with --user 1000:1000 --group-add 5" || bad=1
  expect_eq "$(D "${RUN[@]}" --user nobody "$img" id)" \
    "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)" "id with --user nobody" || bad=1
  return $bad
}

t_tty() {
  local out rc
  out=$(pty "$DOCKER" -H "unix://$sock" run --rm -t "$img" sh -c 'test -t 0 && test -t 1 && echo "tty $(tty)"; exit 4'); rc=$?
  expect_match "$out" '^tty /dev/pts/0' "terminal of run -t" || return 1
  expect_eq "$rc" 4 "exit status of run -t"
}

# ---- Cases: a detached container's life -----------------------------------------------------

t_detached_logs() {
  start_detached life -- "${WAITER[@]}" || return 1
  D ps --format '{{.Names}} {{.Status}}' | grep -qE '^life Up' || { echo "life not Up in docker ps: $(D ps)"; return 1; }
  expect_eq "$(D logs life 2>&1)" started "docker logs" || return 1
  expect_match "$(e2e_cgroup_dir "$(pid_of life)" memory)" "/$cgparent/$(D inspect -f '{{.Id}}' life)\$" "cgroup under the daemon's cgroup-parent"
}

t_exec() {
  local out rc bad=0
  out=$(D exec life sh -c 'echo "$HOME $(id -u)"; tr "\0" " " </proc/1/cmdline; echo; exit 5' 2>&1); rc=$?
  expect_eq "$rc" 5 "exit status of docker exec" || bad=1
  expect_match "$out" '^/root 0' "HOME and uid of exec" || bad=1
  expect_match "$out" 'sh -c echo started' "pid 1 seen by exec (same pid namespace)" || bad=1
  expect_eq "$(D exec -u nobody life sh -c 'echo "$HOME $(id -u)"')" "/nonexistent 65534" "HOME and uid of exec -u nobody" || bad=1
  expect_eq "$(D exec -w /tmp -e X=y life sh -c 'echo "$(pwd) $X"')" "/tmp y" "exec -w -e" || bad=1
  expect_eq "$(printf 'a\nb\n' | D exec -i life wc -l | tr -d ' ')" 2 "exec -i: stdin to EOF" || bad=1
  out=$(D exec life /no/such/binary 2>&1); rc=$?
  expect_eq "$rc" 126 "exit status of exec of a missing binary (docker 20.10: 126)" || { echo "  $out"; bad=1; }
  expect_eq "$(status_of life)" running "life after the failed exec" || bad=1
  return $bad
}

t_exec_tty_top() {
  local out rc
  out=$(pty "$DOCKER" -H "unix://$sock" exec -t life sh -c 'test -t 0 && echo "exec-tty $(tty)"; exit 6'); rc=$?
  expect_match "$out" '^exec-tty /dev/pts/' "terminal of exec -t" || return 1
  expect_eq "$rc" 6 "exit status of exec -t" || return 1
  D exec -d life sleep 999 || { echo "docker exec -d failed"; return 1; }
  # docker top asks the runtime for the container's pids (ps --format json).
  out=$(D top life -o pid,args 2>&1)
  expect_match "$out" 'sleep 1000' "the init's child in docker top" || return 1
  expect_match "$out" 'sleep 999' "the detached exec in docker top"
}

t_exec_parallel() {
  local i pids=() bad=0
  for i in $(seq 1 12); do
    D exec life sh -c "echo exec$i; exit $i" >"$E2E_TMP/exec$i" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 12); do
    wait "${pids[$((i - 1))]}"; expect_eq "$?" "$i" "exit status of the parallel exec $i" || bad=1
    expect_eq "$(cat "$E2E_TMP/exec$i")" "exec$i" "output of the parallel exec $i" || bad=1
  done
  return $bad
}

t_pause() {
  D pause life >/dev/null || { echo "docker pause failed"; return 1; }
  expect_eq "$(status_of life)" paused "status after pause" || return 1
  if [ "$(e2e_cgroup_mode)" = v1 ]; then
    expect_eq "$(cg life freezer freezer.state)" FROZEN "freezer.state" || return 1
  else
    expect_eq "$(cat "$(e2e_cgroup_dir "$(pid_of life)")/cgroup.freeze")" 1 "cgroup.freeze" || return 1
  fi
  D unpause life >/dev/null || { echo "docker unpause failed"; return 1; }
  expect_eq "$(status_of life)" running "status after unpause" || return 1
  expect_eq "$(D exec life echo alive)" alive "exec after unpause"
}

t_stop() {
  D stop -t 10 life >/dev/null || { echo "docker stop failed"; return 1; }
  expect_eq "$(exit_code_of life)" 42 "exit code after the TERM trap" || return 1
  expect_eq "$(status_of life)" exited "status after stop"
}

t_start_restart() {
  D start life >/dev/null || { echo "docker start of an exited container failed"; return 1; }
  wait_for 10 status_is life running || { echo "life not running after start"; return 1; }
  local old; old=$(pid_of life)
  D restart -t 10 life >/dev/null || { echo "docker restart failed"; return 1; }
  wait_for 10 status_is life running || { echo "life not running after restart"; return 1; }
  local new; new=$(pid_of life)
  [ "$new" != "$old" ] || { echo "same init pid $new after restart"; return 1; }
  expect_eq "$(D logs life 2>&1 | tr '\n' ' ')" "started started started " "log of three starts"
}

t_kill_wait() {
  D kill -s USR1 life >/dev/null || { echo "docker kill -s USR1 failed"; return 1; }
  expect_eq "$(D wait life)" 10 "docker wait after USR1" || return 1
  D start life >/dev/null && wait_for 10 status_is life running || { echo "life not running after start"; return 1; }
  D kill life >/dev/null || { echo "docker kill failed"; return 1; }
  expect_eq "$(D wait life)" 137 "docker wait after kill (SIGKILL)"
}

t_rm_f() {
  D start life >/dev/null && wait_for 10 status_is life running || { echo "life not running after start"; return 1; }
  local id dir; id=$(D inspect -f '{{.Id}}' life); dir=$(e2e_cgroup_dir "$(pid_of life)" pids)
  D rm -f life >/dev/null || { echo "docker rm -f failed"; return 1; }
  expect_eq "$(D ps -a -q)" "" "containers after rm -f" || return 1
  [ ! -d "$dir" ] || { echo "cgroup $dir still there after rm -f"; return 1; }
  expect_no_match "$(runtime_states)" "$id" "the runtime's state after rm -f"
}

t_paused_kill_rm() {
  start_detached pk -- "${WAITER[@]}" || return 1
  D pause pk >/dev/null || { echo "docker pause failed"; return 1; }
  D kill pk >/dev/null || { echo "docker kill of a paused container failed"; return 1; }
  expect_eq "$(D wait pk)" 137 "docker wait after kill of a paused container" || return 1
  D start pk >/dev/null && wait_for 10 status_is pk running || { echo "pk not running after start"; return 1; }
  D pause pk >/dev/null || { echo "docker pause failed"; return 1; }
  local dir; dir=$(e2e_cgroup_dir "$(pid_of pk)" freezer)
  D rm -f pk >/dev/null || { echo "docker rm -f of a paused container failed"; return 1; }
  expect_eq "$(D ps -a -q)" "" "containers after rm -f of a paused container" || return 1
  [ ! -d "$dir" ] || { echo "cgroup $dir still there after rm -f"; return 1; }
}

t_stop_signal_restart_policy() {
  start_detached ss --stop-signal USR1 -- "${WAITER[@]}" || return 1
  D stop -t 10 ss >/dev/null || { echo "docker stop failed"; return 1; }
  expect_eq "$(exit_code_of ss)" 10 "exit code after --stop-signal USR1" || return 1
  remove ss
  D run -d --name rp --restart on-failure:2 "$img" sh -c 'echo run; exit 3' >/dev/null || { echo "docker run --restart failed"; return 1; }
  wait_for 30 status_is rp exited && [ "$(D inspect -f '{{.RestartCount}}' rp)" = 2 ] ||
    { echo "restart count $(D inspect -f '{{.RestartCount}} {{.State.Status}}' rp), expected 2 and exited"; return 1; }
  expect_eq "$(D logs rp 2>&1 | tr '\n' ' ')" "run run run " "three runs in the log" || return 1
  expect_eq "$(exit_code_of rp)" 3 "exit code" || return 1
  remove rp
}

t_health() {
  start_detached hc --health-cmd 'test -e /tmp/ok' --health-interval 1s --health-retries 1 -- sleep 1000 || return 1
  health() { D inspect -f '{{.State.Health.Status}}' hc; }
  health_is() { [ "$(health)" = "$1" ]; }
  wait_for 20 health_is unhealthy || { echo "health $(health), expected unhealthy"; return 1; }
  D exec hc touch /tmp/ok || return 1
  wait_for 20 health_is healthy || { echo "health $(health), expected healthy"; return 1; }
  remove hc
}

t_paused_update_restart() {
  start_detached pu --pids-limit 40 -- sleep 1000 || return 1
  D pause pu >/dev/null || { echo "docker pause failed"; return 1; }
  D update --pids-limit -1 pu >/dev/null || { echo "docker update of a paused container failed"; return 1; }
  expect_eq "$(cg pu pids pids.max)" max "pids.max after update --pids-limit -1 of a paused container" || return 1
  local old; old=$(pid_of pu)
  D restart -t 1 pu >/dev/null || { echo "docker restart of a paused container failed"; return 1; }
  wait_for 10 status_is pu running || { echo "pu not running after restart: $(status_of pu)"; return 1; }
  [ "$(pid_of pu)" != "$old" ] || { echo "same init pid after restart"; return 1; }
  remove pu
}

t_parallel() {
  local i out bad=0
  for i in 1 2 3 4 5 6; do
    D run --rm --name "par$i" "$img" sh -c "echo par$i; exit $i" >"$E2E_TMP/par$i" 2>&1 &
  done
  wait
  for i in 1 2 3 4 5 6; do
    expect_eq "$(cat "$E2E_TMP/par$i")" "par$i" "output of the parallel run $i" || bad=1
  done
  [ $bad = 0 ] || return 1
  # Exit codes: each run again, in parallel, its status collected by pid.
  local pids=()
  for i in 1 2 3 4 5 6; do D run --rm "$img" sh -c "exit $i" >/dev/null 2>&1 & pids+=($!); done
  for i in 1 2 3 4 5 6; do
    wait "${pids[$((i - 1))]}"; expect_eq "$?" "$i" "exit status of the parallel run $i" || bad=1
  done
  return $bad
}

t_live_restore() {
  start_detached lr -- "${WAITER[@]}" || return 1
  local pid; pid=$(pid_of lr)
  stop_dockerd
  [ -d "/proc/$pid" ] || { echo "the container's init died with dockerd (live-restore)"; return 1; }
  start_dockerd || { echo "dockerd did not start again"; tail -n 20 "$E2E_TMP/dockerd.log"; return 1; }
  expect_eq "$(status_of lr) $(pid_of lr)" "running $pid" "the container after dockerd restarted" || return 1
  expect_eq "$(D exec lr echo exec-after-restore)" exec-after-restore "exec after dockerd restarted" || return 1
  D stop -t 10 lr >/dev/null || { echo "docker stop after the restart failed"; return 1; }
  expect_eq "$(exit_code_of lr)" 42 "exit code after the TERM trap" || return 1
  remove lr
}

t_stop_falls_back_to_kill() {
  # sleep as pid 1 has no TERM handler, so TERM does nothing: docker must send KILL.
  start_detached st2 -- sleep 1000 || return 1
  D stop -t 1 st2 >/dev/null || { echo "docker stop failed"; return 1; }
  expect_eq "$(exit_code_of st2)" 137 "exit code after the KILL" || return 1
  remove st2
}

# ---- Cases: resources -----------------------------------------------------------------------

t_resources() {
  start_detached res --memory 64m --cpus 0.5 --cpuset-cpus 0 --cpu-shares 512 --pids-limit 50 \
    --shm-size 16m --ulimit nofile=512:1024 -- sleep 1000 || return 1
  local bad=0
  expect_memory_limit res 67108864 || bad=1
  expect_cpu_max res "50000 100000" || bad=1
  [ "$(e2e_cgroup_mode)" = v2 ] || expect_eq "$(cg res cpu cpu.shares)" 512 "cpu.shares" || bad=1
  expect_eq "$(cg res cpuset cpuset.cpus)" 0 "cpuset.cpus" || bad=1
  expect_eq "$(cg res pids pids.max)" 50 "pids.max" || bad=1
  expect_eq "$(D exec res sh -c 'df -k /dev/shm | awk "NR==2 {print \$2}"')" 16384 "size of /dev/shm (KiB)" || bad=1
  expect_eq "$(rlimit_of "$(pid_of res)" 'open files')" "512 1024" "RLIMIT_NOFILE of the init" || bad=1
  expect_eq "$(D exec res sh -c 'echo $(ulimit -n) $(ulimit -Hn)')" "512 1024" "RLIMIT_NOFILE of an exec'd process" || bad=1
  expect_eq "$(grep -E '^Cpus_allowed_list' "/proc/$(pid_of res)/status" | awk '{print $2}')" 0 "the init's allowed CPUs" || bad=1
  return $bad
}

t_update() {
  local cpus=0; [ "$(nproc)" -gt 1 ] && cpus=1
  local out; out=$(D update --memory 96m --cpus 0.25 --cpu-shares 256 --pids-limit 30 --cpuset-cpus "$cpus" res 2>&1) ||
    { echo "docker update failed: $out"; return 1; }
  local bad=0
  expect_memory_limit res 100663296 " after update" || bad=1
  expect_cpu_max res "25000 100000" " after update" || bad=1
  [ "$(e2e_cgroup_mode)" = v2 ] || expect_eq "$(cg res cpu cpu.shares)" 256 "cpu.shares after update" || bad=1
  expect_eq "$(cg res cpuset cpuset.cpus)" "$cpus" "cpuset.cpus after update" || bad=1
  expect_eq "$(cg res pids pids.max)" 30 "pids.max after update" || bad=1
  expect_eq "$(D inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' res)" "100663296 30" "docker's record of the update" || bad=1
  remove res
  return $bad
}

t_more_resources() {
  local disk; disk=$(blockdev_of /)
  [ -b "${disk% *}" ] || { echo "no block device node for / ($disk)"; return 1; }
  start_detached res2 --memory 64m --memory-swap 96m --memory-reservation 32m --memory-swappiness 10 \
    --cpu-period 50000 --cpu-quota 10000 --oom-score-adj 300 --ulimit nproc=200:300 --ulimit core=0:0 \
    --device-read-bps "${disk% *}:1mb" --kernel-memory 64m -- sleep 1000 || return 1
  local bad=0 pid; pid=$(pid_of res2)
  expect_cpu_max res2 "10000 50000" || bad=1
  # dockerd passes the kernel memory limit on; the runtime's warning about it belongs in its
  # log, not in the container's stderr (docker logs).
  expect_eq "$(D logs res2 2>&1)" "" "the container's log" || bad=1
  if [ "$(e2e_cgroup_mode)" = v1 ]; then
    expect_eq "$(cg res2 memory memory.memsw.limit_in_bytes)" 100663296 "memory.memsw.limit_in_bytes" || bad=1
    expect_eq "$(cg res2 memory memory.soft_limit_in_bytes)" 33554432 "memory.soft_limit_in_bytes" || bad=1
    expect_eq "$(cg res2 memory memory.swappiness)" 10 "memory.swappiness" || bad=1
    expect_eq "$(cg res2 blkio blkio.throttle.read_bps_device)" "${disk#* } 1048576" "blkio.throttle.read_bps_device" || bad=1
  fi
  expect_eq "$(cat "/proc/$pid/oom_score_adj")" 300 "oom_score_adj of the init" || bad=1
  expect_eq "$(rlimit_of "$pid" processes) $(rlimit_of "$pid" 'core file size')" "200 300 0 0" \
    "RLIMIT_NPROC and RLIMIT_CORE of the init" || bad=1
  remove res2
  return $bad
}

t_oom() {
  local out rc
  if [ "$(e2e_cgroup_mode)" = v1 ]; then
    out=$(D "${RUN[@]}" --oom-kill-disable -m 64m --memory-swap -1 "$img" \
      sh -c 'grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control; cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes' 2>&1)
    expect_eq "$out" "oom_kill_disable 1
9223372036854771712" "--oom-kill-disable, --memory-swap -1 (the container's own memory cgroup)" || return 1
  fi
  # The shim watches for OOM events only once start has returned: an init killed within its first
  # milliseconds can beat it (with any runtime), so the init waits a moment before it allocates.
  out=$(D run --name oom1 --memory 32m --memory-swap 32m "$img" sh -c 'sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=1' 2>&1); rc=$?
  expect_eq "$rc" 137 "exit status of a run whose init is OOM-killed" || { echo "  $out"; remove oom1; return 1; }
  expect_eq "$(D inspect -f '{{.State.OOMKilled}}' oom1)" true "State.OOMKilled" || { remove oom1; return 1; }
  remove oom1
}

# ---- Cases: storage -------------------------------------------------------------------------

t_bind_mounts() {
  local dir=$E2E_TMP/vol bad=0 out
  mkdir -p "$dir" && echo from-host >"$dir/in"
  out=$(D "${RUN[@]}" -v "$dir:/m" "$img" sh -c 'cat /m/in; echo from-container > /m/out' 2>&1)
  expect_eq "$out" from-host "host file read in the container" || bad=1
  expect_eq "$(cat "$dir/out" 2>&1)" from-container "container's file on the host" || bad=1
  out=$(D "${RUN[@]}" -v "$dir:/m:ro" "$img" sh -c 'cat /m/in; touch /m/new' 2>&1)
  expect_match "$out" 'Read-only file system' "write to a :ro volume" || bad=1
  [ ! -e "$dir/new" ] || { echo "a file was made through the :ro volume"; bad=1; }
  return $bad
}

t_named_volume() {
  D volume create e2evol >/dev/null || { echo "docker volume create failed"; return 1; }
  D "${RUN[@]}" -v e2evol:/data "$img" sh -c 'echo in-volume > /data/f' || { echo "write to the volume failed"; return 1; }
  local mp; mp=$(D volume inspect -f '{{.Mountpoint}}' e2evol)
  expect_eq "$(cat "$mp/f" 2>&1)" in-volume "the file in the volume's directory on the host" || return 1
  expect_eq "$(D "${RUN[@]}" -v e2evol:/data "$img" cat /data/f 2>&1)" in-volume "the file seen by a second container"
}

t_volumes_from() {
  start_detached vsrc -v e2evol:/data -- sleep 1000 || return 1
  expect_eq "$(D "${RUN[@]}" --volumes-from vsrc "$img" cat /data/f 2>&1)" in-volume "the volume through --volumes-from" || return 1
  remove vsrc
  D volume rm e2evol >/dev/null || { echo "docker volume rm failed"; return 1; }
}

t_tmpfs() {
  local out
  out=$(D "${RUN[@]}" --tmpfs /t:size=1m,mode=1770 "$img" sh -c 'grep " /t " /proc/mounts; stat -c %a /t' 2>&1)
  expect_match "$out" '^tmpfs /t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770' "the tmpfs in /proc/mounts" || return 1
  expect_match "$out" $'\n1770$' "mode of /t"
}

t_read_only() {
  local out
  out=$(D "${RUN[@]}" --read-only --tmpfs /tmp "$img" sh -c 'touch /x 2>&1; touch /tmp/x && echo tmp-ok; grep " / " /proc/mounts' 2>&1)
  expect_match "$out" 'Read-only file system' "write to the read-only root" || return 1
  expect_match "$out" 'tmp-ok' "write to the --tmpfs /tmp" || return 1
  expect_match "$out" ' / [a-z0-9]+ ro[,]' "root mounted ro"
}

t_cp_commit() {
  start_detached cpc -- sleep 1000 || return 1
  echo copied-in >"$E2E_TMP/cpin"
  D cp "$E2E_TMP/cpin" cpc:/tmp/cpin || { echo "docker cp into the container failed"; return 1; }
  expect_eq "$(D exec cpc cat /tmp/cpin)" copied-in "file copied in" || return 1
  D exec cpc sh -c 'echo made-inside > /marker' || return 1
  D cp cpc:/marker "$E2E_TMP/cpout" || { echo "docker cp out of the container failed"; return 1; }
  expect_eq "$(cat "$E2E_TMP/cpout")" made-inside "file copied out" || return 1
  D commit cpc ocirun-e2e/committed:1 >/dev/null || { echo "docker commit failed"; return 1; }
  remove cpc
  expect_eq "$(D "${RUN[@]}" ocirun-e2e/committed:1 cat /marker /tmp/cpin 2>&1 | tr '\n' ' ')" "made-inside copied-in " "files in the committed image" || return 1
  D rmi ocirun-e2e/committed:1 >/dev/null || { echo "docker rmi failed"; return 1; }
}

# ---- Cases: networks ------------------------------------------------------------------------

t_net_none() {
  expect_eq "$(D "${RUN[@]}" --network none "$img" ls /sys/class/net | tr '\n' ' ')" "lo " "interfaces with --network none"
}

# /etc/hosts and /etc/resolv.conf are files dockerd writes and the runtime bind-mounts.
t_hosts_dns() {
  local out
  out=$(D "${RUN[@]}" --add-host db.example:10.1.2.3 --dns 10.9.9.9 --dns-search example.org "$img" \
    sh -c 'grep db.example /etc/hosts; grep -v "^#" /etc/resolv.conf' 2>&1)
  expect_eq "$out" "10.1.2.3	db.example
search example.org
nameserver 10.9.9.9" "--add-host, --dns, --dns-search"
}

t_net_host() {
  local out
  out=$(D "${RUN[@]}" --network host "$img" sh -c 'ls /sys/class/net | tr "\n" " "; echo; hostname' 2>&1)
  expect_match "$out" "(^| )$bridge " "dockerd's network namespace (its bridge) with --network host" || return 1
  expect_match "$out" $'\n'"$(hostname)\$" "hostname with --network host"
}

t_net_bridge() {
  start_detached web -p 127.0.0.1:18080:80 -- \
    sh -c 'mkdir -p /www && echo served-by-container > /www/index.html && exec httpd -f -p 80 -h /www' || return 1
  local ip; ip=$(ip_of web)
  expect_match "$ip" '^10\.213\.77\.[0-9]+$' "address on the private bridge" || return 1
  expect_match "$(D exec web ip -4 addr show eth0)" "inet $ip/24" "eth0 in the container" || return 1
  expect_eq "$(timeout 5 busybox wget -qO- "http://$ip/" 2>&1)" served-by-container "HTTP to the container's address" || return 1
  # -p goes through docker-proxy (no iptables here) on 127.0.0.1 of dockerd's network namespace.
  expect_eq "$(timeout 5 busybox wget -qO- http://127.0.0.1:18080/ 2>&1)" served-by-container "HTTP through -p 127.0.0.1:18080:80"
}

t_net_container() {
  local out
  out=$(D "${RUN[@]}" --network container:web "$img" timeout 5 wget -qO- http://127.0.0.1/ 2>&1)
  expect_eq "$out" served-by-container "HTTP to 127.0.0.1 in the joined network namespace" || return 1
  expect_match "$(D "${RUN[@]}" --network container:web "$img" ip -4 addr show eth0)" "inet $(ip_of web)/24" "eth0 of --network container:web"
}

t_net_user_dns() {
  D network create --subnet "$usernet_subnet" -o "com.docker.network.bridge.name=$usernet_bridge" "$usernet" >/dev/null ||
    { echo "docker network create failed"; return 1; }
  start_detached peer --network "$usernet" --network-alias peer-alias -- sleep 1000 || return 1
  local ip out; ip=$(ip_of peer)
  expect_match "$ip" '^10\.213\.78\.[0-9]+$' "address on the user-defined network" || return 1
  out=$(D "${RUN[@]}" --network "$usernet" "$img" sh -c 'cat /etc/resolv.conf; nslookup peer; nslookup peer-alias' 2>&1)
  expect_match "$out" 'nameserver 127\.0\.0\.11' "Docker's embedded DNS in resolv.conf" || return 1
  expect_eq "$(grep -cE "^Address: $ip\$|^Address 1: $ip\$" <<<"$out")" 2 "peer and peer-alias resolved to $ip" || { echo "$out"; return 1; }
  expect_eq "$(D "${RUN[@]}" --network "$usernet" "$img" ping -c1 -W2 peer >/dev/null 2>&1; echo $?)" 0 "ping peer by name"
  remove peer web
}

t_namespaces() {
  start_detached nsa --ipc shareable -- sh -c 'echo shared > /dev/shm/f; sleep 1000' || return 1
  local bad=0 out ns_of_nsa
  ns_of_nsa() { readlink "/proc/$(pid_of nsa)/ns/$1"; }
  out=$(D "${RUN[@]}" --pid container:nsa --ipc container:nsa "$img" sh -c 'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; cat /dev/shm/f; ps -o args | grep -c "^sleep 1000"')
  expect_eq "$out" "$(ns_of_nsa pid)
$(ns_of_nsa ipc)
shared
1" "--pid container: --ipc container:: namespaces, /dev/shm, the other's processes" || bad=1
  out=$(D "${RUN[@]}" --pid host --uts host "$img" sh -c 'readlink /proc/self/ns/pid; readlink /proc/self/ns/uts; hostname')
  expect_eq "$out" "$(readlink /proc/self/ns/pid /proc/self/ns/uts)
$(hostname)" "--pid host --uts host" || bad=1
  out=$(D "${RUN[@]}" --hostname box1 --domainname example.org "$img" sh -c 'hostname; cat /proc/sys/kernel/domainname')
  expect_eq "$out" "box1
example.org" "--hostname --domainname" || bad=1
  out=$(D "${RUN[@]}" --cgroupns private "$img" sh -c 'readlink /proc/self/ns/cgroup; grep -E "^[0-9]+:memory:" /proc/self/cgroup')
  expect_match "$out" $'\n''[0-9]+:memory:/$' "--cgroupns private: the container's cgroup is its root" || bad=1
  [ "${out%%$'\n'*}" != "$(readlink /proc/self/ns/cgroup)" ] || { echo "--cgroupns private: the host's cgroup namespace"; bad=1; }
  out=$(D "${RUN[@]}" --cgroupns host "$img" readlink /proc/self/ns/cgroup)
  expect_eq "$out" "$(readlink /proc/self/ns/cgroup)" "--cgroupns host" || bad=1
  out=$(D "${RUN[@]}" --ipc none "$img" sh -c 'grep -c " /dev/shm " /proc/mounts; readlink /proc/self/ns/ipc')
  expect_match "$out" '^0'$'\n''ipc:' "--ipc none: no /dev/shm" || bad=1
  [ "${out#*$'\n'}" != "$(ns_of_nsa ipc)" ] && [ "${out#*$'\n'}" != "$(readlink /proc/self/ns/ipc)" ] ||
    { echo "--ipc none: not a new ipc namespace"; bad=1; }
  out=$(D "${RUN[@]}" --sysctl net.core.somaxconn=1234 --sysctl kernel.msgmax=12345 "$img" cat /proc/sys/net/core/somaxconn /proc/sys/kernel/msgmax)
  expect_eq "$out" "1234
12345" "--sysctl (net and ipc)" || bad=1
  remove nsa
  return $bad
}

# ---- Cases: users, capabilities, devices, security options, init ----------------------------

capeff() { D "${RUN[@]}" "$@" "$img" awk '/^CapEff/ {print $2}' /proc/self/status; }
t_caps() {
  local bad=0
  # Docker 20.10's defaults: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP
  # SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
  expect_eq "$(capeff)" 00000000a80425fb "default capabilities" || bad=1
  expect_eq "$(capeff --cap-add NET_ADMIN)" 00000000a80435fb "--cap-add NET_ADMIN" || bad=1
  expect_eq "$(capeff --cap-drop CHOWN)" 00000000a80425fa "--cap-drop CHOWN" || bad=1
  expect_match "$(D "${RUN[@]}" --cap-drop CHOWN "$img" chown 1000 /tmp 2>&1)" 'Operation not permitted' "chown without CAP_CHOWN" || bad=1
  expect_eq "$(D "${RUN[@]}" --cap-add NET_ADMIN "$img" sh -c 'ip addr add 10.9.9.9/32 dev lo && ip -4 addr show lo | grep -c 10.9.9.9' 2>&1)" 1 "an address added with NET_ADMIN" || bad=1
  expect_match "$(D "${RUN[@]}" "$img" ip addr add 10.9.9.9/32 dev lo 2>&1)" 'Operation not permitted' "the same without NET_ADMIN" || bad=1
  return $bad
}

# /dev/loop-control (c 10:237) is outside Docker's default device rules; opening it needs no
# capability, so the device cgroup alone decides.
t_device() {
  local out bad=0
  out=$(D "${RUN[@]}" --device /dev/loop-control:/dev/lc "$img" sh -c 'stat -c "%t:%T %F" /dev/lc; true </dev/lc && true >/dev/lc && echo opened-rw' 2>&1)
  expect_eq "$out" "a:ed character special file
opened-rw" "the node made by --device, opened for reading and writing" || bad=1
  out=$(D "${RUN[@]}" --device /dev/loop-control:/dev/lc:r "$img" sh -c 'true </dev/lc && echo opened-r; true 2>/dev/null >/dev/lc || echo write-refused' 2>&1)
  expect_eq "$out" "opened-r
write-refused" "--device ...:r: read allowed, write refused" || bad=1
  out=$(D "${RUN[@]}" "$img" sh -c 'mknod /dev/lc c 10 237 && true </dev/lc' 2>&1)
  expect_match "$out" 'Operation not permitted' "the same device made with mknod, not given with --device" || bad=1
  out=$(D "${RUN[@]}" --device-cgroup-rule 'c 10:237 rw' "$img" sh -c 'mknod /dev/lc c 10 237 && true </dev/lc && echo rule-ok' 2>&1)
  expect_eq "$out" rule-ok "the same with --device-cgroup-rule" || bad=1
  return $bad
}

status_field() { D "${RUN[@]}" "$@" "$img" awk -v f="$1" '$1 == f ":" {print $2}' /proc/self/status; }
t_security_opt() {
  local bad=0 line
  line=$(D "${RUN[@]}" "$img" grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t\n' '  ')
  expect_eq "$line" "NoNewPrivs: 0 Seccomp: 2 " "defaults" || bad=1
  line=$(D "${RUN[@]}" --security-opt no-new-privileges "$img" grep '^NoNewPrivs:' /proc/self/status | tr -s '\t' ' ')
  expect_eq "$line" "NoNewPrivs: 1" "--security-opt no-new-privileges" || bad=1
  line=$(D "${RUN[@]}" --security-opt seccomp=unconfined "$img" grep '^Seccomp:' /proc/self/status | tr -s '\t' ' ')
  expect_eq "$line" "Seccomp: 0" "--security-opt seccomp=unconfined" || bad=1
  # Docker's default profile refuses unshare(CLONE_NEWUSER) etc. without CAP_SYS_ADMIN.
  expect_match "$(D "${RUN[@]}" "$img" unshare -U true 2>&1)" 'Operation not permitted' "unshare -U under the default seccomp profile" || bad=1
  return $bad
}

t_seccomp_profile() {
  # Docker's JSON profile format: allow everything but mkdir and mkdirat (EPERM).
  cat >"$E2E_TMP/seccomp.json" <<'EOP'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
EOP
  local out
  # mkdir's message on the same stream as "touched": Docker may deliver stdout and stderr out of order.
  out=$(D "${RUN[@]}" --security-opt "seccomp=$E2E_TMP/seccomp.json" "$img" sh -c 'touch /tmp/f && echo touched; mkdir /tmp/d 2>&1' 2>&1)
  expect_match "$out" '^touched' "a syscall the profile allows" || return 1
  expect_match "$out" "can't create directory '/tmp/d': Operation not permitted" "mkdir refused by the profile"
}

# Docker's masked paths (a file covered by /dev/null, a directory by an empty read-only tmpfs)
# and read-only paths; systempaths=unconfined lifts both.
t_systempaths() {
  local out
  out=$(D "${RUN[@]}" "$img" sh -c 'stat -c %F /proc/timer_list; ls /sys/firmware | wc -l; grep " /proc/sys " /proc/mounts | cut -d" " -f4 | cut -d, -f1')
  expect_eq "$out" "character special file
0
ro" "masked /proc/timer_list and /sys/firmware, read-only /proc/sys by default" || return 1
  out=$(D "${RUN[@]}" --security-opt systempaths=unconfined "$img" sh -c 'stat -c %F /proc/timer_list; ls /sys/firmware | wc -l; grep -c " /proc/sys " /proc/mounts')
  expect_match "$out" "^regular (empty )?file
$(ls /sys/firmware | wc -l)
0" "--security-opt systempaths=unconfined"
}

t_init() {
  local out rc
  out=$(D "${RUN[@]}" --init "$img" sh -c 'tr "\0" " " </proc/1/cmdline; echo; echo "sh is pid $$"; exit 9' 2>&1); rc=$?
  expect_match "$out" '^/sbin/docker-init -- sh -c' "pid 1 with --init" || return 1
  expect_no_match "$out" 'sh is pid 1$' "the command is not pid 1" || return 1
  expect_eq "$rc" 9 "exit status through docker-init"
}

t_nothing_left() {
  local bad=0 out
  out=$(D ps -a -q 2>&1) || { echo "docker ps failed: $out"; return 1; }
  [ -z "$out" ] || { echo "containers left: $out"; bad=1; }
  out=$(runtime_states); [ -z "$out" ] || { echo "runtime state left: $out"; bad=1; }
  out=$(e2e_cgroups_below "$cgparent"); [ -z "$out" ] || { echo "cgroups left: $out"; bad=1; }
  out=$(e2e_pids_in_cgroup "$cgparent"); [ -z "$out" ] || { echo "processes left in the cgroups: $out"; bad=1; }
  out=$(awk '$5 ~ "/containers/[0-9a-f]{64}/mounts/shm$" || $5 ~ "/overlay2/[0-9a-f]{64}/merged$" {print $5}' /proc/self/mountinfo)
  [ -z "$out" ] || { echo "container mounts left: $out"; bad=1; }
  return $bad
}

e2e_case "docker info: the runtime registered and the default" t_info
e2e_case "run: stdout, stderr, exit code" t_run_output_exit
e2e_case "run: HOME (root, -u nobody, -u 1000, -e HOME)" t_home
e2e_case "run: exit codes 126 and 127" t_exit_126_127
e2e_case "run --user, --group-add: id" t_user
e2e_case "run -t (terminal)" t_tty
e2e_case "run -d, ps, logs, cgroup parent" t_detached_logs
e2e_case "exec: exit code, HOME, -u, -w, -e, -i, missing binary" t_exec
e2e_case "exec -t, exec -d, top" t_exec_tty_top
e2e_case "twelve execs in parallel: output, exit codes" t_exec_parallel
e2e_case "pause / unpause: the freezer" t_pause
e2e_case "stop: TERM, exit code" t_stop
e2e_case "start again, restart: a new init" t_start_restart
e2e_case "kill -s USR1, kill, wait" t_kill_wait
e2e_case "rm -f of a running container: cgroup and state gone" t_rm_f
e2e_case "stop -t 1 falls back to KILL" t_stop_falls_back_to_kill
e2e_case "kill, rm -f of a paused container" t_paused_kill_rm
e2e_case "update and restart of a paused container" t_paused_update_restart
e2e_case "--stop-signal, --restart on-failure:2" t_stop_signal_restart_policy
e2e_case "--health-cmd: unhealthy, then healthy" t_health
e2e_case "-m --cpus --cpuset-cpus --cpu-shares --pids-limit --shm-size --ulimit" t_resources
e2e_case "update -m --cpus --cpu-shares --pids-limit --cpuset-cpus" t_update
e2e_case "--memory-swap --memory-reservation --memory-swappiness --cpu-period/quota --oom-score-adj --ulimit --device-read-bps --kernel-memory" t_more_resources
e2e_case "OOM kill: exit 137, State.OOMKilled; --oom-kill-disable" t_oom
e2e_case "-v bind, -v :ro" t_bind_mounts
e2e_case "named volume" t_named_volume
e2e_case "--volumes-from" t_volumes_from
e2e_case "--tmpfs with size and mode" t_tmpfs
e2e_case "--read-only" t_read_only
e2e_case "cp in and out, commit" t_cp_commit
e2e_case "--network none" t_net_none
e2e_case "--add-host, --dns" t_hosts_dns
e2e_case "--network host" t_net_host
e2e_case "bridge network, -p through docker-proxy" t_net_bridge
e2e_case "--network container:" t_net_container
e2e_case "user-defined network: embedded DNS, alias, ping" t_net_user_dns
e2e_case "--pid/--ipc container:, --pid/--uts host, --hostname, --cgroupns, --sysctl" t_namespaces
e2e_case "--cap-add, --cap-drop" t_caps
e2e_case "--device, --device-cgroup-rule" t_device
e2e_case "--security-opt no-new-privileges, seccomp" t_security_opt
e2e_case "--security-opt seccomp=PROFILE" t_seccomp_profile
e2e_case "masked and read-only paths, systempaths=unconfined" t_systempaths
e2e_case "--init" t_init
e2e_case "six runs in parallel: output, exit codes" t_parallel
e2e_case "live-restore: dockerd restarted under a running container" t_live_restore
e2e_case "nothing left behind" t_nothing_left

e2e_summary "docker e2e ($rt_name)"
