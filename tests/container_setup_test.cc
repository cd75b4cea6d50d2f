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
