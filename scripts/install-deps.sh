#!/bin/sh
# Installs what ocirun needs to build and test, from Debian 12's repositories only.
set -eu
# clang, libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) and llvm-14
# (llvm-symbolizer): the sanitizer and fuzz stages of test.sh.
# systemd, dbus: the systemd cgroup driver test boots systemd in private namespaces;
# containerd, podman, docker.io: the end-to-end tests (containerd's and podman's scripts install
# their client too when run alone; docker_test.sh runs this script).
packages="build-essential cmake pkg-config libseccomp-dev libcap-dev nlohmann-json3-dev libfmt-dev catch2 busybox-static iproute2 clang libclang-rt-14-dev llvm-14 systemd dbus containerd podman docker.io"
missing=""
for p in $packages; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
echo "installing:$missing" >&2

# docker.io's postinst starts dockerd (invoke-rc.d, or deb-systemd-invoke under systemd) and
# enables it at boot (update-rc.d defaults, deb-systemd-helper enable). The tests start their own
# private dockerd; the host's must stay off. Both start paths ask /usr/sbin/policy-rc.d first, and
# its exit status 101 ("action forbidden") stops them: put one in place for the install when the
# host has none.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
  own_policy=1
  trap 'rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# ocirun install-deps.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi
# Other apt users (another script of the test suite, unattended upgrades) may hold the lock.
apt="apt-get -o DPkg::Lock::Timeout=300 -y -qq"
export DEBIAN_FRONTEND=noninteractive
$apt update
case " $missing " in
  *" docker.io "*)
    # Without its Recommends: they bring boot-time services (apparmor, cgroupfs-mount) and
    # needrestart's apt hook, none of which the tests use.
    $apt install --no-install-recommends docker.io >&2
    # Undo its enabling at boot, for sysvinit (rc links become K) and systemd (wants links go;
    # deb-systemd-helper records it, so an upgrade of the package keeps them off).
    update-rc.d docker disable >/dev/null
    for unit in docker.service docker.socket; do
      DPKG_MAINTSCRIPT_PACKAGE=docker.io deb-systemd-helper disable "$unit"
    done
    missing=$(echo " $missing " | sed 's/ docker.io / /') ;;
esac
[ -z "$(echo $missing)" ] || $apt install $missing >&2
[ -z "$own_policy" ] || { rm -f "$policy"; trap - EXIT; }
