#!/bin/bash
# Prepares everything tests/vm/run-in-v2-vm.sh needs to boot a pure cgroup v2 guest:
#   - installs qemu-system-x86 (and cpio, xz-utils) with apt-get if missing,
#   - downloads Debian's kernel package (the version linux-image-amd64 depends on),
#     extracts the uncompressed vmlinux from its bzImage and the module tree,
#   - builds a small initramfs (static busybox + the 9p/virtio/overlay modules + /init).
# The result goes to $OCIRUN_VM_CACHE (default /var/cache/ocirun-vm)/<kernel-version>/.
# Idempotent: when the cache is complete it only prints its path (well under a second).
#
# Usage: tests/vm/prepare.sh [--refresh] [--quiet]
#   --refresh  rebuild the cache entry even if it exists
# Env: OCIRUN_VM_CACHE   cache dir (default /var/cache/ocirun-vm)
#      OCIRUN_VM_KERNEL  kernel ABI to use, e.g. 6.1.0-56-amd64 (default: from apt)
# Prints the cache entry's directory on stdout as its last line.
set -euo pipefail

CACHE=${OCIRUN_VM_CACHE:-/var/cache/ocirun-vm}
REFRESH=0
QUIET=0
for a in "$@"; do
  case "$a" in
    --refresh) REFRESH=1 ;;
    --quiet) QUIET=1 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "prepare.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done

log() { [ "$QUIET" = 1 ] || echo "prepare.sh: $*" >&2; }
die() { echo "prepare.sh: error: $*" >&2; exit 1; }

# Layout/format of a cache entry; bump when the initramfs or the layout changes.
FORMAT=2
complete() { [ "$(cat "$1/.complete" 2>/dev/null)" = "$FORMAT" ]; }

# Modules the initramfs loads (dependencies are added automatically).
INITRD_MODULES="virtio_mmio virtio_console 9pnet_virtio 9p overlay"

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "running apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to install missing packages: $* (run: apt-get install $*)"
  log "installing $* with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2; then
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
      || die "apt-get install $* failed"
  fi
}

# --- host tools ---------------------------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
command -v flock >/dev/null || need_pkgs+=(util-linux)
if [ ${#need_pkgs[@]} -gt 0 ]; then apt_install "${need_pkgs[@]}"; fi
for f in pvh.bin bios-microvm.bin; do
  [ -e /usr/share/qemu/$f ] || [ -e /usr/share/seabios/$f ] || apt_install qemu-system-data seabios
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 still missing after install"

# --- kernel version -----------------------------------------------------------------------
kernel_from_apt() {
  apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n1
}

mkdir -p "$CACHE" || die "cannot create cache dir $CACHE (set OCIRUN_VM_CACHE)"
KVER=${OCIRUN_VM_KERNEL:-}
if [ -z "$KVER" ]; then
  # Fast path: a complete entry already exists and no refresh was asked for.
  if [ "$REFRESH" = 0 ] && complete "$CACHE/current"; then
    readlink -f "$CACHE/current"
    exit 0
  fi
  KVER=$(kernel_from_apt)
  if [ -z "$KVER" ]; then apt_update_once; KVER=$(kernel_from_apt); fi
  [ -n "$KVER" ] || die "cannot determine the kernel version (apt-cache depends linux-image-amd64 gave nothing)"
fi
OUT="$CACHE/$KVER"

if [ "$REFRESH" = 0 ] && complete "$OUT"; then
  ln -sfn "$KVER" "$CACHE/current"
  echo "$OUT"
  exit 0
fi

# Serialise concurrent preparers.
exec 9>"$CACHE/.lock"
flock 9
if [ "$REFRESH" = 0 ] && complete "$OUT"; then
  ln -sfn "$KVER" "$CACHE/current"
  echo "$OUT"
  exit 0
fi

rm -rf "$CACHE"/.work.* "$CACHE"/*.new   # left by a killed run (we hold the lock)
WORK=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# --- download -----------------------------------------------------------------------------
try_download() {
  # apt-get download as root warns about the _apt sandbox unless _apt can write here.
  chown _apt "$WORK" 2>/dev/null || true
  apt-get download -qq "linux-image-$KVER" busybox-static > "$WORK/dl.log" 2>&1
}
log "downloading linux-image-$KVER and busybox-static"
if ! try_download; then
  # Stale package lists (Debian drops old kernel ABIs from the archive): update and re-resolve.
  apt_update_once
  if [ -z "${OCIRUN_VM_KERNEL:-}" ]; then
    KVER=$(kernel_from_apt)
    [ -n "$KVER" ] || die "cannot determine the kernel version after apt-get update"
    OUT="$CACHE/$KVER"
    log "downloading linux-image-$KVER and busybox-static"
  fi
  try_download || { cat "$WORK/dl.log" >&2; die "apt-get download linux-image-$KVER busybox-static failed"; }
fi
dpkg-deb -x linux-image-"$KVER"_*.deb kpkg
dpkg-deb -x busybox-static_*.deb bbpkg
BUSYBOX="$WORK/bbpkg/bin/busybox"
[ -x "$BUSYBOX" ] || die "busybox-static package has no bin/busybox"

# --- vmlinux from bzImage (the logic of the kernel's scripts/extract-vmlinux) --------------
VMLINUZ="kpkg/boot/vmlinuz-$KVER"
[ -f "$VMLINUZ" ] || die "$VMLINUZ missing from linux-image-$KVER"
is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
try_decomp() { # $1 = magic (grep -P), $2.. = decompressor
  local magic=$1; shift
  local pos
  for pos in $(LC_ALL=C grep -obUaP "$magic" "$VMLINUZ" | cut -d: -f1); do
    tail -c +$((pos + 1)) "$VMLINUZ" | "$@" > vmlinux.try 2>/dev/null || true
    if [ -s vmlinux.try ] && is_elf vmlinux.try; then mv vmlinux.try vmlinux; return 0; fi
  done
  rm -f vmlinux.try
  return 1
}
log "extracting vmlinux"
try_decomp '\xFD7zXZ\x00' xz -dc \
  || try_decomp '\x28\xB5\x2F\xFD' zstd -dc \
  || try_decomp '\x1F\x8B\x08' gzip -dc \
  || die "could not extract an ELF vmlinux from $VMLINUZ"

# --- modules: full tree (for modprobe in the guest) + the initramfs subset ----------------
MODROOT="$WORK/modules"
mkdir -p "$MODROOT/lib/modules"
mv "kpkg/lib/modules/$KVER" "$MODROOT/lib/modules/"
"$BUSYBOX" depmod -b "$MODROOT" "$KVER" || die "depmod failed"
MODDIR="$MODROOT/lib/modules/$KVER"

declare -A MODFILE
while IFS= read -r f; do
  n=$(basename "$f"); n=${n%%.ko*}; n=${n//-/_}
  MODFILE[$n]=$f
done < <(find "$MODDIR/kernel" -name '*.ko*')

mod_deps() { # module's direct dependencies, from its .modinfo section
  tr '\0' '\n' < "${MODFILE[$1]}" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' ' | tr '-' '_'
}
ORDER=()
declare -A SEEN
visit() {
  local m=${1//-/_} d
  [ -n "${SEEN[$m]:-}" ] && return 0
  SEEN[$m]=1
  [ -n "${MODFILE[$m]:-}" ] || { grep -q "/$m.ko" "$MODDIR/modules.builtin" 2>/dev/null && return 0; die "module $m not found"; }
  for d in $(mod_deps "$m"); do visit "$d"; done
  ORDER+=("$m")
}
for m in $INITRD_MODULES; do visit "$m"; done
log "initramfs modules: ${ORDER[*]}"

# --- initramfs ----------------------------------------------------------------------------
# busybox is only ever placed inside this staging dir; applets are called as "busybox X".
STAGE="$WORK/initramfs"
mkdir -p "$STAGE"/{bin,dev,proc,sys,newroot,modules}
cp "$BUSYBOX" "$STAGE/bin/busybox"
ln -s busybox "$STAGE/bin/sh"
: > "$STAGE/modules/order"
for m in "${ORDER[@]}"; do
  cp "${MODFILE[$m]}" "$STAGE/modules/"
  basename "${MODFILE[$m]}" >> "$STAGE/modules/order"
done
# Stage-1 init: load modules, mount the host's / (9p, read-only) at /lower, then hand over to the
# repo's tests/vm/guest-init.sh (copied by run-in-v2-vm.sh into its temp dir, ocirun.dir=...), so
# that changing the guest logic needs no rebuild of this cache.
cat > "$STAGE/init" <<'INIT'
#!/bin/busybox sh
# ocirun-vm initramfs init, format FORMAT_VERSION
BB=/bin/busybox
$BB mount -t proc proc /proc
$BB mount -t sysfs sysfs /sys
$BB mount -t devtmpfs devtmpfs /dev
fail() { echo "ocirun-vm initramfs: FATAL: $*" > /dev/ttyS0; $BB poweroff -f; $BB sleep 10; }
echo "ocirun-vm: [$($BB cut -d' ' -f1 /proc/uptime)] initramfs: loading modules" > /dev/ttyS0
for m in $($BB cat /modules/order); do
  $BB insmod /modules/$m || echo "ocirun-vm initramfs: insmod $m failed" > /dev/ttyS0
done
dir= opts=
for p in $($BB cat /proc/cmdline); do
  case "$p" in
    ocirun.dir=*) dir=${p#ocirun.dir=} ;;
    ocirun.9p=*) opts=${p#ocirun.9p=} ;;
  esac
done
[ -n "$dir" ] || fail "no ocirun.dir= on the kernel command line"
echo "ocirun-vm: [$($BB cut -d' ' -f1 /proc/uptime)] initramfs: mounting the host's root" > /dev/ttyS0
$BB mkdir -p /lower
$BB mount -t 9p -o trans=virtio,version=9p2000.L,ro${opts:+,$opts} hostroot /lower || fail "9p mount failed"
[ -f "/lower$dir/init.sh" ] || fail "/lower$dir/init.sh missing"
exec $BB sh "/lower$dir/init.sh" stage1 "$dir"
fail "exec init.sh failed"
INIT
sed -i "s/FORMAT_VERSION/$FORMAT/" "$STAGE/init"
chmod 755 "$STAGE/init"
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > initramfs.cpio \
  || die "cpio failed"

# --- install into the cache ---------------------------------------------------------------
rm -rf "$OUT.new"
mkdir -p "$OUT.new"
mv vmlinux "$OUT.new/vmlinux"
mv initramfs.cpio "$OUT.new/initramfs.cpio"
mv "$MODROOT" "$OUT.new/modules"
cp "kpkg/boot/config-$KVER" "$OUT.new/config"
cp "$BUSYBOX" "$OUT.new/busybox"
echo "$KVER" > "$OUT.new/kernel-version"
echo "$FORMAT" > "$OUT.new/.complete"
rm -rf "$OUT"
mv "$OUT.new" "$OUT"
ln -sfn "$KVER" "$CACHE/current"
# Drop entries of other kernel versions (each is ~450 MB).
for d in "$CACHE"/*/; do
  d=${d%/}
  [ -L "$d" ] && continue
  [ "$d" = "$OUT" ] || [ ! -e "$d/kernel-version" ] || { log "removing old entry $d"; rm -rf "$d"; }
done
log "ready: $OUT"
echo "$OUT"
