#!/bin/bash
# critest_images.sh OUTDIR: the images cri-tools' critest (v1.26) runs, built from Debian's own
# binaries as OCI archives OUTDIR/*.tar, each named as critest names it, so that critest runs
# with no registry (cri_test.sh imports them when CRITEST is set). Sourced helpers: lib.sh.
#
# critest's busybox must be a dynamically linked one whose applets are hard links: its
# MaskedPaths test masks /bin/ls and expects sh to exec /bin/ls and fail (busybox-static runs
# applets in-process, and a symlink would mask busybox itself). Debian's busybox lacks pgrep,
# ipcs and ipcmk, which critest calls: Debian's procps and util-linux binaries are copied in.
set -eu
out=$(mkdir -p "$1" && readlink -f "$1")
E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_NAME=critest_images
# shellcheck source=lib.sh
. "$E2E_REPO/tests/e2e/lib.sh"
E2E_TMP=$(mktemp -d /tmp/ocirun-critest-images.XXXXXX)
trap 'rm -rf "$E2E_TMP"' EXIT
e2e_need_packages procps util-linux gcc libc6-dev

# Debian's dynamic busybox and nginx, unpacked (not installed: they would replace
# busybox-static or start a web server on the host).
debs=$E2E_TMP/debs
mkdir -p "$debs/x"
(cd "$debs" && apt-get download busybox nginx nginx-common >/dev/null 2>&1) || e2e_die "apt-get download busybox nginx failed"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$debs/x"; done
X=$debs/x

copy_with_libs() { # ROOT BIN...: BINs into ROOT at the same paths, with the libraries they load
  local root=$1 f; shift
  for f in "$@" $(ldd "$@" | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
    mkdir -p "$root$(dirname "${f#"$X"}")"
    cp -L "$f" "$root${f#"$X"}"
  done
}

busybox_rootfs() { # DIR
  local d=$1 a
  mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,tmp,var/run,var/log,root,home,proc,sys,dev}
  chmod 1777 "$d/tmp"
  copy_with_libs "$d" "$X/bin/busybox" /usr/bin/pgrep /usr/bin/ipcs /usr/bin/ipcmk
  for a in $("$X/bin/busybox" --list-full); do [ -e "$d/$a" ] || ln "$d/bin/busybox" "$d/$a"; done
  printf '%s\n' root:x:0:0:root:/root:/bin/sh www-data:x:33:33:www-data:/var/www:/bin/false \
    nobody:x:65534:65534:nobody:/nonexistent:/bin/false >"$d/etc/passwd"
  printf '%s\n' root:x:0: www-data:x:33: nogroup:x:65534: >"$d/etc/group"
}

nginx_rootfs() { # DIR PORT: nginx in the foreground, pid in /var/run/nginx.pid (critest reads it)
  busybox_rootfs "$1"
  copy_with_libs "$1" "$X/usr/sbin/nginx"
  mkdir -p "$1"/etc/nginx "$1"/var/log/nginx "$1"/var/lib/nginx "$1"/usr/share/nginx/html
  cp "$X/etc/nginx/mime.types" "$1/etc/nginx/"
  echo '<html><body>nginx</body></html>' >"$1/usr/share/nginx/html/index.html"
  cat >"$1/etc/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
pid /var/run/nginx.pid;
error_log /dev/stderr;
events { worker_connections 64; }
http { access_log /dev/stdout; server { listen $2; root /usr/share/nginx/html; } }
EOF
}

PATH_ENV='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
NGINX_CMD='"Cmd":["nginx","-g","daemon off;"]'
image() { # FILE NAME CONFIG: OUTDIR/FILE.tar of $E2E_TMP/FILE
  e2e_make_image_archive "$out/$1.tar" "$E2E_TMP/$1" "{\"io.containerd.image.name\":\"$2\"}" "$3"
}
K8S=registry.k8s.io/e2e-test-images
CRI=gcr.io/k8s-staging-cri-tools

busybox_rootfs "$E2E_TMP/busybox"
image busybox "$K8S/busybox:1.29-2" "{$PATH_ENV,\"Cmd\":[\"sh\"]}"

nginx_rootfs "$E2E_TMP/nginx" 80
image nginx "$K8S/nginx:1.14-2" "{$PATH_ENV,$NGINX_CMD}"
nginx_rootfs "$E2E_TMP/hostnet-nginx" 12003
image hostnet-nginx "$CRI/hostnet-nginx-$(dpkg --print-architecture):latest" "{$PATH_ENV,$NGINX_CMD}"

# critest looks for apache's "httpd -D FOREGROUND" in the log and for a page on port 80.
busybox_rootfs "$E2E_TMP/httpd"
mkdir -p "$E2E_TMP/httpd/www" && echo '<html>httpd</html>' >"$E2E_TMP/httpd/www/index.html"
image httpd "$K8S/httpd:2.4.39-4" \
  "{$PATH_ENV,\"Cmd\":[\"sh\",\"-c\",\"echo 'Command line: httpd -D FOREGROUND'; exec httpd -f -p 80 -h /www\"]}"

# A set-uid root program that prints its effective uid (no_new_privs keeps it at the caller's).
busybox_rootfs "$E2E_TMP/nonewprivs"
printf '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("Effective uid: %%d\\n", (int)geteuid()); return 0; }\n' \
  >"$E2E_TMP/euid.c"
gcc -static -O2 -o "$E2E_TMP/nonewprivs/usr/local/bin/euid" "$E2E_TMP/euid.c"
chmod 4755 "$E2E_TMP/nonewprivs/usr/local/bin/euid"
image nonewprivs "$K8S/nonewprivs:1.3" "{$PATH_ENV,\"Cmd\":[\"/usr/local/bin/euid\"]}"

# User 1000 in a group (50000) that only the image's /etc/group names.
busybox_rootfs "$E2E_TMP/predefined-group"
echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >>"$E2E_TMP/predefined-group/etc/passwd"
printf '%s\n' default-user:x:1000: group-defined-in-image:x:50000:default-user >>"$E2E_TMP/predefined-group/etc/group"
image predefined-group "$CRI/test-image-predefined-group:latest" "{$PATH_ENV,\"User\":\"1000\",\"Cmd\":[\"sh\"]}"
ls "$out"
