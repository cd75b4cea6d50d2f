# Shared helpers for the end-to-end tests (sourced by containerd_test.sh and podman_test.sh).
# bash only. Nothing here changes the host beyond apt-get install and the caller's temp dir.

E2E_PASS=0
E2E_FAIL=0
E2E_SKIP=0
E2E_FAILED=()
E2E_ONLY=${E2E_ONLY:-}      # a bash regex: run only the cases whose name matches
E2E_VERBOSE=${E2E_VERBOSE:-0}

e2e_log() { echo "[$(date +%H:%M:%S)] $*"; }
e2e_die() { echo "$E2E_NAME: $*" >&2; exit 2; }

# e2e_parse_args "$@": the options both scripts take,
#   [--runtime BIN] [--only REGEX] [--verbose] [--keep]
# Sets runtime (default: the built <repo>/build/ocirun) and keep (0 or 1), exports E2E_ONLY and
# E2E_VERBOSE; exits 2 with the usage on anything else.
e2e_parse_args() {
  runtime="$E2E_REPO/build/ocirun"
  keep=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --runtime) runtime=$2; shift 2 ;;
      --only) export E2E_ONLY=$2; shift 2 ;;
      --verbose|-v) export E2E_VERBOSE=1; shift ;;
      --keep) keep=1; shift ;;
      *) echo "usage: $0 [--runtime BIN] [--only REGEX] [--verbose] [--keep]" >&2; exit 2 ;;
    esac
  done
}

# Skips the script (exit 77) when not root; makes $runtime an absolute path with no links (a
# bare name is looked up in PATH), or dies when there is no such executable.
e2e_resolve_runtime() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: $E2E_NAME needs root"; exit 77; }
  case "$runtime" in */*) ;; *) runtime=$(command -v "$runtime") || e2e_die "runtime not found" ;; esac
  [ -x "$runtime" ] || e2e_die "runtime not found: $runtime (build ocirun or pass --runtime)"
  runtime=$(readlink -f "$runtime")
}

# Sets the array E2E_ARGS to the options this run was given (the resolved runtime), for the
# script to run itself again in a private mount namespace.
e2e_forward_args() {
  E2E_ARGS=(--runtime "$runtime")
  [ -n "$E2E_ONLY" ] && E2E_ARGS+=(--only "$E2E_ONLY")
  [ "$E2E_VERBOSE" = 1 ] && E2E_ARGS+=(--verbose)
  [ "$keep" = 1 ] && E2E_ARGS+=(--keep)
  return 0
}

# Installs Debian packages that are missing (the scripts must work on a fresh Debian 12).
e2e_need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  e2e_log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local log; log=$(mktemp)
  # ctest may run both scripts at once: take turns, and wait for other apt users too.
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y)   # with Recommends, as users install them
  (
    flock 9
    "${apt[@]}" install "${missing[@]}" >"$log" 2>&1 ||
      { "${apt[@]}" update >>"$log" 2>&1 && "${apt[@]}" install "${missing[@]}" >>"$log" 2>&1; }
  ) 9>/tmp/ocirun-e2e-apt.lock || { cat "$log" >&2; rm -f "$log"; e2e_die "could not install ${missing[*]}"; }
  rm -f "$log"
}

# e2e_wrap_runtime REAL DIR: writes DIR/<basename of REAL>, a logging wrapper that runs REAL with
# the same argv and stdio and appends to $E2E_RTLOG one line per call (argv, exit status), the
# lines the call added to its --log file, and (for commands whose stdio is not the container's)
# its stderr. Prints the wrapper's path. The basename is kept because clients look at it
# (podman's runtime_supports_json).
e2e_wrap_runtime() {
  local real=$1 dir=$2 name
  name=$(basename "$real")
  mkdir -p "$dir"
  cat >"$dir/$name" <<EOF
#!/bin/bash
real='$real'
rtlog='$E2E_RTLOG'
EOF
  cat >>"$dir/$name" <<'EOF'
ts() { date +%H:%M:%S.%3N; }
logfile= prev= cmd=
for a in "$@"; do
  case "$prev" in --log) logfile=$a ;; esac
  case "$a" in --log=*) logfile=${a#--log=} ;; esac
  prev=$a
done
# The subcommand: the first argument that is neither a global flag nor a global flag's value.
skip=0
for a in "$@"; do
  if [ $skip = 1 ]; then skip=0; continue; fi
  case "$a" in
    --root|--log|--log-format|--criu|--rootless) skip=1 ;;
    -*) ;;
    *) cmd=$a; break ;;
  esac
done
size=0
[ -n "$logfile" ] && [ -f "$logfile" ] && size=$(stat -c %s "$logfile")
echo "$(ts) [$$] $(basename "$real") $(printf '%q ' "$@")" >>"$rtlog"
case "$cmd" in
  create|run|exec|"")
    # Their stdio is the container's: leave it alone.
    "$real" "$@"; rc=$? ;;
  *)
    errf=$(mktemp); "$real" "$@" 2>"$errf"; rc=$?
    cat "$errf" >&2
    sed 's/^/      stderr: /' "$errf" >>"$rtlog"; rm -f "$errf" ;;
esac
{
  echo "$(ts) [$$]   -> exit $rc"
  if [ -n "$logfile" ] && [ -f "$logfile" ]; then tail -c +$((size + 1)) "$logfile" | sed 's/^/      log: /'; fi
} >>"$rtlog"
exit $rc
EOF
  chmod 755 "$dir/$name"
  echo "$dir/$name"
}

# e2e_case NAME FUNCTION [ARGS...]: runs one case in a subshell; prints PASS/FAIL/SKIP with its
# time, and on failure its output and the runtime calls it made. A case returns 0 (pass),
# 77 (skip, its output says why) or anything else (fail).
e2e_case() {
  local name=$1; shift
  if [ -n "$E2E_ONLY" ] && ! [[ $name =~ $E2E_ONLY ]]; then return 0; fi
  local lines0 t0 t1 out rc
  lines0=$(wc -l <"$E2E_RTLOG")
  t0=$(date +%s%N)
  out=$("$@" 2>&1)
  rc=$?
  t1=$(date +%s%N)
  local dt; dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1fs", (b-a)/1e9}')
  if [ $rc -eq 0 ]; then
    E2E_PASS=$((E2E_PASS + 1))
    echo "PASS  $name ($dt)"
    [ "$E2E_VERBOSE" = 1 ] && [ -n "$out" ] && echo "$out" | sed 's/^/      /'
  elif [ $rc -eq 77 ]; then
    E2E_SKIP=$((E2E_SKIP + 1))
    echo "SKIP  $name: $(echo "$out" | tail -n1)"
  else
    E2E_FAIL=$((E2E_FAIL + 1))
    E2E_FAILED+=("$name")
    echo "FAIL  $name ($dt)"
    echo "$out" | sed 's/^/      /'
    local calls; calls=$(tail -n +$((lines0 + 1)) "$E2E_RTLOG")
    if [ -n "$calls" ]; then
      echo "      runtime calls during this case:"
      echo "$calls" | sed 's/^/        /' | head -n 60
    fi
  fi
  return 0
}

e2e_summary() {
  local label=$1
  echo
  echo "$label: $E2E_PASS passed, $E2E_FAIL failed, $E2E_SKIP skipped"
  local n
  for n in "${E2E_FAILED[@]}"; do echo "  failed: $n"; done
  [ $E2E_FAIL -eq 0 ]
}

# Assertions: each prints what went wrong and returns 1, so a case writes `expect_eq ... || return 1`.
expect_eq() { # ACTUAL EXPECTED WHAT
  [ "$1" == "$2" ] && return 0
  echo "$3: expected [$2], got [$1]"
  return 1
}
expect_match() { # ACTUAL REGEX WHAT
  [[ $1 =~ $2 ]] && return 0
  echo "$3: expected to match /$2/, got [$1]"
  return 1
}
expect_no_match() { # ACTUAL REGEX WHAT
  [[ $1 =~ $2 ]] || return 0
  echo "$3: expected no match for /$2/, got [$1]"
  return 1
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
  local deadline=$(($(date +%s%N) + $1 * 1000000000)); shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -gt $deadline ] && return 1
    sleep 0.1
  done
}

# cgroup layout: "v2" (unified) or "v1" (legacy or hybrid).
e2e_cgroup_mode() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo v2; else echo v1; fi
}

# e2e_cgroup_dir PID CONTROLLER: the host directory of PID's cgroup for CONTROLLER (v1), or its
# unified cgroup (v2; CONTROLLER is ignored).
e2e_cgroup_dir() {
  local pid=$1 ctl=${2:-} line path
  if [ "$(e2e_cgroup_mode)" = v2 ]; then
    path=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
    echo "/sys/fs/cgroup$path"
  else
    line=$(grep -E "^[0-9]+:([^:]*,)?$ctl(,[^:]*)?:" "/proc/$pid/cgroup") || return 1
    path=${line#*:*:}
    local mnt
    for mnt in /sys/fs/cgroup/*; do
      [ -L "$mnt" ] && continue
      case ",$(basename "$mnt")," in *",$ctl,"*) echo "$mnt$path"; return 0 ;; esac
    done
    return 1
  fi
}

# Prints every cgroup directory below NAME (a top-level cgroup the test owns), in every hierarchy
# (cgroup file systems only: not a tmpfs put over one).
e2e_cgroups_below() {
  local name=$1 d
  for d in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [ -d "$d" ] || continue
    case "$(stat -f -c %T "$d")" in cgroupfs|cgroup2fs) find "$d" -mindepth 1 -type d 2>/dev/null ;; esac
  done
}

# Removes the (empty) top-level cgroup NAME from every hierarchy. A NAME under a plain directory
# of the /sys/fs/cgroup tmpfs (one named like a controller the host has not mounted: conmon makes
# its "cgroup" there anyway, with a cgroup.procs file in it) is a directory tree of our own: removed.
e2e_cgroups_remove() {
  local name=$1 d
  for d in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [ -d "$d" ] || continue
    case "$(stat -f -c %T "$d")" in
      cgroupfs|cgroup2fs)
        find "$d" -depth -mindepth 1 -type d -exec rmdir {} \; 2>/dev/null
        rmdir "$d" 2>/dev/null ;;
      tmpfs) rm -rf "$d" ;;
    esac
  done
}

# Pids whose cgroup (any hierarchy) contains the path element /NAME/ or ends with /NAME.
e2e_pids_in_cgroup() {
  grep -lE ":/($1/|$1\$)" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3
}

# Pids (other than this shell's) whose command line contains STRING (read from /proc; nothing is
# signalled).
e2e_pids_with_arg() {
  # The pattern comes from a file so that grep's own command line does not match.
  grep -alF -f <(printf '%s\n' "$1") /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | grep -vxE "$$|$BASHPID"
}

# e2e_remove_leftovers CGROUP: the end of a script's cleanup, after its client has removed what
# it could: kills (by pid) the processes whose command line names $E2E_TMP/ and those left in
# the top-level cgroup CGROUP, unmounts what is mounted below $E2E_TMP, removes CGROUP, and
# deletes $E2E_TMP (kept with --keep).
e2e_remove_leftovers() {
  local cgroup=$1 p m
  for p in $(e2e_pids_with_arg "$E2E_TMP/"); do
    [ "$p" = $$ ] || kill -9 "$p" 2>/dev/null
  done
  for p in $(e2e_pids_in_cgroup "$cgroup"); do kill -9 "$p" 2>/dev/null; done
  sleep 0.2
  for m in $(e2e_mounts_below "$E2E_TMP" | sort -r); do umount -l "$m" 2>/dev/null; done
  e2e_cgroups_remove "$cgroup"
  if [ "$keep" = 1 ]; then echo "kept $E2E_TMP"; else rm -rf "$E2E_TMP"; fi
}

# Mount points at or below DIR (in this mount namespace).
e2e_mounts_below() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo
}

# e2e_snapshotter DIR: containerd's snapshotter for this kernel: overlayfs when an overlay mount
# works here (tried under DIR), else native.
e2e_snapshotter() {
  local o=$1/ovl-probe snapshotter=native
  if modprobe overlay 2>/dev/null || grep -qw overlay /proc/filesystems; then
    mkdir -p "$o/l" "$o/u" "$o/w" "$o/m"
    if mount -t overlay overlay -o "lowerdir=$o/l,upperdir=$o/u,workdir=$o/w" "$o/m" 2>/dev/null; then
      umount "$o/m"
      snapshotter=overlayfs
    fi
    rm -rf "$o"
  fi
  echo $snapshotter
}

# e2e_containerd_config DIR SOCK [PLUGIN...]: the top of a containerd config whose root, state,
# opt and debug socket are under DIR, listening on SOCK; the PLUGINs and the snapshotters and
# tracing plugins the tests do not use are disabled. The caller appends plugin sections.
e2e_containerd_config() {
  local dir=$1 sock=$2; shift 2
  local p
  cat <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [
EOF
  for p in "$@" io.containerd.snapshotter.v1.{aufs,btrfs,zfs,devmapper} io.containerd.internal.v1.tracing \
    io.containerd.tracing.processor.v1.otlp; do
    echo "  \"$p\","
  done
  cat <<EOF
]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = "$dir/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
}

# Builds the busybox rootfs (bundles/make-bundle.sh) at DIR/rootfs; prints the resolved DIR.
e2e_make_rootfs() {
  local dir=$1 runtime=$2
  "$E2E_REPO/bundles/make-bundle.sh" --runtime "$runtime" "$dir" >/dev/null || e2e_die "make-bundle.sh failed"
  readlink -f "$dir"
}

# e2e_make_image_archive OUT ROOTFS ANNOTATIONS [CONFIG]: an OCI image archive at OUT (oci-layout,
# index.json, manifest, config and one uncompressed layer of ROOTFS, each blob named by its
# sha256). ANNOTATIONS is the JSON object of the manifest's annotations in index.json, where each
# client looks for the image's name. CONFIG is the image config's "config" object (default: an
# Env, a Cmd and a WorkingDir the tests check). Works in $E2E_TMP/oci-image.
e2e_make_image_archive() {
  local out=$1 rootfs=$2 annotations=$3 d=$E2E_TMP/oci-image
  local config=${4:-'{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","E2E_IMAGE=yes"],"Cmd":["sh","-c","echo image-default-cmd $E2E_IMAGE $(pwd)"],"WorkingDir":"/home/user"}'}
  rm -rf "$d"; mkdir -p "$d/blobs/sha256"
  local arch; arch=$(dpkg --print-architecture)
  tar --numeric-owner --sort=name -C "$rootfs" -cf "$d/layer.tar" . || return 1
  local ldig lsize; ldig=$(sha256sum "$d/layer.tar" | cut -d' ' -f1); lsize=$(stat -c %s "$d/layer.tar")
  mv "$d/layer.tar" "$d/blobs/sha256/$ldig"
  cat >"$d/config.json" <<EOF
{"architecture":"$arch","os":"linux","config":$config,"rootfs":{"type":"layers","diff_ids":["sha256:$ldig"]},"history":[{"created_by":"ocirun e2e"}]}
EOF
  local cdig csize; cdig=$(sha256sum "$d/config.json" | cut -d' ' -f1); csize=$(stat -c %s "$d/config.json")
  mv "$d/config.json" "$d/blobs/sha256/$cdig"
  cat >"$d/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$cdig","size":$csize},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$ldig","size":$lsize}]}
EOF
  local mdig msize; mdig=$(sha256sum "$d/manifest.json" | cut -d' ' -f1); msize=$(stat -c %s "$d/manifest.json")
  mv "$d/manifest.json" "$d/blobs/sha256/$mdig"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
  cat >"$d/index.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$mdig","size":$msize,"platform":{"architecture":"$arch","os":"linux"},"annotations":$annotations}]}
EOF
  tar --numeric-owner -C "$d" -cf "$out" oci-layout index.json blobs || return 1
  rm -rf "$d"
}
