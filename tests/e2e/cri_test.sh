#!/bin/bash
# End-to-end test: Kubernetes' CRI, as containerd 1.6's CRI plugin serves it (Debian's package),
# driving an OCI runtime through the runc v2 shim.
#
#   tests/e2e/cri_test.sh [--runtime BIN] [--only REGEX] [--verbose] [--keep]
#
# The CRI client is tests/e2e/cri_cases.py (python3-grpcio, and python3-websocket for streams;
# the CRI messages are read from the containerd binary, see there). Needs root. Installs what is
# missing with apt-get, then re-runs itself in a private mount and network namespace (a lab: /
# made rshared there, as on a Kubernetes node, for mount propagation; loopback, the CNI bridge
# and the pods' addresses exist only in it) and starts its own containerd there: own config,
# socket, root and state under a temp dir; the CRI plugin with the runc v2 shim and BinaryName =
# the runtime (behind a logging wrapper); restrict_oom_score_adj (this host lacks
# CAP_SYS_RESOURCE); Debian's CNI plugins. Images are built here (busybox-static) and imported:
# nothing is pulled.
#
# With CRITEST=/path/to/critest (cri-tools v1.26, built elsewhere) it also runs critest in the
# same lab, on the images critest_images.sh builds from Debian packages (or the OCI archives in
# E2E_CRITEST_IMAGES=DIR), with CRITEST_ARGS added to its argv; its result is printed but does
# not change the exit status.
#
# Output: one "ok"/"FAIL" line per case, then "N passed, N failed"; exit status 1 when a case
# failed, 77 (skipped) when not root.
set -u

E2E_NAME=cri_test
E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
. "$E2E_REPO/tests/e2e/lib.sh"
e2e_parse_args "$@"
e2e_resolve_runtime

# The mount points the lab covers with its own tmpfs: the shim's sockets, CNI's state, the
# pods' network namespaces. Made on the host when missing, and removed again after.
LAB_DIRS=(/run/containerd /var/lib/cni /run/netns)

if [ -z "${E2E_CRI_NS:-}" ]; then
  e2e_need_packages containerd containernetworking-plugins busybox-static python3-grpcio \
    python3-protobuf python3-websocket iproute2 util-linux gcc libc6-dev
  created=()
  for d in "${LAB_DIRS[@]}"; do [ -d "$d" ] || { mkdir -p "$d" && created+=("$d"); }; done
  # critest's images come from Debian packages: built out here, where the registry is reachable.
  images=
  if [ -n "${CRITEST:-}" ] && [ -z "${E2E_CRITEST_IMAGES:-}" ]; then
    images=$(mktemp -d /tmp/ocirun-critest-images.XXXXXX)
    "$E2E_REPO/tests/e2e/critest_images.sh" "$images" >/dev/null || e2e_die "critest_images.sh failed"
    export E2E_CRITEST_IMAGES=$images
  fi
  # A deadline (E2E_TIMEOUT seconds) so that the cleanup runs before ctest's timeout kills us.
  deadline=${E2E_TIMEOUT:-300}
  [ -n "${CRITEST:-}" ] && deadline=${E2E_TIMEOUT:-900}
  e2e_forward_args
  E2E_CRI_NS=1 timeout --kill-after=30 "$deadline" \
    unshare --mount --net --propagation private -- "$0" "${E2E_ARGS[@]}"
  rc=$?
  for d in "${created[@]}"; do rmdir "$d" 2>/dev/null; done
  [ -n "$images" ] && rm -rf "$images"
  exit $rc
fi

# ---- In the lab ----------------------------------------------------------------------------
mount --make-rshared / || e2e_die "cannot make / rshared in the lab"
ip link set lo up || e2e_die "cannot bring up lo in the lab"
for d in "${LAB_DIRS[@]}"; do mount -t tmpfs -o mode=711 cri-e2e "$d" || e2e_die "cannot mount a tmpfs on $d"; done

E2E_TMP=$(readlink -f "$(mktemp -d /tmp/ocirun-e2e-cri.XXXXXX)")
chmod 711 "$E2E_TMP"
E2E_RTLOG=$E2E_TMP/runtime-calls.log
: >"$E2E_RTLOG"
sock=$E2E_TMP/containerd.sock
cgparent=ocirun-e2e-cri-$$          # every pod's cgroup parent, removed at the end
containerd_pid=
critest_cgroups=

cleanup() {
  set +e
  if [ -n "$containerd_pid" ]; then
    local pod
    for pod in $(crictl_ pods -q 2>/dev/null); do
      crictl_ stopp "$pod" >/dev/null 2>&1
      crictl_ rmp -f "$pod" >/dev/null 2>&1
    done
    kill "$containerd_pid" 2>/dev/null
    wait_for 10 test ! -d "/proc/$containerd_pid" || kill -9 "$containerd_pid" 2>/dev/null
    wait "$containerd_pid" 2>/dev/null
  fi
  # Shims and containers that outlived containerd (only after a failure): by pid.
  local p
  for p in $(e2e_pids_with_arg "$E2E_TMP"); do kill -9 "$p" 2>/dev/null; done
  for p in $(e2e_pids_in_cgroup "$cgparent") ${critest_cgroups:+$(e2e_pids_in_cgroup "$critest_cgroups")}; do
    kill -9 "$p" 2>/dev/null
  done
  sleep 0.2
  local m
  for m in $(e2e_mounts_below "$E2E_TMP" | sort -r); do umount -l "$m" 2>/dev/null; done
  e2e_cgroups_remove "$cgparent"
  [ -n "$critest_cgroups" ] && e2e_cgroups_remove "$critest_cgroups"
  if [ "$keep" = 1 ]; then echo "kept $E2E_TMP"; else rm -rf "$E2E_TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# crictl is optional (cri-tools is not in Debian 12): cleanup uses it only when present.
crictl_() { command -v crictl >/dev/null && timeout 30 crictl --runtime-endpoint "unix://$sock" "$@"; }

# ---- Images: busybox (bundles/make-bundle.sh's rootfs) and the sandbox (pause) image --------
bundle=$(e2e_make_rootfs "$E2E_TMP/bundle" "$runtime")
rootfs=$bundle/rootfs
# The pause process: PID 1 of a pod's shared pid namespace. It ends on SIGTERM (PID 1 of a
# namespace only gets the signals it handles), reaps what is reparented to it, and runs nothing
# else (critest looks for stray `sleep`s in the pod).
pause_rootfs=$E2E_TMP/pause-rootfs
mkdir -p "$pause_rootfs"
cat >"$E2E_TMP/pause.c" <<'EOF'
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGTERM, quit);
  signal(SIGINT, quit);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
EOF
gcc -static -O2 -o "$pause_rootfs/pause" "$E2E_TMP/pause.c" || e2e_die "cannot build the pause program"
env_path='"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]'
image_archive() { # OUT ROOTFS NAME CONFIG
  e2e_make_image_archive "$1" "$2" "{\"io.containerd.image.name\":\"$3\"}" "$4" ||
    e2e_die "could not build the image archive $1"
}
image_archive "$E2E_TMP/busybox.tar" "$rootfs" ocirun.test/cri-e2e/busybox:1 "{$env_path,\"Cmd\":[\"sh\"]}"
image_archive "$E2E_TMP/pause.tar" "$pause_rootfs" ocirun.test/cri-e2e/pause:1 '{"Entrypoint":["/pause"]}'

# ---- containerd with the CRI plugin --------------------------------------------------------
wrapper=$(e2e_wrap_runtime "$runtime" "$E2E_TMP/bin")
mkdir -p "$E2E_TMP/cni"
# A bridge in the lab's own network namespace; host-local keeps its leases under the temp dir.
cat >"$E2E_TMP/cni/10-cri-e2e.conflist" <<EOF
{"cniVersion":"0.4.0","name":"cri-e2e","plugins":[
 {"type":"bridge","bridge":"cri-e2e0","isGateway":true,"ipMasq":false,
  "ipam":{"type":"host-local","dataDir":"$E2E_TMP/ipam","ranges":[[{"subnet":"10.233.0.0/24"}]],
          "routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
EOF
{
  e2e_containerd_config "$E2E_TMP" "$sock"
  cat <<EOF
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "ocirun.test/cri-e2e/pause:1"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "rt"
    snapshotter = "$(e2e_snapshotter "$E2E_TMP")"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rt]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rt.options]
        BinaryName = "$wrapper"
        Root = "$E2E_TMP/runtime-root"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$E2E_TMP/cni"
EOF
} >"$E2E_TMP/config.toml"
containerd --config "$E2E_TMP/config.toml" >"$E2E_TMP/containerd.log" 2>&1 &
containerd_pid=$!
wait_for 30 ctr --address "$sock" version || { tail -n 30 "$E2E_TMP/containerd.log" >&2; e2e_die "containerd did not start"; }
for t in "$E2E_TMP"/*.tar ${E2E_CRITEST_IMAGES:+"$E2E_CRITEST_IMAGES"/*.tar}; do
  ctr --address "$sock" --namespace k8s.io image import "$t" >/dev/null || e2e_die "ctr image import $t failed"
done
e2e_log "containerd $(containerd --version | awk '{print $3}') CRI, runtime $runtime ($("$runtime" --version 2>&1 | head -n1)), cgroup $(e2e_cgroup_mode)"

# ---- The cases -----------------------------------------------------------------------------
/usr/bin/python3 "$E2E_REPO/tests/e2e/cri_cases.py" --socket "$sock" --work "$E2E_TMP" \
  --cgroup-parent "/$cgparent" ${E2E_ONLY:+--only "$E2E_ONLY"} | tee "$E2E_TMP/cases.out"
rc=${PIPESTATUS[0]}
if [ $rc -ne 0 ] || [ "$E2E_VERBOSE" = 1 ]; then
  echo "runtime calls (last 80):"; tail -n 80 "$E2E_RTLOG" | sed 's/^/  /'
  echo "containerd log (errors):"; grep -iE 'level=(error|warning)' "$E2E_TMP/containerd.log" | tail -n 20 | sed 's/^/  /'
fi

# ---- critest, when given -------------------------------------------------------------------
# Its image tests pull from a registry, which this machine cannot reach: they are skipped by name.
if [ -n "${CRITEST:-}" ]; then
  CRITEST_SKIP='Image Manager'
  # critest's pods have no cgroup parent: containerd puts them under /k8s.io, removed after.
  [ -d /sys/fs/cgroup/memory/k8s.io ] || [ -d /sys/fs/cgroup/k8s.io ] || critest_cgroups=k8s.io
  e2e_log "critest: $CRITEST (skipped: '$CRITEST_SKIP', they pull images from a registry)"
  "$CRITEST" --runtime-endpoint "unix://$sock" --image-endpoint "unix://$sock" -ginkgo.no-color \
    -ginkgo.skip "$CRITEST_SKIP" ${CRITEST_ARGS:-} >"$E2E_TMP/critest.log" 2>&1
  e2e_log "critest exit $?: $(grep -E '^(SUCCESS|FAIL)!' "$E2E_TMP/critest.log")"
  grep -E '^\s+\[FAIL\]' "$E2E_TMP/critest.log" | sed 's/^\s*/  /'
fi
# The cases' count, last, where CI reads it.
tail -n 1 "$E2E_TMP/cases.out"
exit $rc
