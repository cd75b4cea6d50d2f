#!/bin/busybox sh
# Guest side of tests/vm/run-in-v2-vm.sh. Runs under the static busybox as PID 1.
#
# stage1: called by the initramfs /init (built by prepare.sh) after it has loaded the virtio/9p/
#         overlay modules and mounted the host's / read-only (9p) at /lower. Builds the guest's
#         root (overlay: 9p lower + tmpfs upper), mounts the API filesystems and cgroup2, then
#         switch_roots into it and re-executes this script as stage2.
# stage2: PID 1 in the final root: runs the command (stdout/stderr on virtio-serial ports),
#         reports its exit status on the status port and powers off.
#
# Config comes from $RUNDIR/config (written by run-in-v2-vm.sh, shell-quoted assignments).

stage=$1
rundir=$2   # host temp dir (stage1: as seen through /lower; stage2: copied to /run/ocirun-vm)

log() { read -r up _ < /proc/uptime; echo "ocirun-vm: [$up] $*" > /dev/ttyS0; }
die() {
  log "FATAL: $*"
  [ -n "$STATUS" ] && [ -e "$STATUS" ] && echo "fatal $*" > "$STATUS"
  $BB poweroff -f
  $BB sleep 10
}

if [ "$stage" = stage1 ]; then
  BB=/bin/busybox
  . "/lower$rundir/config" || die "cannot read /lower$rundir/config"
  log "stage1"

  # Root: host / (read-only 9p) under a tmpfs upper layer.
  $BB mkdir -p /rw
  $BB mount -t tmpfs -o mode=755 rwroot /rw || die "tmpfs for overlay"
  $BB mkdir -p /rw/upper /rw/work
  $BB mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work rootfs /newroot \
    || die "overlay mount failed"
  R=/newroot
  $BB mount -t proc -o nosuid,nodev,noexec proc $R/proc || die "mount proc"
  $BB mount -t sysfs -o nosuid,nodev,noexec sysfs $R/sys || die "mount sysfs"
  $BB mount -t devtmpfs -o nosuid,mode=755 devtmpfs $R/dev || die "mount devtmpfs"
  $BB mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue
  $BB mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
  $BB mount -t tmpfs -o nosuid,nodev,mode=1777 shm $R/dev/shm
  $BB mount -t mqueue -o nosuid,nodev,noexec mqueue $R/dev/mqueue
  [ -e $R/dev/fd ] || $BB ln -s /proc/self/fd $R/dev/fd
  [ -e $R/dev/stdin ] || $BB ln -s /proc/self/fd/0 $R/dev/stdin
  [ -e $R/dev/stdout ] || $BB ln -s /proc/self/fd/1 $R/dev/stdout
  [ -e $R/dev/stderr ] || $BB ln -s /proc/self/fd/2 $R/dev/stderr
  $BB mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 $R/sys/fs/cgroup \
    || die "mount cgroup2"
  echo "+cpuset +cpu +io +memory +pids" > $R/sys/fs/cgroup/cgroup.subtree_control \
    || die "cannot enable cgroup controllers"
  # /tmp and /run: fresh tmpfs, unless the command's working directory lives there (then the
  # overlay's writable view of the host directory is kept so that the directory exists).
  case "$CWD/" in /tmp/*) ;; *) $BB mount -t tmpfs -o nosuid,nodev,mode=1777 tmp $R/tmp ;; esac
  case "$CWD/" in /run/*) ;; *) $BB mount -t tmpfs -o nosuid,nodev,mode=755 run $R/run ;; esac
  $BB mkdir -p $R/var/tmp && $BB chmod 1777 $R/var/tmp

  # Guest kernel's modules (for modprobe in the guest): bind the cache's tree.
  if [ -d "$R$MODULES_DIR" ]; then
    $BB mkdir -p "$R/lib/modules/$KVER" && $BB mount --bind "$R$MODULES_DIR" "$R/lib/modules/$KVER"
  fi

  $BB hostname "$VM_HOSTNAME"
  $BB ip link set lo up || $BB ifconfig lo 127.0.0.1 up

  G=$R/run/ocirun-vm
  $BB mkdir -p $G
  $BB cp $BB $G/busybox
  $BB cp "/lower$rundir/config" "/lower$rundir/cmd" "/lower$rundir/init.sh" $G/ || die "copy run files"
  # virtio-serial ports by name.
  for p in /sys/class/virtio-ports/*; do
    [ -e "$p/name" ] || continue
    echo "$($BB cat $p/name)=/dev/${p##*/}"
  done > $G/ports
  log "switch_root"
  exec $BB switch_root $R /run/ocirun-vm/busybox sh /run/ocirun-vm/init.sh stage2 /run/ocirun-vm
  die "switch_root failed"
fi

if [ "$stage" = stage2 ]; then
  BB=$rundir/busybox
  . "$rundir/config"
  OUT=/dev/null ERR=/dev/null STATUS=
  while IFS='=' read -r name dev; do
    case "$name" in
      ocirun.stdout) OUT=$dev ;;
      ocirun.stderr) ERR=$dev ;;
      ocirun.status) STATUS=$dev ;;
    esac
  done < "$rundir/ports"
  [ -n "$STATUS" ] || die "no status port"
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  if [ -n "$MODPROBE" ]; then
    echo "$MODPROBE" | while IFS= read -r m; do
      [ -n "$m" ] || continue
      # shellcheck disable=SC2086
      $BB modprobe $m || echo "ocirun-vm: modprobe $m failed" > "$ERR"
    done
  fi
  log "stage2: starting the command"
  echo "start $($BB cat /proc/uptime)" > "$STATUS"
  /bin/bash "$rundir/cmd" < /dev/null > "$OUT" 2> "$ERR"
  rc=$?
  echo "exit $rc $($BB cat /proc/uptime)" > "$STATUS"
  log "command exited with $rc"
  $BB sync
  $BB poweroff -f
  $BB sleep 10
fi
echo "guest-init.sh: bad stage '$stage'" >&2
exit 1
