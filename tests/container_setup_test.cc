// Integration tests for how the container's init sets the container up where runc's own
// integration suite (v1.1.5 bats) found ocirun different: the process's cwd, the terminal's
// owner, a read-only /dev, mount options, bind sources in a user namespace, a frozen cgroup.
// Each test names the bats test it follows. Run against runc with OCIRUN_BIN=$(which runc)
// (tests tagged [ocirun] check ocirun's own error texts).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "integration/harness.h"

using namespace ocirun::it;
using Catch::Matchers::Contains;

namespace {

// A host pty whose slave is given to the runtime as stdin (runc wants a terminal there for
// a foreground terminal); closed on scope exit.
struct HostPty {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  std::string slave;
  HostPty() {
    REQUIRE(master >= 0);
    REQUIRE(grantpt(master) == 0);
    REQUIRE(unlockpt(master) == 0);
    slave = ptsname(master);
  }
  ~HostPty() { close(master); }
  HostPty(const HostPty&) = delete;
  HostPty& operator=(const HostPty&) = delete;
};

void set_user(Sandbox& s, int uid, int gid) {
  s.config["process"]["user"]["uid"] = uid;
  s.config["process"]["user"]["gid"] = gid;
}

// A directory of the rootfs that only its owner (host root here) may enter.
void make_private_dir(Sandbox& s, const std::string& name) {
  fs::create_directory(s.rootfs / name);
  REQUIRE(chown((s.rootfs / name).c_str(), 0, 0) == 0);
  fs::permissions(s.rootfs / name, fs::perms::owner_all);
}

}  // namespace

// ---- process.cwd (cwd.bats) ----------------------------------------------------------------------

TEST_CASE("cwd: a directory only root may enter is the cwd of a non-root process", "[cwd]") {
  // cwd.bats "runc create can chdir if runc has access".
  Sandbox s("cwd-root-only");
  make_private_dir(s, "private");
  s.config["process"]["cwd"] = "/private";
  set_user(s, 42, 42);
  s.sh("pwd; id -u; ls . >/dev/null 2>&1 || echo cannot-list");
  auto r = run_ok(s);
  CHECK(r.out == "/private\n42\ncannot-list\n");
}

TEST_CASE("cwd: exec as root into a container whose user has no access to the cwd", "[cwd]") {
  // cwd.bats "runc exec --user with no access to cwd".
  Sandbox s("cwd-exec-root");
  fs::create_directory(s.rootfs / "home42");
  REQUIRE(chown((s.rootfs / "home42").c_str(), 42, 42) == 0);
  fs::permissions(s.rootfs / "home42", fs::perms::owner_all);
  s.config["process"]["cwd"] = "/home42";
  set_user(s, 42, 42);
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  auto r = s.rt({"exec", "--user", "0", s.id, "pwd"});
  require_ok(r);
  CHECK(r.out == "/home42\n");
}

TEST_CASE("cwd: neither root of a user namespace nor the user may enter it: runc's error", "[cwd][userns]") {
  Sandbox s("cwd-denied");
  use_user_namespace(s);
  // Owned by the host's root, unmapped in the container: its root has no override there.
  make_private_dir(s, "locked");
  s.config["process"]["cwd"] = "/locked";
  set_user(s, 1000, 1000);
  s.sh("pwd");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("chdir to cwd (\"/locked\") set in config.json failed: permission denied"));
}

// ---- the terminal's owner (tty.bats "tty owner") -----------------------------------------------

namespace {
const char* kStatTty = "stat -c %u:%g $(tty)";
}  // namespace

TEST_CASE("terminal: run gives the pty to the process user, group tty (5)", "[terminal]") {
  HostPty host;
  auto [uid, gid, want] = GENERATE(table<int, int, std::string>({{0, 0, "0:5"}, {1000, 100, "1000:5"}}));
  Sandbox s("tty-owner-run");
  s.config["process"]["terminal"] = true;
  set_user(s, uid, gid);
  s.sh(kStatTty);
  auto r = s.run({}, {.stdin_path = host.slave, .timeout = 30s});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(line_set(r.out) == std::set<std::string>{want});
}

TEST_CASE("terminal: exec -t gives the pty to the exec'd user, group tty (5)", "[terminal][exec]") {
  HostPty host;
  auto [user, want] = GENERATE(table<std::string, std::string>({{"0:0", "0:5"}, {"1000:100", "1000:5"}}));
  Sandbox s("tty-owner-exec");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  auto r = s.rt({"exec", "-t", "--user", user, s.id, "sh", "-c", kStatTty}, {.stdin_path = host.slave});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(line_set(r.out) == std::set<std::string>{want});
}

// ---- a read-only /dev ----------------------------------------------------------------------------

TEST_CASE("mounts: a read-only /dev still gets its nodes and links and /dev/pts and console", "[mounts][devices]") {
  Sandbox s("dev-ro");
  bool found = false;
  for (auto& m : s.config["mounts"])
    if (m["destination"] == "/dev") {
      m["options"].push_back("ro");
      found = true;
    }
  REQUIRE(found);
  HostPty host;
  s.config["process"]["terminal"] = true;
  s.sh("grep ' /dev ' /proc/self/mountinfo | cut -d' ' -f6; test -c /dev/null && echo null-ok; "
       "readlink /dev/fd; test -c /dev/pts/ptmx && echo pts-ok; test -c /dev/console && echo console-ok; "
       "touch /dev/new 2>&1 | grep -o 'Read-only file system'");
  auto r = s.run({}, {.stdin_path = host.slave, .timeout = 30s});
  INFO(r.describe());
  CHECK(r.code == 0);
  auto got = line_set(r.out);
  CHECK(got.count("null-ok"));
  CHECK(got.count("/proc/self/fd"));
  CHECK(got.count("pts-ok"));
  CHECK(got.count("console-ok"));
  CHECK(got.count("Read-only file system"));
  CHECK(std::any_of(got.begin(), got.end(), [](const std::string& l) { return has_option(l, "ro"); }));
}

// ---- mount options -----------------------------------------------------------------------------

namespace {

// mounts_recursive.bats's volume: a host tmpfs with a file, and a second tmpfs mounted below
// it; both unmounted on scope exit (before the Sandbox that holds them goes).
struct NestedVolume {
  fs::path top;
  explicit NestedVolume(const fs::path& at) : top(at) {
    fs::create_directories(top);
    REQUIRE(mount("none", top.c_str(), "tmpfs", 0, nullptr) == 0);
    write_file(top / "foo", "foo\n");
    fs::create_directory(top / "subvol");
    REQUIRE(mount("none", (top / "subvol").c_str(), "tmpfs", 0, nullptr) == 0);
    write_file(top / "subvol" / "bar", "bar\n");
  }
  ~NestedVolume() {
    umount2((top / "subvol").c_str(), MNT_DETACH);
    umount2(top.c_str(), MNT_DETACH);
  }
  NestedVolume(const NestedVolume&) = delete;
  NestedVolume& operator=(const NestedVolume&) = delete;
};

// The index the next mount added to `s` gets, for "/mounts/N/options".
std::string next_mount_index(const Sandbox& s) { return std::to_string(s.config["mounts"].size()); }

}  // namespace

TEST_CASE("mounts: rro makes a bind mount read-only with the mounts below it", "[mounts]") {
  // mounts_recursive.bats: "rbind,rro" and "rbind,ro,rro" are read-only down to the submount,
  // "rbind,ro" only at the top.
  auto [options, sub_read_only] = GENERATE(table<std::vector<std::string>, bool>(
      {{{"rbind", "rro"}, true}, {{"rbind", "ro", "rro"}, true}, {{"rbind", "ro"}, false}}));
  Sandbox s("mount-rro");
  NestedVolume volume(s.dir / "volume");
  s.add_mount("/mnt", "bind", volume.top.string(), options);
  s.sh("touch /mnt/foo 2>&1 | grep -o 'Read-only file system' || echo top-writable; "
       "touch /mnt/subvol/bar 2>&1 | grep -o 'Read-only file system' || echo sub-writable");
  auto r = run_ok(s);
  CHECK(r.out == std::string("Read-only file system\n") + (sub_read_only ? "Read-only file system\n" : "sub-writable\n"));
}

TEST_CASE("mounts: the other recursive options reach the mounts below", "[mounts]") {
  Sandbox s("mount-rflags");
  NestedVolume volume(s.dir / "volume");
  s.add_mount("/mnt", "bind", volume.top.string(), {"rbind", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rnosymfollow"});
  s.sh("cat /proc/self/mountinfo");
  auto r = run_ok(s);
  auto mounts = parse_mountinfo(r.out);
  for (const char* at : {"/mnt", "/mnt/subvol"}) {
    auto* m = find_mount(mounts, at);
    INFO(at << "\n" << r.out);
    REQUIRE(m);
    for (auto opt : {"rw", "nosuid", "nodev", "noexec", "noatime", "nosymfollow"}) CHECK(has_option(m->options, opt));
  }
}

TEST_CASE("mounts: nosymfollow is a mount flag and not tmpfs data", "[mounts]") {
  Sandbox s("mount-nosymfollow");
  s.add_mount("/mnt/t", "tmpfs", "tmpfs", {"nosymfollow", "size=1m"});
  s.sh("cat /proc/self/mountinfo");
  auto r = run_ok(s);
  auto mounts = parse_mountinfo(r.out);
  auto* m = find_mount(mounts, "/mnt/t");
  REQUIRE(m);
  CHECK(has_option(m->options, "nosymfollow"));
  CHECK(has_option(m->super_options, "size=1024k"));
}

TEST_CASE("mounts: an unknown mount option is refused naming its JSON path", "[mounts][errors][ocirun]") {
  Sandbox s("mount-unknown-option");
  fs::path src = s.host_dir("src");
  auto [type, source, options] = GENERATE_COPY(table<std::string, std::string, std::vector<std::string>>(
      {{"bind", src.string(), {"rbind", "x-bogus"}},
       {"bind", src.string(), {"bind", "size=1m"}},
       {"tmpfs", "tmpfs", {"nosuid", "x-bogus", "size=1m"}}}));
  const std::string index = next_mount_index(s);
  s.add_mount("/mnt/m", type, source, options);
  s.sh("true");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code != 0);
  const std::string bad = type == "bind" ? options[1] : "x-bogus";
  CHECK_THAT(r.err, Contains("config.json: /mounts/" + index + "/options: unknown mount option \"" + bad + "\""));
}

TEST_CASE("mounts: a value the filesystem refuses names the option", "[mounts][errors][ocirun]") {
  Sandbox s("mount-bad-value");
  const std::string index = next_mount_index(s);
  s.add_mount("/mnt/m", "tmpfs", "tmpfs", {"size=lots"});
  s.sh("true");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("config.json: /mounts/" + index + "/options: tmpfs refuses \"size=lots\""));
}

// ---- bind sources in a user namespace (userns.bats) --------------------------------------------

namespace {

// userns.bats's sources: bundle/source-NAME/dir/foo.txt, the top directory 0700 (host root's,
// out of reach of the container's root, host uid 100000), bound at /tmp/mount-N.
void add_inaccessible_sources(Sandbox& s) {
  for (const char* n : {"1", "2"}) {
    fs::path top = s.bundle / (std::string("source-inaccessible-") + n);
    fs::create_directories(top / "dir");
    write_file(top / "dir" / "foo.txt", "");
    fs::permissions(top, fs::perms::owner_all);
    s.add_mount(std::string("/tmp/mount-") + n, "bind", top.filename().string() + "/dir", {"bind"});
  }
}

}  // namespace

TEST_CASE("userns: bind sources only the host's root may reach are mounted (run and exec)", "[mounts][userns]") {
  // userns.bats "userns with 2 inaccessible mounts" and "userns with inaccessible mount + exec".
  Sandbox s("userns-inaccessible");
  use_user_namespace(s);
  add_inaccessible_sources(s);
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  auto r = s.rt({"exec", s.id, "stat", "-c", "%n", "/tmp/mount-1/foo.txt", "/tmp/mount-2/foo.txt"});
  require_ok(r);
  CHECK(r.out == "/tmp/mount-1/foo.txt\n/tmp/mount-2/foo.txt\n");
}

TEST_CASE("mounts: a relative bind source may not lead out of the bundle", "[mounts][ocirun]") {
  auto userns = GENERATE(false, true);
  Sandbox s("bind-source-escape");
  if (userns) use_user_namespace(s);
  fs::path outside = s.host_dir("outside");
  fs::create_symlink(outside, s.bundle / "link-out");
  const std::string index = next_mount_index(s);
  s.add_mount("/mnt/m", "bind", "link-out", {"bind"});
  s.sh("true");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("mounts[" + index + "]"));
  CHECK_THAT(r.err, Contains("source link-out: leads out of the bundle"));
}
