#!/bin/bash
# runc's own integration suite (the bats files of Debian 12's runc 1.1.5 source package) run
# against an OCI runtime, and compared with tests/e2e/runc-bats-expected-failures.txt.
#
#   tests/e2e/runc_bats_test.sh [--runtime BIN] [--only REGEX] [--verbose] [--keep]
#
# BIN defaults to the built ocirun; --runtime /usr/sbin/runc runs the same harness on runc.
# --only REGEX runs the test files whose name matches (e.g. 'exec|tty'). Needs root.
#
# What it does:
#  - apt-get installs bats, jq, gawk, gcc, busybox-static, Go and the Go libraries runc's
#    Debian source package builds with (its Build-Depends), when missing;
#  - fetches runc's source with `apt-get source` from deb.debian.org bookworm main (a deb-src
#    entry in a private apt configuration: the host's sources are not changed) into a cache
#    directory ($OCIRUN_RUNC_BATS_CACHE, default /var/cache/ocirun-runc-bats), and builds the
#    suite's helper programs (recvtty, sd-helper, seccompagent) there from that source with
#    Debian's Go libraries (GOPATH mode, /usr/share/gocode);
#  - puts a busybox-static rootfs (bundles/make-bundle.sh) where the suite expects its downloaded
#    busybox image, and a get-images.sh that only names it (nothing is downloaded);
#  - runs each .bats file with RUNC pointing at a symlink named `runc` to BIN, as a child
#    subreaper (the host's PID 1 does not reap orphans, and detached containers outlive the
#    `runc run -d` that made them);
#  - compares: every test that fails must be listed in runc-bats-expected-failures.txt, and every
#    listed test must still fail (a listed test that passes is an error too: take it off the list).
#
# Output: one line per failing or listed test, then "runc bats (...): N passed, M failed
# (K expected), S skipped"; exit 1 when a failure is not listed or a listed test passed.
set -u

E2E_NAME=runc_bats_test
E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
. "$E2E_REPO/tests/e2e/lib.sh"
e2e_parse_args "$@"
e2e_resolve_runtime

RUNC_DEB_VERSION=1.1.5+ds1
cache=${OCIRUN_RUNC_BATS_CACHE:-/var/cache/ocirun-runc-bats}
expected_list=$E2E_REPO/tests/e2e/runc-bats-expected-failures.txt

# Detached containers are reparented to the nearest subreaper; be one (bash reaps every child
# that exits), as containerd's shim or conmon would be.
if [ "${E2E_RUNC_BATS_REAPER:-}" != 1 ]; then
  e2e_need_packages bats jq gawk gcc libc6-dev libc-bin busybox-static dpkg-dev python3 bsdutils util-linux iproute2
  e2e_forward_args
  E2E_RUNC_BATS_REAPER=1 exec timeout --kill-after=60 "${E2E_TIMEOUT:-1500}" python3 -c '
import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
os.execv("/bin/bash", ["/bin/bash"] + sys.argv[1:])' "$0" "${E2E_ARGS[@]}"
fi

# runc's Build-Depends that the helpers import (Go, in GOPATH mode from /usr/share/gocode).
go_packages=(golang-go libseccomp-dev pkg-config golang-dbus-dev
  golang-github-checkpoint-restore-go-criu-dev golang-github-cilium-ebpf-dev
  golang-github-containerd-console-dev golang-github-coreos-go-systemd-dev
  golang-github-cyphar-filepath-securejoin-dev golang-github-docker-go-units-dev
  golang-github-moby-sys-dev golang-github-mrunalp-fileutils-dev
  golang-github-opencontainers-selinux-dev golang-github-opencontainers-specs-dev
  golang-github-seccomp-libseccomp-golang-dev golang-github-sirupsen-logrus-dev
  golang-github-urfave-cli-dev golang-github-vishvananda-netlink-dev golang-gocapability-dev
  golang-golang-x-net-dev golang-golang-x-sys-dev golang-google-protobuf-dev)

# Fetches and unpacks runc's Debian source into $cache/src (once).
get_runc_source() {
  local apt=$cache/apt
  [ -f "$cache/src/tests/integration/helpers.bash" ] && return 0
  e2e_log "apt-get source runc ($RUNC_DEB_VERSION) into $cache"
  rm -rf "$cache/src" "$apt"
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$cache/dl"
  cat >"$apt/sources.list.d/runc-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local opts=(-o "Dir::Etc::SourceParts=$apt/sources.list.d" -o Dir::Etc::SourceList=/dev/null
    -o "Dir::State::Lists=$apt/lists" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update >"$cache/apt.log" 2>&1 || { cat "$cache/apt.log" >&2; e2e_die "apt-get update (deb-src) failed"; }
  (cd "$cache/dl" && apt-get "${opts[@]}" source --download-only runc) >>"$cache/apt.log" 2>&1 ||
    { cat "$cache/apt.log" >&2; e2e_die "apt-get source runc failed"; }
  local dsc; dsc=$(ls "$cache"/dl/runc_"$RUNC_DEB_VERSION"-*.dsc 2>/dev/null | tail -n1)
  [ -n "$dsc" ] || e2e_die "bookworm's runc is not $RUNC_DEB_VERSION: $(ls "$cache/dl")"
  dpkg-source -x "$dsc" "$cache/src" >>"$cache/apt.log" 2>&1 || { cat "$cache/apt.log" >&2; e2e_die "dpkg-source -x failed"; }
}

# Builds recvtty, sd-helper and seccompagent next to their sources, where helpers.bash looks.
build_helpers() {
  local cmd=$cache/src/contrib/cmd
  [ -x "$cmd/recvtty/recvtty" ] && [ -x "$cmd/sd-helper/sd-helper" ] && [ -x "$cmd/seccompagent/seccompagent" ] && return 0
  e2e_need_packages "${go_packages[@]}"
  e2e_log "building runc's test helpers (Go, GOPATH mode)"
  local gopath=$cache/gopath
  mkdir -p "$gopath/src/github.com/opencontainers"
  ln -sfn "$cache/src" "$gopath/src/github.com/opencontainers/runc"
  local h
  for h in recvtty sd-helper seccompagent; do
    (cd "$gopath/src/github.com/opencontainers/runc/contrib/cmd/$h" &&
      GOPATH=$gopath:/usr/share/gocode GO111MODULE=off GOCACHE=$cache/gocache GOFLAGS= \
        go build -tags seccomp -o "$h" .) || e2e_die "could not build $h"
  done
}

# The users and groups of the busybox image the suite was written for (docker-library's), in
# place of make-bundle.sh's: tests expect `id` to print bare numbers for uid 1000.
docker_busybox_accounts() {
  local r=$1
  rm -rf "$r/home/user"
  mkdir -p "$r/var/spool/mail" "$r/var/www"
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
  local g
  : >"$r/etc/group"
  for g in root:0 daemon:1 bin:2 sys:3 adm:4 tty:5 disk:6 lp:7 mail:8 kmem:9 wheel:10 cdrom:11 \
    dialout:18 floppy:19 video:28 audio:29 tape:32 www-data:33 operator:37 utmp:43 plugdev:46 \
    staff:50 lock:54 netdev:82 users:100 nogroup:65534; do
    echo "${g%:*}:x:${g#*:}:" >>"$r/etc/group"
  done
}

# The busybox and "Debian" images helpers.bash untars into each bundle, and a get-images.sh
# that names them.
prepare_images() {
  local it=$cache/src/tests/integration
  local image=$it/testdata/busybox-static.tar.xz debian=$it/testdata/busybox-ldconfig.tar.xz
  if [ ! -f "$debian" ] || [ "$image" -ot /bin/busybox ] || [ "$image" -ot "${BASH_SOURCE[0]}" ]; then
    local d r; d=$(mktemp -d); r=$d/bundle/rootfs
    e2e_make_rootfs "$d/bundle" "$runtime" >/dev/null
    docker_busybox_accounts "$r"
    tar --numeric-owner -C "$r" -cJf "$image.new" . && mv "$image.new" "$image" || e2e_die "could not make $image"
    # hooks.bats's "Debian" image only needs a /lib and a (static) ldconfig besides a shell.
    mkdir -p "$r/lib" && cp /sbin/ldconfig "$r/sbin/ldconfig" && echo /lib >"$r/etc/ld.so.conf"
    tar --numeric-owner -C "$r" -cJf "$debian.new" . && mv "$debian.new" "$debian" || e2e_die "could not make $debian"
    rm -rf "$d"
  fi
  cat >"$it/get-images.sh" <<EOF
#!/bin/bash
# Written by ocirun's tests/e2e/runc_bats_test.sh: busybox-static rootfs, no download.
echo "BUSYBOX_IMAGE=$image"
echo "DEBIAN_IMAGE=$debian"
EOF
}

get_runc_source
build_helpers
prepare_images

E2E_TMP=$(readlink -f "$(mktemp -d /tmp/ocirun-runc-bats.XXXXXX)")
chmod 711 "$E2E_TMP"
mkdir -p "$E2E_TMP/bin" "$E2E_TMP/tmp" "$E2E_TMP/tap"
# Scripts print and check the program's name; runc's own helpers call it `runc`.
ln -s "$runtime" "$E2E_TMP/bin/runc"

# After a file timed out: thaw the suite's cgroups (a test freezes one before `run`; a runtime
# that joins it hangs there), kill what is left in them, delete the containers of its state dirs.
thaw_suite_cgroups() {
  local d
  for d in $(find /sys/fs/cgroup/freezer/runc-cgroups-integration-test -name freezer.state 2>/dev/null); do
    echo THAWED >"$d"
  done
  for d in $(find /sys/fs/cgroup/unified/runc-cgroups-integration-test /sys/fs/cgroup/runc-cgroups-integration-test \
    -name cgroup.freeze 2>/dev/null); do
    echo 0 >"$d"
  done
}

release_leftovers() {
  local p st id
  thaw_suite_cgroups
  for p in $(e2e_pids_in_cgroup runc-cgroups-integration-test) $(e2e_pids_with_arg "$E2E_TMP/tmp/"); do
    kill -9 "$p" 2>/dev/null
  done
  for st in "$E2E_TMP"/tmp/bats-run-*/runc.*/state; do
    [ -d "$st" ] || continue
    for id in $("$runtime" --root "$st" list -q 2>/dev/null); do "$runtime" --root "$st" delete -f "$id" >/dev/null 2>&1; done
  done
  e2e_cgroups_remove runc-cgroups-integration-test
}

cleanup() {
  set +e
  release_leftovers
  local m
  for m in $(e2e_mounts_below "$E2E_TMP" | sort -r); do umount -l "$m" 2>/dev/null; done
  if [ $keep = 1 ]; then echo "kept $E2E_TMP"; else rm -rf "$E2E_TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# All of FILE's results are in: as many "ok"/"not ok" lines as its plan line announces.
all_reported() {
  local plan
  plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$1" 2>/dev/null | head -n1)
  [ -n "$plan" ] && [ "$(grep -cE '^(not )?ok [0-9]+ ' "$1")" -ge "$plan" ]
}

# run_bats_file FILE TAP: runs one .bats file, its TAP output to TAP.
# Under a terminal, as runc's CI runs the suite (`script`): the spec's default "terminal": true
# makes a foreground `run` use the caller's tty. Not BATS_TEST_TIMEOUT: bats 1.8 runs that
# watchdog as a background job of the test, and events.bats's bare `wait` waits for it. A file
# gets a deadline instead, and once all its results are in, what its failed tests left running
# is killed: a recvtty a test did not get to kill holds bats's output fd, and bats waits for it.
run_bats_file() {
  local f=$1 tap=$2 limit=${E2E_FILE_TIMEOUT:-300} done_at=
  (cd "$it" && RUNC=$E2E_TMP/bin/runc TMPDIR=$E2E_TMP/tmp \
    timeout --kill-after=10 "$limit" script -qec "$(printf 'bats --tap %q >%q 2>&1' "$f" "$tap")" /dev/null) \
    >/dev/null 2>&1 </dev/null &
  local pid=$! t0=$SECONDS size=0 moved=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.5
    if [ -z "$done_at" ] && all_reported "$tap"; then done_at=$SECONDS; fi
    # No result for a minute: a runtime that joins the cgroup a test froze (cgroups.bats, "refuse
    # pre-existing frozen cgroup") waits there for good. Thawing lets that test fail by itself.
    if [ "$(stat -c %s "$tap" 2>/dev/null || echo 0)" != "$size" ]; then
      size=$(stat -c %s "$tap"); moved=$SECONDS
    elif [ $((SECONDS - moved)) -ge "${E2E_STALL:-60}" ]; then
      thaw_suite_cgroups; moved=$SECONDS
    fi
    if [ -n "$done_at" ] && [ $((SECONDS - done_at)) -ge 5 ]; then release_leftovers; done_at=$((SECONDS + limit)); fi
  done
  wait "$pid"
  if [ $? -ge 124 ] && [ $((SECONDS - t0)) -ge "$limit" ]; then
    echo "not ok 0 $f: the whole file timed out after ${limit}s" >>"$tap"
    release_leftovers
  fi
}

it=$cache/src/tests/integration
files=()
for f in "$it"/*.bats; do
  f=$(basename "$f")
  if [ -n "$E2E_ONLY" ] && ! [[ $f =~ $E2E_ONLY ]]; then continue; fi
  files+=("$f")
done

# One bats run per file, so that each result line can be named "file | test".
e2e_log "runc bats ($RUNC_DEB_VERSION) against $runtime: ${#files[@]} files"
results=$E2E_TMP/results   # lines: STATUS<TAB>file<TAB>test  (STATUS: ok, fail, skip)
: >"$results"
for f in "${files[@]}"; do
  tap=$E2E_TMP/tap/$f.tap
  t0=$(date +%s)
  run_bats_file "$f" "$tap"
  awk -v f="$f" '
    /^ok [0-9]+ .* # skip/ { sub(/^ok [0-9]+ /, ""); sub(/ # skip.*$/, ""); print "skip\t" f "\t" $0; next }
    /^ok [0-9]+ /          { sub(/^ok [0-9]+ /, "");  print "ok\t" f "\t" $0; next }
    /^not ok [0-9]+ /      { sub(/^not ok [0-9]+ /, ""); sub(/ # timeout after .*$/, ""); print "fail\t" f "\t" $0 }
  ' "$tap" >>"$results"
  [ "$E2E_VERBOSE" = 1 ] && e2e_log "$f: $(($(date +%s) - t0))s"
done

# The list: "file.bats | test name | why" per line; # comments and blank lines are ignored.
listed=$E2E_TMP/listed
sed -e 's/#.*$//' -e '/^[[:space:]]*$/d' "$expected_list" |
  awk -F' *[|] *' '{ sub(/^[ \t]+/, "", $1); print $1 "\t" $2 }' >"$listed"

# Prints the TAP diagnostics of test NAME in FILE (the "# ..." lines after its "not ok").
print_diagnostics() {
  awk -v name="$2" '
    /^(not )?ok [0-9]+ / { on = 0 }
    /^not ok [0-9]+ / { t = $0; sub(/^not ok [0-9]+ /, "", t); sub(/ # timeout after .*$/, "", t); on = (t == name) }
    on' "$E2E_TMP/tap/$1.tap" | head -n 80 | sed 's/^/      /'
}

pass=0 fail=0 expected=0 skip=0 bad=0
while IFS=$'\t' read -r status f name; do
  if grep -qxF "$f"$'\t'"$name" "$listed"; then is_listed=1; else is_listed=0; fi
  case "$status" in
    ok)
      pass=$((pass + 1))
      if [ $is_listed = 1 ]; then
        bad=$((bad + 1)); echo "PASSES BUT LISTED  $f: $name (take it off $(basename "$expected_list"))"
      fi ;;
    skip) skip=$((skip + 1)) ;;
    fail)
      fail=$((fail + 1))
      if [ $is_listed = 1 ]; then
        expected=$((expected + 1))
        [ "$E2E_VERBOSE" = 1 ] && echo "expected fail  $f: $name"
      else
        bad=$((bad + 1)); echo "FAIL  $f: $name"; print_diagnostics "$f" "$name"
      fi ;;
  esac
done <"$results"

# A listed test that did not run at all (renamed, or its file was not selected) is only noted.
while IFS=$'\t' read -r f name; do
  [ -n "$E2E_ONLY" ] && ! [[ $f =~ $E2E_ONLY ]] && continue
  grep -qP "^\\w+\\t\\Q$f\\E\\t\\Q$name\\E\$" "$results" || echo "note: listed but not run: $f: $name"
done <"$listed"

echo
echo "runc bats ($runtime): $pass passed, $fail failed ($expected expected), $skip skipped"
[ $bad -eq 0 ]
