// The security boundary (issue 4): real containers attacked the way the public advisories
// describe, through the runtime's CLI, each checked from the host. Runs on the integration
// harness (busybox bundles, a private copy of the rootfs per test).
//
// Anything a test plants "outside the container" lives in a temp dir the test made (under the
// sandbox or /tmp/ocirun-sec-*); no test targets a real host path.
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.h"
#include "rootfs.h"

#ifndef OCIRUN_TEST_DATA
#define OCIRUN_TEST_DATA "tests/data"
#endif

using namespace ocirun::it;
using Catch::Matchers::Contains;

namespace {

std::set<std::string> dir_entries(const fs::path& dir) {
  std::set<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// A writable /tmp of the container's own, so the rootfs can stay read-only.
void add_tmp(Sandbox& s) { s.add_mount("/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev", "size=4m"}); }

// A failed create must leave no state dir, no process and no mount under the sandbox.
void check_nothing_left(Sandbox& s) {
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK_THAT(s.rt({"state", s.id}).err, Contains("does not exist"));
  CHECK(eventually([] { return Subreaper::live_children().empty(); }, 5s));
  CHECK_FALSE(contains(read_file("/proc/self/mountinfo"), s.dir.string()));
}

// A directory under /tmp standing for "the host": what a malicious rootfs points its
// symlinks at. Removed (and unmounted, should anything land there) on scope exit.
struct HostDir {
  fs::path path;
  explicit HostDir(const std::string& name) {
    path = fs::path("/tmp") / ("ocirun-sec-" + name + "-" + std::to_string(getpid()));
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::create_directories(path);
    write_file(path / "marker", "untouched\n");
  }
  ~HostDir() {
    std::error_code ec;
    for (int i = 0; i < 8 && umount2(path.c_str(), MNT_DETACH) == 0; ++i) {
    }
    fs::remove_all(path, ec);
  }
  bool untouched() const {
    return dir_entries(path) == std::set<std::string>{"marker"} && read_file(path / "marker") == "untouched\n";
  }
  bool mounted() const {
    for (auto& m : parse_mountinfo(read_file("/proc/self/mountinfo")))
      if (m.mount_point == path.string() || m.mount_point.rfind(path.string() + "/", 0) == 0) return true;
    return false;
  }
};

// ---- seccomp helpers ---------------------------------------------------------------------------

json seccomp_rule(std::vector<std::string> names, const std::string& action, json extra = json::object()) {
  json r = {{"names", names}, {"action", action}};
  r.update(extra);
  return r;
}

json seccomp_profile(const std::string& default_action, std::vector<json> rules) {
  return {{"defaultAction", default_action}, {"syscalls", rules}};
}

// busybox's mkdir uses mkdir(2); a libc may use mkdirat(2): block both.
const std::vector<std::string> kMkdir = {"mkdir", "mkdirat"};

// A seccomp user-notification agent on a unix socket (linux.seccomp.listenerPath): takes the
// runtime's ContainerProcessState with a listener fd on each connection (one for the init,
// one per exec'd process), then answers every listener's notifications with `answer`
// (CONTINUE when unset) until destroyed.
class NotifyAgent {
 public:
  using Answer = std::function<void(const seccomp_notif&, seccomp_notif_resp&)>;

  NotifyAgent(const fs::path& p, Answer answer = {}) : path(p), answer_(std::move(answer)) {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof addr.sun_path);
    std::strcpy(addr.sun_path, path.c_str());
    REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listen_fd_, 4) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~NotifyAgent() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
    for (int fd : listeners_) ::close(fd);
    unlink(path.c_str());
  }

  fs::path path;
  std::string state_text(size_t i = 0) {  // the i-th connection's message
    std::lock_guard<std::mutex> l(mu_);
    return i < states_.size() ? states_[i] : "";
  }
  size_t connections() {
    std::lock_guard<std::mutex> l(mu_);
    return states_.size();
  }
  int fds_received() {
    std::lock_guard<std::mutex> l(mu_);
    return fds_;
  }
  std::vector<std::pair<pid_t, int>> seen() {  // (pid, syscall nr) of each notification
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  void accept_one() {
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return;
    Received got = receive_with_fds(conn, 65536);
    ::close(conn);
    // The listener is the one fd expected; any others are counted (fds_received) and closed.
    for (size_t i = 1; i < got.fds.size(); ++i) ::close(got.fds[i]);
    std::lock_guard<std::mutex> l(mu_);
    states_.push_back(got.data);
    fds_ += static_cast<int>(got.fds.size());
    if (!got.fds.empty()) listeners_.push_back(got.fds[0]);
  }

  void answer_one(int fd) {
    seccomp_notif req{};
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return;
    seccomp_notif_resp resp{};
    resp.id = req.id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    {
      std::lock_guard<std::mutex> l(mu_);
      seen_.push_back({static_cast<pid_t>(req.pid), req.data.nr});
    }
    if (answer_) answer_(req, resp);
    ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }

  void serve() {
    while (!stop_) {
      std::vector<pollfd> p{{listen_fd_, POLLIN, 0}};
      {
        std::lock_guard<std::mutex> l(mu_);
        for (int fd : listeners_) p.push_back({fd, POLLIN, 0});
      }
      if (poll(p.data(), p.size(), 100) <= 0) continue;
      if (p[0].revents & POLLIN) accept_one();
      for (size_t i = 1; i < p.size(); ++i) {
        if (p[i].revents & POLLIN) answer_one(p[i].fd);
        if (p[i].revents & (POLLHUP | POLLERR)) {  // every process under this filter is gone
          std::lock_guard<std::mutex> l(mu_);
          std::erase(listeners_, p[i].fd);
          ::close(p[i].fd);
        }
      }
    }
  }

  Answer answer_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<int> listeners_;
  std::vector<std::string> states_;
  int fds_ = 0;
  std::vector<std::pair<pid_t, int>> seen_;
};

// A profile that allows everything but sends the syscalls `names` to the agent listening at
// `listener` (SCMP_ACT_NOTIFY, linux.seccomp.listenerPath).
json notify_profile(std::vector<std::string> names, const fs::path& listener) {
  json profile = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(std::move(names), "SCMP_ACT_NOTIFY")});
  profile["listenerPath"] = listener.string();
  return profile;
}

// The agent's answer in the mkdir tests: the first mkdir goes through (CONTINUE), every later
// one fails with EDQUOT. `mkdirs` counts them.
NotifyAgent::Answer first_mkdir_only(std::atomic<int>& mkdirs) {
  return [&mkdirs](const seccomp_notif& req, seccomp_notif_resp& resp) {
    if ((req.data.nr == SYS_mkdir || req.data.nr == SYS_mkdirat) && mkdirs++ > 0) {
      resp.flags = 0;
      resp.error = -EDQUOT;
    }
  };
}

// A sandbox (with a /tmp) whose mkdir and mkdirat go to an agent answering first_mkdir_only.
struct MkdirNotifyBox {
  Sandbox s;
  std::atomic<int> mkdirs{0};
  NotifyAgent agent;
  MkdirNotifyBox(const std::string& name, bool no_new_privileges)
      : s(name), agent(s.dir / "agent.sock", first_mkdir_only(mkdirs)) {
    add_tmp(s);
    s.config["process"]["noNewPrivileges"] = no_new_privileges;
    s.config["linux"]["seccomp"] = notify_profile(kMkdir, agent.path);
  }
};

}  // namespace

// ================================================================================================
// seccomp, end to end
// ================================================================================================

TEST_CASE("seccomp: a blocked syscall fails inside with the rule's errnoRet", "[seccomp]") {
  bool nnp = GENERATE(true, false);
  INFO("noNewPrivileges " << nnp);
  Sandbox s("seccomp-errno");
  add_tmp(s);
  s.config["process"]["noNewPrivileges"] = nnp;
  // Without no_new_privs, loading needs CAP_SYS_ADMIN: a non-root user with no capabilities
  // shows the filter went on before the identity and capabilities were dropped.
  if (!nnp) {
    s.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    for (auto set : {"bounding", "effective", "permitted", "inheritable", "ambient"})
      s.config["process"]["capabilities"][set] = json::array();
  }
  s.config["linux"]["seccomp"] =
      seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_ERRNO", {{"errnoRet", 38}})});
  s.sh("mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touched; cat /proc/self/status");
  auto r = run_ok(s);
  INFO(r.describe());
  CHECK_THAT(r.err, Contains("Function not implemented"));
  CHECK_THAT(r.out, Contains("rc=1") && Contains("touched"));
  CHECK(status_field(r.out, "Seccomp") == "2");
  CHECK(status_field(r.out, "NoNewPrivs") == (nnp ? "1" : "0"));
  if (!nnp) CHECK(status_field(r.out, "Uid") == "1000 1000 1000 1000");
}

TEST_CASE("seccomp: with noNewPrivileges the filter goes on after the runtime's own setup syscalls", "[seccomp][exec]") {
  // Loaded as late as possible: the uid switch, capset, chdir, umask, prctl and close_range the
  // runtime makes for the process all run before it, so a profile denying them all still
  // starts the program (create and exec); only the program meets the filter.
  Sandbox s("seccomp-late");
  add_tmp(s);
  s.config["process"]["noNewPrivileges"] = true;
  s.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  s.config["process"]["cwd"] = "/tmp";
  s.config["linux"]["seccomp"] = seccomp_profile(
      "SCMP_ACT_ALLOW", {seccomp_rule({"setresuid", "setresgid", "setgroups", "setuid", "setgid", "capset", "chdir", "fchdir",
                                       "umask", "prctl", "close_range", "fcntl"},
                                      "SCMP_ACT_ERRNO", {{"errnoRet", 38}})});
  s.sh("id -u; pwd; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; cd / ; echo cd=$?; exec sleep 30");
  require_ok(s.create());
  require_ok(s.start());
  REQUIRE(eventually([&] { return contains(s.output(), "cd="); }, 10s));
  INFO(s.output() << s.errors());
  CHECK(lines(s.output()) == std::vector<std::string>{"1000", "/tmp", "NoNewPrivs:\t1", "Seccomp:\t2", "cd=2"});
  auto r = s.rt({"exec", s.id, "sh", "-c", "id -u; pwd; cd /; echo cd=$?"});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(lines(r.out) == std::vector<std::string>{"1000", "/tmp", "cd=2"});
  CHECK_THAT(r.err, Contains("Function not implemented"));
}

TEST_CASE("seccomp: a profile denying what the runtime itself uses still starts the program, create and exec",
          "[seccomp][exec]") {
  // Nothing of the runtime's may run under the user's filter but the program's execve (the
  // validation suite's linux_seccomp denies getcwd). The probe makes the one denied syscall
  // and exits with its errno: 42 is the filter's answer.
  bool nnp = GENERATE(true, false);
  std::string name = GENERATE(as<std::string>{}, "getcwd", "close", "fstat", "fcntl", "write", "getpid",
                              "rt_sigprocmask", "prctl", "close_range");
  INFO("noNewPrivileges " << nnp << ", denied: " << name);
  Sandbox s("seccomp-runtime-syscalls");
  fs::copy_file(OCIRUN_SYSCALL_PROBE, s.rootfs / "probe", fs::copy_options::overwrite_existing);
  s.config["process"]["noNewPrivileges"] = nnp;
  // Without no_new_privs the load needs CAP_SYS_ADMIN, which this user has not: the runtime's.
  s.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  s.config["process"]["cwd"] = "/";
  s.config["process"]["args"] = {"/probe", name};
  s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule({name}, "SCMP_ACT_ERRNO", {{"errnoRet", 42}})});
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 42);
  // exec: the process exec'd into a container under the same filter.
  s.config["process"]["args"] = {"sleep", "1000"};
  s.id = s.new_id();
  auto d = s.run_detached();
  INFO(d.describe());
  REQUIRE(d.code == 0);
  auto e = s.rt({"exec", s.id, "/probe", name});
  INFO(e.describe());
  CHECK(e.code == 42);
}

TEST_CASE("seccomp: ERRNO without errnoRet is EPERM, defaultErrnoRet sets the default's errno", "[seccomp]") {
  Sandbox s("seccomp-eperm");
  add_tmp(s);
  SECTION("rule") {
    s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_ERRNO")});
    s.sh("mkdir /tmp/x; echo rc=$?");
    auto r = run_ok(s);
    CHECK_THAT(r.err, Contains("Operation not permitted"));
    CHECK_THAT(r.out, Contains("rc=1"));
  }
  SECTION("default") {
    // Docker-like: everything is denied except the fixture's allow list; mkdir is not in it here.
    json profile = json::parse(read_file(fs::path(OCIRUN_TEST_DATA) / "seccomp-docker-like.json"));
    auto& rules = profile["syscalls"];
    rules.erase(std::remove_if(rules.begin(), rules.end(),
                               [](const json& r) { return r["names"][0] == "mkdir" || r["names"][0] == "mkdirat"; }),
                rules.end());
    profile["defaultErrnoRet"] = 122;  // EDQUOT
    s.config["linux"]["seccomp"] = profile;
    s.sh("mkdir /tmp/x; echo rc=$?; echo still-running");
    auto r = run_ok(s);
    CHECK_THAT(r.err, Contains("Disk quota exceeded"));
    CHECK_THAT(r.out, Contains("rc=1") && Contains("still-running"));
  }
}

TEST_CASE("seccomp: argument conditions block only the matching values", "[seccomp]") {
  Sandbox s("seccomp-args");
  add_tmp(s);
  // chmod to a world-writable mode (mode & 0002) is refused; an exact mode of 0600 too.
  json masked = {{"args", {{{"index", 1}, {"value", 2}, {"valueTwo", 2}, {"op", "SCMP_CMP_MASKED_EQ"}}}}};
  json masked_at = {{"args", {{{"index", 2}, {"value", 2}, {"valueTwo", 2}, {"op", "SCMP_CMP_MASKED_EQ"}}}}};
  json exact = {{"args", {{{"index", 1}, {"value", 0600}, {"op", "SCMP_CMP_EQ"}}}}};
  json exact_at = {{"args", {{{"index", 2}, {"value", 0600}, {"op", "SCMP_CMP_EQ"}}}}};
  s.config["linux"]["seccomp"] = seccomp_profile(
      "SCMP_ACT_ALLOW", {seccomp_rule({"chmod"}, "SCMP_ACT_ERRNO", masked), seccomp_rule({"fchmodat"}, "SCMP_ACT_ERRNO", masked_at),
                         seccomp_rule({"chmod"}, "SCMP_ACT_ERRNO", exact), seccomp_rule({"fchmodat"}, "SCMP_ACT_ERRNO", exact_at)});
  s.sh("touch /tmp/f; for m in 644 666 755 757 600 640; do chmod $m /tmp/f; echo $m=$?; done; stat -c %a /tmp/f");
  auto r = run_ok(s);
  INFO(r.describe());
  auto out = lines(r.out);
  CHECK(out == std::vector<std::string>{"644=0", "666=1", "755=0", "757=1", "600=1", "640=0", "640"});
  CHECK_THAT(r.err, Contains("Operation not permitted"));
}

TEST_CASE("seccomp: a Docker-like default-deny profile of 362 rules runs busybox sh", "[seccomp]") {
  bool nnp = GENERATE(false, true);  // Docker leaves noNewPrivileges off
  INFO("noNewPrivileges " << nnp);
  json profile = json::parse(read_file(fs::path(OCIRUN_TEST_DATA) / "seccomp-docker-like.json"));
  REQUIRE(profile["syscalls"].size() >= 300);
  const std::string script =
      "echo start; ls / >/dev/null && echo ls; cat /etc/passwd | grep -c root; "
      "(echo sub; exit 3); echo sub=$?; sleep 0.1 && echo slept; "
      "mkdir /tmp/d && touch /tmp/d/f && ls /tmp/d && rm -r /tmp/d && echo files; "
      "ps -o pid,comm | grep -c sh; date +%Y >/dev/null && echo date; "
      "sh -c 'echo child' & wait; "
      "unshare -U true; echo unshare=$?";

  // Without a filter, unshare -U works: the profile is what refuses it below.
  Sandbox control("seccomp-docker-control");
  add_tmp(control);
  control.sh(script);
  auto c = control.run();
  INFO("control: " << c.describe());
  bool unshare_works = contains(c.out, "unshare=0");

  Sandbox s("seccomp-docker");
  add_tmp(s);
  s.config["process"]["noNewPrivileges"] = nnp;
  s.config["linux"]["seccomp"] = profile;
  s.sh(script);
  auto r = run_ok(s);
  INFO(r.describe());
  for (auto want : {"start", "ls", "sub", "sub=3", "slept", "f", "files", "date", "child"})
    CHECK_THAT(r.out, Contains(std::string(want) + "\n"));
  CHECK_FALSE(contains(r.err, "warning"));  // every name of the fixture is known
  if (unshare_works) {
    CHECK_THAT(r.out, Contains("unshare=1"));
    CHECK_THAT(r.err, Contains("Operation not permitted"));
  } else {
    WARN("unshare -U fails here even without a filter: that check is skipped");
  }
}

TEST_CASE("seccomp: KILL actions end the container with SIGSYS (exit 159)", "[seccomp]") {
  std::string action = GENERATE("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD");
  INFO(action);
  Sandbox s("seccomp-kill");
  add_tmp(s);
  s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, action)});
  s.config["process"]["args"] = {"mkdir", "/tmp/x"};
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 128 + SIGSYS);
}

TEST_CASE("seccomp: TRAP delivers SIGSYS to the process", "[seccomp]") {
  Sandbox s("seccomp-trap");
  add_tmp(s);
  s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_TRAP")});
  s.config["process"]["args"] = {"mkdir", "/tmp/x"};
  CHECK(s.run().code == 128 + SIGSYS);
}

TEST_CASE("seccomp: TRACE with no tracer fails the syscall with ENOSYS, LOG lets it through", "[seccomp]") {
  Sandbox s("seccomp-trace-log");
  add_tmp(s);
  s.config["linux"]["seccomp"] = seccomp_profile(
      "SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_TRACE"), seccomp_rule({"chmod", "fchmodat"}, "SCMP_ACT_LOG")});
  s.sh("mkdir /tmp/x; echo mkdir=$?; touch /tmp/f; chmod 600 /tmp/f; echo chmod=$?; stat -c %a /tmp/f");
  auto r = run_ok(s);
  INFO(r.describe());
  CHECK(lines(r.out) == std::vector<std::string>{"mkdir=1", "chmod=0", "600"});
  CHECK_THAT(r.err, Contains("Function not implemented"));
}

TEST_CASE("seccomp: an unknown syscall name is skipped with a warning", "[seccomp]") {
  Sandbox s("seccomp-unknown-name");
  add_tmp(s);
  std::vector<std::string> names = kMkdir;
  names.push_back("ocirun_no_such_syscall");
  s.config["linux"]["seccomp"] =
      seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(names, "SCMP_ACT_ERRNO", {{"errnoRet", 38}})});
  s.sh("mkdir /tmp/x; echo rc=$?");
  auto r = run_ok(s);
  INFO(r.describe());
  CHECK_THAT(r.err, Contains("warning") && Contains("/linux/seccomp/syscalls/0/names/2") &&
                        Contains("ocirun_no_such_syscall"));
  CHECK_THAT(r.err, Contains("Function not implemented"));
  CHECK_THAT(r.out, Contains("rc=1"));
}

TEST_CASE("seccomp: an unknown action, architecture, flag or operator fails create naming the field", "[seccomp]") {
  auto [variant, field] = GENERATE(table<std::string, std::string>({
      {"action", "/linux/seccomp/syscalls/0/action"},
      {"default", "/linux/seccomp/defaultAction"},
      {"arch", "/linux/seccomp/architectures/1"},
      {"flag", "/linux/seccomp/flags/0"},
      {"op", "/linux/seccomp/syscalls/0/args/0/op"},
      {"errnoRet", "/linux/seccomp/syscalls/0/errnoRet"},
      {"notify-without-listener", "/linux/seccomp/listenerPath"},
  }));
  INFO(variant);
  Subreaper reaper;
  Sandbox s("seccomp-bad-" + variant);
  json profile = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_ERRNO")});
  if (variant == "action") profile["syscalls"][0]["action"] = "SCMP_ACT_EXPLODE";
  if (variant == "default") profile["defaultAction"] = "SCMP_ACT_MAYBE";
  if (variant == "arch") profile["architectures"] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
  if (variant == "flag") profile["flags"] = {"SECCOMP_FILTER_FLAG_BOGUS"};
  if (variant == "op") profile["syscalls"][0]["args"] = {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_ABOUT"}}};
  if (variant == "errnoRet") profile["syscalls"][0] = seccomp_rule(kMkdir, "SCMP_ACT_KILL", {{"errnoRet", 1}});
  if (variant == "notify-without-listener") profile["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY";
  s.config["linux"]["seccomp"] = profile;
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains(field));
  check_nothing_left(s);
}

TEST_CASE("seccomp: flags LOG, SPEC_ALLOW and TSYNC reach the kernel", "[seccomp]") {
  Sandbox s("seccomp-flags");
  add_tmp(s);
  s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_ERRNO", {{"errnoRet", 38}})});
  s.config["linux"]["seccomp"]["flags"] = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                            "SECCOMP_FILTER_FLAG_TSYNC"};
  s.sh("mkdir /tmp/x; echo rc=$?; cat /proc/self/status");
  auto r = run_ok(s);
  INFO(r.describe());
  CHECK_THAT(r.out, Contains("rc=1"));
  CHECK(status_field(r.out, "Seccomp") == "2");
  CHECK(status_field(r.out, "Seccomp_filters") == "1");
}

TEST_CASE("seccomp: NOTIFY sends the listener fd and the process state to listenerPath", "[seccomp][notify]") {
  bool nnp = GENERATE(true, false);
  INFO("noNewPrivileges " << nnp);
  // The first mkdir goes through (CONTINUE), every later one fails with EDQUOT.
  MkdirNotifyBox box("seccomp-notify", nnp);
  // Plain references: clang before 16 cannot capture a structured binding in a lambda (P1091).
  Sandbox& s = box.s;
  std::atomic<int>& mkdirs = box.mkdirs;
  NotifyAgent& agent = box.agent;
  s.config["linux"]["seccomp"]["listenerMetadata"] = "MKDIR=first-only";
  s.config["annotations"] = {{"org.ocirun.test", "notify"}};
  s.sh("mkdir /tmp/a; echo a=$?; mkdir /tmp/b; echo b=$?; ls /tmp");

  require_ok(s.create());
  pid_t pid = s.state().value("pid", 0);
  REQUIRE(eventually([&] { return !agent.state_text().empty(); }, 10s));
  json st = json::parse(agent.state_text());
  INFO(st.dump(2));
  CHECK(agent.fds_received() == 1);
  CHECK(st["ociVersion"].is_string());
  CHECK(st["fds"] == json::array({"seccompFd"}));
  CHECK(st["pid"] == pid);
  CHECK(st["metadata"] == "MKDIR=first-only");
  CHECK(st["state"]["id"] == s.id);
  CHECK(st["state"]["pid"] == pid);
  CHECK(st["state"]["status"] == "creating");
  CHECK(st["state"]["bundle"] == s.bundle.string());
  CHECK(st["state"]["annotations"]["org.ocirun.test"] == "notify");

  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  INFO(s.output() << s.errors());
  CHECK(lines(s.output()) == std::vector<std::string>{"a=0", "b=1", "a"});
  CHECK_THAT(s.errors(), Contains("Disk quota exceeded"));
  CHECK(mkdirs == 2);
}

TEST_CASE("seccomp: NOTIFY on syscalls the init itself makes after loading the filter", "[seccomp][notify]") {
  // A NOTIFY filter goes on before Ready (its listener must reach create): what the init does
  // after that (closing fds on its way to `start`) reaches the agent too, which already holds
  // the listener and lets it through. The uid switch, chdir and capset come before the load.
  Sandbox s("seccomp-notify-init");
  NotifyAgent agent(s.dir / "agent.sock");
  s.config["process"]["noNewPrivileges"] = false;
  s.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  s.config["process"]["cwd"] = "/home/user";
  s.config["linux"]["seccomp"] =
      notify_profile({"chdir", "fchdir", "setresuid", "setresgid", "capset", "close"}, agent.path);
  s.sh("pwd; id -u");
  auto r = run_ok(s);
  CHECK(r.out == "/home/user\n1000\n");
  CHECK(agent.seen().size() >= 1);
}

TEST_CASE("seccomp: NOTIFY with nobody at listenerPath fails create and leaves nothing", "[seccomp][notify]") {
  Subreaper reaper;
  Sandbox s("seccomp-notify-nobody");
  s.config["linux"]["seccomp"] = notify_profile(kMkdir, s.dir / "nobody.sock");
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("listenerPath"));
  CHECK_THAT(r.err, Contains("failed to connect with seccomp agent"));  // runc's words (its "no seccompagent" test)
  check_nothing_left(s);
}

TEST_CASE("seccomp: NOTIFY: exec sends the exec'd process's listener and state to listenerPath", "[seccomp][notify][exec]") {
  bool nnp = GENERATE(true, false);
  INFO("noNewPrivileges " << nnp);
  MkdirNotifyBox box("seccomp-notify-exec", nnp);
  // Plain references: clang before 16 cannot capture a structured binding in a lambda (P1091).
  Sandbox& s = box.s;
  std::atomic<int>& mkdirs = box.mkdirs;
  NotifyAgent& agent = box.agent;
  s.config["process"]["args"] = {"sleep", "30"};
  s.config["linux"]["seccomp"]["listenerMetadata"] = "exec-test";
  require_ok(s.create());
  require_ok(s.start());
  const pid_t init = s.state().value("pid", 0);
  REQUIRE(eventually([&] { return agent.connections() == 1; }, 10s));

  // One process, two mkdirs: the agent lets the first through and fails the second.
  auto r = s.rt({"exec", s.id, "mkdir", "/tmp/a", "/tmp/b"});
  INFO(r.describe());
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Contains("/tmp/b") && Contains("Disk quota exceeded"));
  REQUIRE(agent.connections() == 2);
  CHECK(agent.fds_received() == 2);
  json st = json::parse(agent.state_text(1));
  INFO(st.dump(2));
  CHECK(st["fds"] == json::array({"seccompFd"}));
  CHECK(st["metadata"] == "exec-test");
  CHECK(st["state"]["id"] == s.id);
  CHECK(st["state"]["pid"] == init);
  CHECK(st["state"]["status"] == "running");
  // The exec'd process is the one the agent heard from, not the init.
  const pid_t exec_pid = st["pid"].get<pid_t>();
  CHECK(exec_pid != init);
  auto seen = agent.seen();
  CHECK(std::count_if(seen.begin(), seen.end(), [&](auto& n) { return n.first == exec_pid; }) == 2);
  auto ls = s.rt({"exec", s.id, "ls", "/tmp"});
  CHECK(ls.out == "a\n");
  CHECK(mkdirs == 2);
}

// ================================================================================================
// Mount destinations stay inside the rootfs (CVE-2021-30465 class)
// ================================================================================================

namespace {

void remove_mount(json& config, const std::string& dest) {
  auto& m = config["mounts"];
  for (auto it = m.begin(); it != m.end();) it = (*it)["destination"] == dest ? m.erase(it) : it + 1;
}

// use_user_namespace, and /sys bound from the host.
void use_user_namespace_bind_sys(Sandbox& s) {
  use_user_namespace(s);
  // A user namespace cannot mount a new sysfs without its own network namespace: bind it.
  remove_mount(s.config, "/sys");
  s.add_mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
}

// The relative path from the rootfs's root to `target` ("../../..../tmp/x"), deep enough to
// climb out of any rootfs.
std::string escaping_relative(const fs::path& target) {
  std::string up;
  for (int i = 0; i < 24; ++i) up += "../";
  return up + target.relative_path().string();
}

}  // namespace

TEST_CASE("mounts: symlinks and .. in destinations resolve inside the rootfs", "[mounts]") {
  std::string variant = GENERATE("absolute-link", "relative-link", "dotdot", "bind-file", "link-in-middle");
  INFO(variant);
  HostDir host("dest-" + variant);
  Sandbox s("dest-" + variant);
  s.config["root"]["readonly"] = false;
  std::string dest;
  if (variant == "absolute-link" || variant == "bind-file") {
    fs::create_directory_symlink(host.path, s.rootfs / "evil");
    dest = "/evil/sub";
  } else if (variant == "relative-link") {
    fs::create_directory_symlink(escaping_relative(host.path), s.rootfs / "evil");
    dest = "/evil/sub";
  } else if (variant == "dotdot") {
    dest = "/tmp/" + escaping_relative(host.path) + "/sub";
  } else {  // a link in the middle of a path whose first part is real
    fs::create_directories(s.rootfs / "real");
    fs::create_directory_symlink("../../../../../../../../" + host.path.relative_path().string(), s.rootfs / "real" / "up");
    dest = "/real/up/sub";
  }
  if (variant == "bind-file") {
    write_file(s.dir / "payload", "payload\n");
    s.add_mount("/evil/marker", "bind", (s.dir / "payload").string(), {"bind", "ro"});
    s.sh("cat /evil/marker; cat /proc/self/mountinfo");
  } else {
    s.add_mount(dest, "tmpfs", "tmpfs", {"size=1m"});
    s.sh("touch " + dest + "/escaped && echo touched; cat /proc/self/mountinfo");
  }
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  // Nothing was mounted or created on the "host"; the path was followed inside the rootfs.
  CHECK(host.untouched());
  CHECK_FALSE(host.mounted());
  CHECK(fs::exists(s.rootfs / host.path.relative_path()));
  if (variant == "bind-file")
    CHECK_THAT(r.out, Contains("payload"));
  else
    CHECK_THAT(r.out, Contains("touched"));
}

TEST_CASE("mounts: a symlink loop in a destination is a clear error", "[mounts]") {
  Subreaper reaper;
  Sandbox s("dest-loop");
  fs::create_symlink("/loop2", s.rootfs / "loop1");
  fs::create_symlink("loop1", s.rootfs / "loop2");
  s.add_mount("/loop1/x", "tmpfs", "tmpfs", {});
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("/loop1/x") && Contains("Too many levels of symbolic links"));
  check_nothing_left(s);
}

TEST_CASE("mounts: a symlink swapped in during create never sends a mount to the host", "[mounts][race]") {
  HostDir host("swap");
  Sandbox s("dest-swap");
  s.config["root"]["readonly"] = false;
  s.add_mount("/racy/a/b", "tmpfs", "tmpfs", {"size=1m"});
  write_file(s.dir / "payload", "payload\n");
  s.add_mount("/racy/f", "bind", (s.dir / "payload").string(), {"bind", "ro"});
  s.write_config();
  // The attacker: /racy flips between a real directory and a link to the host directory.
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    const fs::path racy = s.rootfs / "racy", link = s.rootfs / "racy-link", dir = s.rootfs / "racy-dir";
    std::error_code ec;
    fs::create_directory_symlink(host.path, link, ec);
    fs::create_directories(dir, ec);
    while (!stop) {
      ::renameat2(AT_FDCWD, link.c_str(), AT_FDCWD, racy.c_str(), 0);
      ::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, racy.c_str(), RENAME_EXCHANGE);
      ::renameat2(AT_FDCWD, racy.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE);
      ::renameat2(AT_FDCWD, racy.c_str(), AT_FDCWD, link.c_str(), RENAME_NOREPLACE);
    }
  });
  int created = 0;
  for (int i = 0; i < 15; ++i) {
    std::string cid = s.new_id();
    auto r = s.rt({"create", "--bundle", s.bundle.string(), cid},
                  {.stdout_file = (s.dir / "out").string(), .stderr_file = (s.dir / "err").string()});
    if (r.code == 0) ++created;
    s.rt({"delete", "--force", cid});
  }
  stop = true;
  flipper.join();
  INFO("created " << created << " of 15");
  CHECK(host.untouched());
  CHECK_FALSE(host.mounted());
}

TEST_CASE("mounts: a read-only bind stays read-only when its destination leads elsewhere after the mount", "[mounts]") {
  // Deterministic stand-in for a symlink swapped in by a second container sharing the
  // volume: the volume itself holds the link. "/ro/s/.." is /ro in the image; with the volume
  // on /ro, "s" is the volume's link to "/", so the same name then leads to the container's
  // root. A runtime that looks the destination up again to remount it read-only makes the
  // root read-only and leaves the volume writable.
  Sandbox s("ro-bind-relookup");
  s.config["root"]["readonly"] = false;
  fs::path volume = s.host_dir("volume");
  fs::create_directory_symlink("/", volume / "s");
  fs::create_directories(s.rootfs / "ro" / "s");
  s.add_mount("/ro/s/..", "bind", volume.string(), {"bind", "ro"});
  s.sh("touch /ro/written 2>&1; echo ro=$?; touch /root-writable 2>&1; echo root=$?");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("ro=1") && Contains("Read-only file system"));
  CHECK_FALSE(fs::exists(volume / "written"));
  CHECK_THAT(r.out, Contains("root=0"));  // the root stays as configured (writable)
}

TEST_CASE("mounts: readonlyPaths and maskedPaths hold on a read-only root, a tmpfs can be read-only", "[mounts]") {
  // The steps after a mount through the mount's fd: the remounts of readonlyPaths, the
  // masks' shared tmpfs, mount options on new filesystems and propagation all still apply.
  Sandbox s("ro-paths");
  s.config["root"]["readonly"] = false;
  fs::create_directories(s.rootfs / "rodir" / "sub");
  fs::create_directories(s.rootfs / "m1");
  fs::create_directories(s.rootfs / "m2");
  write_file(s.rootfs / "secret", "secret\n");
  s.config["linux"]["readonlyPaths"] = {"/rodir"};
  s.config["linux"]["maskedPaths"] = {"/m1", "/m2", "/secret"};
  s.add_mount("/rotmp", "tmpfs", "tmpfs", {"ro", "nosuid", "size=1m", "mode=700", "rprivate"});
  s.add_mount("/shared", "tmpfs", "tmpfs", {"size=1m", "shared"});
  s.sh("touch /rodir/sub/x 2>&1; echo rodir=$?; touch /m1/x /m2/x 2>&1; echo masks=$?; cat /secret; echo secret=$?; "
       "touch /rotmp/x 2>&1; echo rotmp=$?; stat -c %a /rotmp; grep -E ' /(rotmp|shared|rodir|m1|m2) ' /proc/self/mountinfo");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("rodir=1") && Contains("masks=1") && Contains("rotmp=1"));
  CHECK_FALSE(contains(r.out, "secret\n"));
  CHECK_THAT(r.out, Contains("\n700\n"));
  auto mounts = parse_mountinfo(r.out);
  for (const char* p : {"/rotmp", "/rodir", "/m1", "/m2"}) {
    const MountInfo* m = find_mount(mounts, p);
    INFO(p);
    REQUIRE(m);
    CHECK(has_option(m->options, "ro"));
  }
  REQUIRE(find_mount(mounts, "/rotmp"));
  CHECK(has_option(find_mount(mounts, "/rotmp")->options, "nosuid"));
  REQUIRE(find_mount(mounts, "/shared"));
  CHECK_THAT(r.out, Contains("shared:"));
}

TEST_CASE("mounts: with --no-pivot no host procfs is left for a nested proc mount", "[mounts][nopivot]") {
  // The kernel lets a new user+pid namespace mount procfs only when a fully visible procfs
  // is already mounted in its mount namespace. The container's own /proc has masked paths;
  // with --no-pivot (MS_MOVE + chroot) the host's /proc must not stay mounted underneath.
  Sandbox s("nopivot-proc");
  // Docker's default capabilities include CAP_SETFCAP, which `unshare -r` needs to map uid 0.
  for (auto set : {"bounding", "effective", "permitted"}) s.config["process"]["capabilities"][set].push_back("CAP_SETFCAP");
  s.sh("unshare -mrpf sh -c 'echo inner=ok'; unshare -mrpf sh -c 'mount -t proc none /proc' 2>&1; echo proc=$?");
  auto r = s.run({"--no-pivot"});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("inner=ok"));  // namespaces work: the mount is what is refused
  CHECK_THAT(r.out, Contains("proc=1") && Contains("ermission denied"));
}

// ================================================================================================
// /proc and /sys (CVE-2019-16884, CVE-2023-27561, CVE-2025-52881 classes)
// ================================================================================================

TEST_CASE("proc/sys: a rootfs whose /proc or /sys is a symlink is refused", "[proc]") {
  auto [dir, link_kind] = GENERATE(table<std::string, std::string>({
      {"proc", "host"}, {"proc", "inside"}, {"sys", "host"}, {"sys", "inside"}}));
  INFO("/" << dir << " -> " << link_kind);
  Subreaper reaper;
  HostDir host("link-" + dir);
  Sandbox s("link-" + dir + "-" + link_kind);
  fs::remove_all(s.rootfs / dir);
  if (link_kind == "host") {
    fs::create_directory_symlink(host.path, s.rootfs / dir);
  } else {  // a fake proc inside the image, where the runtime's writes would land
    fs::create_directories(s.rootfs / "fake");
    fs::create_directory_symlink("/fake", s.rootfs / dir);
  }
  s.config["process"]["oomScoreAdj"] = 500;
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("/" + dir) && Contains("real directory"));
  // runc's words, which its suite ("mask paths [prohibit symlink /proc]") and scripts match.
  if (dir == "proc") CHECK_THAT(r.err, Contains("filesystem \"proc\" must be mounted on ordinary directory"));
  check_nothing_left(s);
  CHECK(host.untouched());
  CHECK_FALSE(host.mounted());
}

TEST_CASE("proc/sys: only procfs goes on /proc, only sysfs on /sys, nothing else under /proc", "[proc]") {
  auto tmpfs_on = [](std::string dest) {
    return [dest](Sandbox& s) {
      remove_mount(s.config, dest);
      s.add_mount(dest, "tmpfs", "tmpfs", {});
    };
  };
  auto c = GENERATE_COPY(values<std::string>({"tmpfs-on-proc", "bind-dir-on-proc", "tmpfs-on-sys", "bind-dir-on-sys",
                                               "tmpfs-under-proc", "bind-under-proc", "link-to-proc",
                                               "bind-sys-on-sys", "bind-proc-on-proc", "lxcfs-meminfo"}));
  INFO(c);
  Subreaper reaper;
  Sandbox s("procsys-" + c);
  fs::path fake = s.host_dir("fake");
  write_file(fake / "meminfo", "MemTotal: 1 kB\n");
  bool allowed = false;
  if (c == "tmpfs-on-proc") tmpfs_on("/proc")(s);
  if (c == "tmpfs-on-sys") tmpfs_on("/sys")(s);
  if (c == "bind-dir-on-proc") {
    remove_mount(s.config, "/proc");
    s.add_mount("/proc", "bind", fake.string(), {"rbind"});
  }
  if (c == "bind-dir-on-sys") {
    remove_mount(s.config, "/sys");
    s.add_mount("/sys", "bind", fake.string(), {"rbind"});
  }
  if (c == "tmpfs-under-proc") s.add_mount("/proc/sys", "tmpfs", "tmpfs", {});
  if (c == "bind-under-proc") s.add_mount("/proc/self/oom_score_adj", "bind", (fake / "meminfo").string(), {"bind"});
  if (c == "link-to-proc") {  // a symlink elsewhere in the image that leads to /proc
    fs::create_directory_symlink("/proc", s.rootfs / "myproc");
    s.add_mount("/myproc", "tmpfs", "tmpfs", {});
  }
  if (c == "bind-sys-on-sys") {  // rootless configs do this
    remove_mount(s.config, "/sys");
    s.add_mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
    allowed = true;
  }
  if (c == "bind-proc-on-proc") {
    remove_mount(s.config, "/proc");
    s.add_mount("/proc", "bind", "/proc", {"rbind"});
    allowed = true;
  }
  if (c == "lxcfs-meminfo") {
    s.add_mount("/proc/meminfo", "bind", (fake / "meminfo").string(), {"bind", "ro"});
    s.sh("cat /proc/meminfo");
    allowed = true;
  }
  auto r = s.create();
  INFO(r.describe());
  if (allowed) {
    CHECK(r.code == 0);
    if (c == "lxcfs-meminfo") {
      require_ok(s.start());
      REQUIRE(s.wait_status("stopped"));
      CHECK(s.output() == "MemTotal: 1 kB\n");
    }
  } else {
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("/proc") || Contains("/sys"));
    check_nothing_left(s);
  }
}

TEST_CASE("proc/sys: with no procfs at /proc, nothing is written to the image's /proc", "[proc]") {
  // sysctl goes through the container's /proc, checked to be a procfs: refused. oomScoreAdj is
  // set on stage 1 through the host's procfs before the container exists: applied for real.
  std::string what = GENERATE("oomScoreAdj", "sysctl");
  INFO(what);
  Subreaper reaper;
  Sandbox s("noproc-" + what);
  remove_mount(s.config, "/proc");
  // Masking binds through /proc/self/fd: without a /proc only the item under test may need it.
  s.config["linux"]["maskedPaths"] = json::array();
  s.config["linux"]["readonlyPaths"] = json::array();
  // The image's own "proc": plain files where the runtime would write.
  fs::create_directories(s.rootfs / "proc/self");
  fs::create_directories(s.rootfs / "proc/sys/net/ipv4");
  write_file(s.rootfs / "proc/self/oom_score_adj", "fake\n");
  write_file(s.rootfs / "proc/sys/net/ipv4/ip_forward", "fake\n");
  if (what == "oomScoreAdj")
    s.config["process"]["oomScoreAdj"] = 500;
  else
    s.config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  auto r = s.create();
  INFO(r.describe());
  if (what == "oomScoreAdj") {
    REQUIRE(r.code == 0);
    const pid_t pid = s.state().value("pid", 0);
    CHECK(trim(read_file("/proc/" + std::to_string(pid) + "/oom_score_adj")) == "500");
  } else {
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("not a procfs"));
    check_nothing_left(s);
  }
  CHECK(read_file(s.rootfs / "proc/self/oom_score_adj") == "fake\n");
  CHECK(read_file(s.rootfs / "proc/sys/net/ipv4/ip_forward") == "fake\n");
}

TEST_CASE("proc/sys: the procfs handle refuses a file with something mounted over it", "[proc]") {
  // In a private mount namespace, a file is bind-mounted over this process's oom_score_adj
  // (what a racing attacker does to redirect the runtime's write); the handle must see it.
  fs::path dir = fs::path("/tmp") / ("ocirun-sec-procfs-" + std::to_string(getpid()));
  fs::create_directories(dir);
  write_file(dir / "decoy", "decoy\n");
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      if (unshare(CLONE_NEWNS) < 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) _exit(10);
      std::string target = "/proc/" + std::to_string(getpid()) + "/oom_score_adj";
      auto procfs = ocirun::namespaces::open_procfs();
      // Control: an untouched file opens.
      ocirun::namespaces::open_proc_file(procfs.get(), "self/status", O_RDONLY);
      if (mount((dir / "decoy").c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0) _exit(11);
      try {
        ocirun::namespaces::write_proc_file(procfs.get(), "self/oom_score_adj", "500");
        code = 1;  // written through the bind mount
      } catch (const std::exception&) {
        code = 0;
      }
    } catch (const std::exception&) {
      code = 12;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::string decoy = read_file(dir / "decoy");
  fs::remove_all(dir);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(decoy == "decoy\n");
}

TEST_CASE("proc/sys: oomScoreAdj is set on the processes themselves (userns too), never through the container's /proc", "[proc][exec]") {
  std::string variant = GENERATE("plain", "userns", "fake-proc");
  INFO(variant);
  Sandbox s("exec-oom-" + variant);
  s.config["root"]["readonly"] = false;
  s.config["process"]["oomScoreAdj"] = 500;
  if (variant == "userns") use_user_namespace_bind_sys(s);
  if (variant == "fake-proc") {
    // A container root with CAP_SYS_ADMIN replaces its /proc with files of its own, where a
    // path-based write of the runtime would land instead of on the process.
    for (auto set : {"bounding", "effective", "permitted"}) s.config["process"]["capabilities"][set].push_back("CAP_SYS_ADMIN");
    s.sh("mount -t tmpfs tmpfs /proc && mkdir -p /proc/self && echo fake > /proc/self/oom_score_adj && "
         "touch /ready; exec sleep 30");
  } else {
    s.sh("touch /ready; exec sleep 30");
  }
  require_ok(s.create());
  require_ok(s.start());
  REQUIRE(eventually([&] { return fs::exists(s.rootfs / "ready"); }, 10s));
  const pid_t init = s.state().value("pid", 0);
  CHECK(trim(read_file("/proc/" + std::to_string(init) + "/oom_score_adj")) == "500");
  const fs::path pid_file = s.dir / "exec.pid";
  auto r = s.rt({"exec", "--detach", "--pid-file", pid_file.string(), s.id, "sleep", "30"});
  INFO(r.describe());
  REQUIRE(r.code == 0);
  const pid_t pid = std::stoi(read_file(pid_file));
  CHECK(trim(read_file("/proc/" + std::to_string(pid) + "/oom_score_adj")) == "500");
  if (variant == "fake-proc") {
    CHECK(read_file("/proc/" + std::to_string(init) + "/root/proc/self/oom_score_adj") == "fake\n");
  }
  ::kill(pid, SIGKILL);
}

// ================================================================================================
// /dev (CVE-2025-31133, CVE-2025-52565 classes)
// ================================================================================================

TEST_CASE("dev: a rootfs whose /dev is a symlink to the host gets nothing created there", "[dev]") {
  std::string variant = GENERATE("tmpfs-dev", "no-dev-mount", "userns");
  INFO(variant);
  HostDir host("devlink-" + variant);
  Sandbox s("devlink-" + variant);
  s.config["root"]["readonly"] = false;
  if (variant == "userns") use_user_namespace_bind_sys(s);
  if (variant == "no-dev-mount") remove_mount(s.config, "/dev");
  fs::remove_all(s.rootfs / "dev");
  fs::create_directory_symlink(host.path, s.rootfs / "dev");
  s.sh("echo x > /dev/null && head -c 3 /dev/zero | wc -c");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(r.out == "3\n");
  CHECK(host.untouched());
  CHECK_FALSE(host.mounted());
}

TEST_CASE("dev: device paths that are symlinks to host files are replaced, never followed", "[dev]") {
  std::string variant = GENERATE("mknod", "userns");
  INFO(variant);
  HostDir host("devnode-" + variant);
  Sandbox s("devnode-" + variant);
  s.config["root"]["readonly"] = false;
  if (variant == "userns") use_user_namespace_bind_sys(s);
  remove_mount(s.config, "/dev");  // the rootfs's own /dev is used as it is
  write_file(host.path / "victim", "victim\n");
  for (auto name : {"null", "zero", "tty", "console", "ptmx"}) fs::create_symlink(host.path / "victim", s.rootfs / "dev" / name);
  fs::create_directory_symlink(host.path, s.rootfs / "dev" / "fd");
  s.sh("stat -c '%F %t:%T' /dev/null /dev/zero; echo x > /dev/null; echo rc=$?");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("character special file 1:3") && Contains("character special file 1:5") && Contains("rc=0"));
  CHECK(read_file(host.path / "victim") == "victim\n");
  CHECK(dir_entries(host.path) == std::set<std::string>{"marker", "victim"});
  CHECK_FALSE(host.mounted());
  struct stat st {};
  REQUIRE(lstat((host.path / "victim").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
}

TEST_CASE("dev: /dev/null must be the real 1:3 device before it masks a path", "[dev]") {
  std::string fake_null = GENERATE("symlink", "file", "other-device", "real");
  INFO("/dev/null is a " << fake_null);
  Subreaper reaper;
  Sandbox s("devnull-" + fake_null);
  // /dev comes from a directory the image controls; a masked file is bound from its "null".
  fs::path dev = s.host_dir("fakedev");
  write_file(s.rootfs / "secret", "SECRET\n");
  if (fake_null == "symlink") fs::create_symlink("/secret", dev / "null");
  if (fake_null == "file") write_file(dev / "null", "SECRET\n");
  if (fake_null == "other-device") REQUIRE(mknod((dev / "null").c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0);
  if (fake_null == "real") REQUIRE(mknod((dev / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  remove_mount(s.config, "/dev");
  s.config["mounts"].insert(s.config["mounts"].begin() + 1,
                            json{{"destination", "/dev"}, {"type", "bind"}, {"source", dev.string()}, {"options", {"rbind"}}});
  s.config["linux"]["maskedPaths"] = {"/proc/timer_list", "/etc/hostname-masked"};
  write_file(s.rootfs / "etc/hostname-masked", "visible\n");
  s.sh("cat /proc/timer_list /etc/hostname-masked; echo done");
  auto r = s.create();
  INFO(r.describe());
  if (fake_null == "real") {
    require_ok(r);
    require_ok(s.start());
    REQUIRE(s.wait_status("stopped"));
    CHECK(s.output() == "done\n");  // both masked: empty
  } else {
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("/dev/null") && Contains("1:3"));
    check_nothing_left(s);
  }
}

TEST_CASE("dev: /dev/console is the container's pty, even over an image's symlink", "[dev][terminal]") {
  HostDir host("console");
  Sandbox s("console");
  s.config["root"]["readonly"] = false;
  remove_mount(s.config, "/dev");
  remove_mount(s.config, "/dev/pts");
  s.add_mount("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"});
  write_file(host.path / "victim", "victim\n");
  fs::create_symlink(host.path / "victim", s.rootfs / "dev" / "console");
  s.config["process"]["terminal"] = true;
  s.sh("stat -c '%t:%T' /dev/console; stat -L -c '%t:%T' /proc/self/fd/0; echo end");
  ConsoleSocket sock(s.dir / "console.sock");
  require_ok(s.create({}, {"--console-socket", sock.path.string()}));
  int master = sock.receive_fd();
  REQUIRE(master >= 0);
  require_ok(s.start());
  std::string out = read_all(master, 10s, "end");
  ::close(master);
  INFO(out);
  auto l = lines(out);
  REQUIRE(l.size() >= 2);
  CHECK(l[0] == l[1]);
  CHECK(l[0].rfind("88:", 0) == 0);  // 136 = 0x88: a pty slave
  CHECK(read_file(host.path / "victim") == "victim\n");
  CHECK_FALSE(host.mounted());
}

// ================================================================================================
// File descriptors and the working directory (CVE-2024-21626 class)
// ================================================================================================

namespace {
// fd number -> link target of every fd of `pid`, read from the host.
std::map<int, std::string> fds_of(pid_t pid) {
  std::map<int, std::string> out;
  for (auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    out[std::stoi(e.path().filename().string())] = readlink_str(e.path());
  return out;
}
}  // namespace

TEST_CASE("fds: no fd of the runtime reaches the container, created or running", "[fds]") {
  Sandbox s("fds-leak");
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  pid_t pid = s.state().value("pid", 0);
  REQUIRE(pid > 0);
  // The host's directories a leaked fd would open up (stdio, 0-2, are the harness's files).
  std::set<std::pair<dev_t, ino_t>> host_dirs;
  for (const fs::path& p : {fs::path("/"), fs::path("/proc"), s.dir, s.bundle, s.state_root, s.state_root / s.id}) {
    struct stat st {};
    if (stat(p.c_str(), &st) == 0) host_dirs.insert({st.st_dev, st.st_ino});
  }
  auto points_outside = [&](pid_t pid, int fd, const std::string& target) {
    if (fd <= 2) return false;
    struct stat st {};
    std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    if (stat(link.c_str(), &st) == 0 && host_dirs.count({st.st_dev, st.st_ino})) return true;
    return target.rfind(s.dir.string(), 0) == 0 && target.rfind(s.rootfs.string(), 0) != 0;
  };
  // Created: the init waits for start; what it holds must not be a way out either.
  for (auto& [fd, target] : fds_of(pid)) {
    INFO("created: fd " << fd << " -> " << target);
    CHECK_FALSE(points_outside(pid, fd, target));
  }
  require_ok(s.start());
  REQUIRE(s.status() == "running");
  auto fds = fds_of(pid);
  std::set<int> numbers;
  for (auto& [fd, target] : fds) {
    INFO("running: fd " << fd << " -> " << target);
    numbers.insert(fd);
    CHECK_FALSE(points_outside(pid, fd, target));
  }
  CHECK(numbers == std::set<int>{0, 1, 2});
}

TEST_CASE("cwd: a cwd inside /proc (/proc/self/fd/N) is refused", "[cwd]") {
  std::string cwd = GENERATE("/proc/self/fd/3", "/proc/self/fd/7", "/proc/1/cwd", "/tmp/../proc/self/cwd", "/proc");
  INFO(cwd);
  Subreaper reaper;
  Sandbox s("cwd-proc");
  s.config["process"]["cwd"] = cwd;
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("/process/cwd") && Contains("inside /proc"));
  check_nothing_left(s);
}

TEST_CASE("cwd: exec --cwd inside /proc is refused too", "[cwd][exec]") {
  Sandbox s("cwd-exec");
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  require_ok(s.start());
  auto r = s.rt({"exec", "--cwd", "/proc/self/fd/5", s.id, "pwd"});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("inside /proc"));
}

TEST_CASE("cwd: a symlink in the image to /proc/self/fd/N stays inside the container", "[cwd]") {
  int n = GENERATE(3, 4, 5, 6, 7, 8);
  INFO("fd " << n);
  Sandbox s("cwd-link");
  fs::create_symlink("/proc/self/fd/" + std::to_string(n), s.rootfs / "work");
  s.config["process"]["cwd"] = "/work";
  s.sh("pwd; ls -a");
  auto r = s.run();
  INFO(r.describe());
  if (r.code == 0) {
    auto l = lines(r.out);
    REQUIRE_FALSE(l.empty());
    CHECK(l[0].rfind("/", 0) == 0);
    CHECK_FALSE(contains(r.out, "unreachable"));
    CHECK_FALSE(contains(r.out, "state"));  // the state dir's entries
  }
}

TEST_CASE("cwd: exec --cwd through an image symlink to /proc/self/fd/N never leaves the container", "[cwd][exec]") {
  // The exec'd process holds a host directory at fd 3 (--preserve-fds, as a caller may pass
  // one); the image's /work leads to it through /proc/self/fd/3. A plain chdir would follow the
  // magic link to the host.
  HostDir host("exec-cwd");
  Sandbox s("cwd-exec-link");
  s.config["root"]["readonly"] = false;
  s.config["process"]["args"] = {"sleep", "30"};
  fs::create_symlink("/proc/self/fd/3", s.rootfs / "work");
  require_ok(s.create());
  require_ok(s.start());
  int fd = open(host.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto r = s.rt({"exec", "--preserve-fds", "1", "--cwd", "/work", s.id, "sh", "-c", "pwd; ls; touch escaped"},
                {.extra_fds = {{fd, 3}}});
  ::close(fd);
  INFO(r.describe());
  CHECK(host.untouched());
  CHECK_FALSE(contains(r.out, "marker"));
  if (r.code == 0) {
    auto l = lines(r.out);
    REQUIRE_FALSE(l.empty());
    CHECK(l[0].rfind("/", 0) == 0);
  } else {
    CHECK_THAT(r.err, Contains("/work"));
  }
}

// ================================================================================================
// The runtime binary is out of the container's reach (CVE-2019-5736 class)
// ================================================================================================

namespace {
std::string sha_of(const fs::path& p) { return exec({"sha256sum", p.string()}).out.substr(0, 64); }

// Copies the runtime's dynamic loader and libraries into the rootfs, at the same paths: an
// image with a glibc in it, where the runtime's binary, if the kernel ever ran it as the
// container's process, would start (busybox alone has no loader for a dynamic one).
void add_runtime_libraries(Sandbox& s) {
  auto r = exec({"ldd", Env::get().runtime});
  if (contains(r.out + r.err, "not a dynamic executable")) return;  // static: runs in any image
  REQUIRE(r.code == 0);
  std::istringstream in(r.out);
  for (std::string word; in >> word;) {
    if (word.empty() || word[0] != '/') continue;
    fs::path dest = s.rootfs / fs::path(word).relative_path();
    fs::create_directories(dest.parent_path());
    fs::copy_file(fs::canonical(word), dest, fs::copy_options::overwrite_existing);
  }
}
}  // namespace

TEST_CASE("runtime binary: a '#!/proc/self/exe' program never runs the host's ocirun", "[exe]") {
  // The kernel resolves the interpreter during the runtime's own execve: were that the ocirun
  // binary, it would run as the container's process (here: print its version), and root in the
  // container could reopen it through /proc/PID/exe and overwrite it once ocirun exits.
  std::string shebang = GENERATE("#!/proc/self/exe --version\n", "#!/proc/1/exe --version\n");
  INFO(shebang);
  Sandbox s("exe-shebang");
  const std::string before = sha_of(Env::get().runtime);
  add_runtime_libraries(s);
  write_file(s.rootfs / "evil", shebang);
  fs::permissions(s.rootfs / "evil", fs::perms(0755));
  s.config["process"]["args"] = {"/evil"};
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_FALSE(contains(r.out + r.err, "ocirun version"));
  CHECK(sha_of(Env::get().runtime) == before);
}

TEST_CASE("runtime binary: the stub execs the program with its args, env, fds and exit code", "[exe]") {
  Sandbox s("exe-stub");
  s.config["process"]["env"].push_back("SPACED=a b  c");
  s.sh("echo \"$0|$1|$SPACED\"; ls /proc/self/fd | wc -l; readlink /proc/self/exe; exit 7");
  s.config["process"]["args"].push_back("argv1");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 7);
  // sh -c SCRIPT argv1: $0 is argv1. Only stdio and ls's own directory fd are open.
  CHECK(lines(r.out) == std::vector<std::string>{"argv1||a b  c", "4", "/bin/busybox"});
}

TEST_CASE("runtime binary: an exec failure after start is reported", "[exe]") {
  bool filtered = GENERATE(false, true);
  INFO("seccomp " << filtered);
  Sandbox s("exe-enoexec");
  write_file(s.rootfs / "notelf", "\x01\x02garbage");
  fs::permissions(s.rootfs / "notelf", fs::perms(0755));
  s.config["process"]["args"] = {"/notelf"};
  if (filtered) s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_ERRNO")});
  require_ok(s.create());
  auto r = s.start();
  INFO(r.describe());
  if (!filtered) {  // by start, which reads it from the init
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("exec /notelf") && (Contains("errno 8") || Contains("Exec format error")));
  } else {  // under a filter only execve runs after it: on the container's stderr, exit 127
    CHECK(r.code == 0);
    REQUIRE(s.wait_status("stopped"));
    CHECK_THAT(s.errors(), Contains("exec /notelf: errno 8"));
  }
}

TEST_CASE("runtime binary: a process exec'd into a created container cannot open /proc/1/exe", "[exe][exec]") {
  // Until `start`, PID 1 is a fork of ocirun that has already dropped to the container's
  // capabilities: the state an `exec` into the created container meets.
  Sandbox s("exe-created");
  const std::string before = sha_of(Env::get().runtime);
  s.config["process"]["args"] = {"true"};
  require_ok(s.create());
  auto r = s.rt({"exec", s.id, "sh", "-c",
                 "readlink /proc/1/exe; echo readlink=$?; cat /proc/1/exe >/dev/null; echo read=$?; "
                 "echo x >>/proc/1/exe; echo write=$?; readlink /proc/1/cwd; echo cwd=$?; "
                 "for f in /proc/1/fd/*; do readlink $f && echo LEAK; done; echo done"});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("readlink=1") && Contains("read=1") && Contains("write=1") && Contains("cwd=1"));
  CHECK_FALSE(contains(r.out, "LEAK"));
  CHECK_FALSE(contains(r.out, "ocirun"));
  CHECK(sha_of(Env::get().runtime) == before);
  require_ok(s.start());
  CHECK(s.wait_status("stopped"));
}

TEST_CASE("runtime binary: 'exec' of a '#!/proc/self/exe' program never runs the host's ocirun", "[exe][exec]") {
  // exec starts the program through the sealed stub, as the init does (exec_program in process.cc).
  Sandbox s("exe-exec-shebang");
  const std::string before = sha_of(Env::get().runtime);
  add_runtime_libraries(s);
  write_file(s.rootfs / "evil", "#!/proc/self/exe --version\n");
  fs::permissions(s.rootfs / "evil", fs::perms(0755));
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  require_ok(s.start());
  auto r = s.rt({"exec", s.id, "/evil"});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_FALSE(contains(r.out + r.err, "ocirun version"));
  CHECK(sha_of(Env::get().runtime) == before);
  // And a plain program's /proc/self/exe is the program.
  auto ok = s.rt({"exec", s.id, "readlink", "/proc/self/exe"});
  CHECK(ok.out == "/bin/busybox\n");
}

namespace {
// Whether a process with a container root's powers, all capabilities but CAP_SYS_PTRACE,
// reaches the host's ocirun binary through /proc/PID/exe: checked from a forked helper.
bool runtime_reachable_through_exe(pid_t pid, const std::string& runtime) {
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  pid_t helper = fork();
  if (helper == 0) {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2] = {};
    if (syscall(SYS_capget, &h, d) < 0) _exit(2);
    d[0].effective &= ~(1u << CAP_SYS_PTRACE);
    d[0].permitted &= ~(1u << CAP_SYS_PTRACE);
    if (syscall(SYS_capset, &h, d) < 0) _exit(2);
    char buf[4096];
    ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
    if (n < 0) _exit(1);
    buf[n] = 0;
    int fd = open(link.c_str(), O_RDONLY | O_CLOEXEC);
    _exit(fd >= 0 && runtime == buf ? 0 : 1);
  }
  int status = 0;
  waitpid(helper, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
}  // namespace

TEST_CASE("runtime binary: a process being exec'd is not dumpable before its execve", "[exe][exec][notify]") {
  // A NOTIFY rule on execve holds the exec'd process at its last step, the execve of the
  // program (through the exec stub), after it has dropped to the container's capabilities:
  // the agent then checks, as the container's root would, whether /proc/PID/exe opens onto
  // the host's ocirun.
  const std::string runtime = fs::canonical(Env::get().runtime).string();
  Sandbox s("exe-exec-dumpable");
  std::mutex mu;
  std::vector<std::pair<pid_t, bool>> checks;  // (pid, runtime reachable)
  NotifyAgent agent(s.dir / "agent.sock", [&](const seccomp_notif& req, seccomp_notif_resp&) {
    if (req.data.nr != SYS_execve) return;
    bool reachable = runtime_reachable_through_exe(static_cast<pid_t>(req.pid), runtime);
    std::lock_guard<std::mutex> l(mu);
    checks.push_back({static_cast<pid_t>(req.pid), reachable});
  });
  s.config["process"]["noNewPrivileges"] = false;
  s.config["process"]["args"] = {"sleep", "30"};
  s.config["linux"]["seccomp"] = notify_profile({"execve"}, agent.path);
  require_ok(s.create());
  require_ok(s.start());
  const pid_t init = s.state().value("pid", 0);
  auto r = s.rt({"exec", s.id, "true"});
  INFO(r.describe());
  CHECK(r.code == 0);
  std::lock_guard<std::mutex> l(mu);
  CHECK(std::count_if(checks.begin(), checks.end(), [&](auto& c) { return c.first != init; }) >= 1);
  for (auto& [pid, reachable] : checks) {
    INFO("pid " << pid << (pid == init ? " (init)" : " (exec)"));
    CHECK_FALSE(reachable);
  }
}

namespace {
// A copy of the runtime binary for one test to attack, so that an attack that works changes the
// copy, never the build's binary other tests run.
std::string private_runtime(Sandbox& s) {
  fs::path copy = s.dir / "ocirun-under-attack";
  fs::copy_file(fs::canonical(Env::get().runtime), copy);
  fs::permissions(copy, fs::perms(0755));
  return copy.string();
}

// The container's root gets CAP_SYS_PTRACE (`docker run --cap-add SYS_PTRACE`), with which
// non-dumpable processes' /proc/PID/exe opens.
void grant_ptrace(Sandbox& s) {
  for (const char* set : {"bounding", "effective", "permitted"})
    s.config["process"]["capabilities"][set].push_back("CAP_SYS_PTRACE");
}

// Reopens an fd of /proc/PID/exe for appending, as the attacker does once no process runs the
// binary any more (no ETXTBSY): 0 if the write went through, else the errno.
int append_through(int exe_fd) {
  std::string link = "/proc/self/fd/" + std::to_string(exe_fd);
  int fd = open(link.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = write(fd, "PWNED", 5) == 5 ? 0 : errno;
  close(fd);
  return err;
}
}  // namespace

TEST_CASE("runtime binary: with CAP_SYS_PTRACE, /proc/1/exe of a created container never writes the runtime", "[exe][exec]") {
  // CVE-2019-5736 through the init: a process exec'd into the created container holds
  // /proc/1/exe open; once `start` has made the init exec the program, nothing runs the
  // runtime binary and a write through the held fd would replace it on the host.
  Sandbox s("exe-ptrace-created");
  s.runtime = private_runtime(s);
  const std::string before = sha_of(s.runtime);
  grant_ptrace(s);
  fs::path ctl = add_ctl_dir(s);
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  auto attacker = s.rt({"exec", "-d", s.id, "sh", "-c",
                        "exec 3</proc/1/exe && touch /ctl/opened; while [ ! -e /ctl/go ]; do sleep 0.05; done; "
                        "echo PWNED >>/proc/self/fd/3; echo $? >/ctl/result"},
                       {.stdout_file = (s.dir / "attacker.out").string(), .stderr_file = (s.dir / "attacker.err").string()});
  require_ok(attacker);
  REQUIRE(eventually([&] { return fs::exists(ctl / "opened"); }, 5s));
  require_ok(s.start());
  REQUIRE(s.wait_status("running"));
  write_file(ctl / "go", "");
  REQUIRE(eventually([&] { return fs::exists(ctl / "result") && !read_file(ctl / "result").empty(); }, 10s));
  INFO("attacker: " << read_file(s.dir / "attacker.err"));
  CHECK(trim(read_file(ctl / "result")) != "0");
  CHECK(sha_of(s.runtime) == before);
}

TEST_CASE("runtime binary: /proc/PID/exe of the init and of an exec'd process is a read-only view", "[exe][exec][notify]") {
  // As the container's root with CAP_SYS_PTRACE would: a NOTIFY rule on execve holds each
  // process (the init at start, the exec'd one) at its execve, while the agent opens its
  // /proc/PID/exe. Once every command has exited, each held fd is reopened for writing.
  Sandbox s("exe-ptrace-exec");
  s.runtime = private_runtime(s);
  const std::string before = sha_of(s.runtime);
  std::mutex mu;
  std::vector<int> held;  // fds of /proc/PID/exe
  NotifyAgent agent(s.dir / "agent.sock", [&](const seccomp_notif& req, seccomp_notif_resp&) {
    if (req.data.nr != SYS_execve) return;
    int fd = open(("/proc/" + std::to_string(req.pid) + "/exe").c_str(), O_RDONLY | O_CLOEXEC);
    std::lock_guard<std::mutex> l(mu);
    if (fd >= 0) held.push_back(fd);
  });
  s.config["process"]["noNewPrivileges"] = false;
  s.config["process"]["args"] = {"sleep", "30"};
  s.config["linux"]["seccomp"] = notify_profile({"execve"}, agent.path);
  require_ok(s.create());
  require_ok(s.start());
  require_ok(s.rt({"exec", s.id, "true"}));
  require_ok(s.rt({"kill", s.id, "KILL"}));
  REQUIRE(s.wait_status("stopped"));
  std::lock_guard<std::mutex> l(mu);
  REQUIRE(held.size() >= 2);
  for (int fd : held) {
    CHECK(append_through(fd) != 0);
    close(fd);
  }
  CHECK(sha_of(s.runtime) == before);
}

// ================================================================================================
// Capabilities, no_new_privs and LSM labels (CVE-2022-29162 class)
// ================================================================================================

TEST_CASE("caps: inheritable stays empty unless configured", "[caps]") {
  Sandbox s("caps-inh");
  json caps = {"CAP_NET_BIND_SERVICE", "CAP_CHOWN"};
  s.config["process"]["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  s.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  s.sh("cat /proc/self/status");
  auto out = run_ok(s).out;
  CHECK(status_field(out, "CapInh") == "0000000000000000");
  CHECK(status_field(out, "CapAmb") == "0000000000000000");
  CHECK(status_field(out, "CapBnd") == "0000000000000401");
  // A non-root user keeps nothing across its execve without ambient or file capabilities.
  CHECK(status_field(out, "CapEff") == "0000000000000000");
}

TEST_CASE("caps: ambient capabilities reach a non-root user's program", "[caps]") {
  Sandbox s("caps-ambient");
  json caps = {"CAP_NET_BIND_SERVICE"};
  for (auto set : {"bounding", "effective", "permitted", "inheritable", "ambient"}) s.config["process"]["capabilities"][set] = caps;
  s.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  s.sh("cat /proc/self/status");
  auto out = run_ok(s).out;
  for (auto field : {"CapInh", "CapPrm", "CapEff", "CapAmb"}) {
    INFO(field);
    CHECK(status_field(out, field) == "0000000000000400");
  }
}

TEST_CASE("caps: an unknown name fails create", "[caps]") {
  auto [variant, want] = GENERATE(table<std::string, std::string>({
      {"unknown-name", "/process/capabilities/bounding/1"},
      {"not-a-bare-name", "/process/capabilities/effective/0"},
  }));
  INFO(variant);
  Subreaper reaper;
  Sandbox s("caps-bad-" + variant);
  json caps = {"CAP_NET_BIND_SERVICE"};
  for (auto set : {"bounding", "effective", "permitted", "inheritable"}) s.config["process"]["capabilities"][set] = caps;
  if (variant == "unknown-name") s.config["process"]["capabilities"]["bounding"] = {"CAP_NET_BIND_SERVICE", "CAP_PWN_HOST"};
  if (variant == "not-a-bare-name") s.config["process"]["capabilities"]["effective"] = {"cap_kill+ep"};
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains(want));
  check_nothing_left(s);
}

// As runc and crun: an ambient capability the kernel cannot raise (not in both permitted and
// inheritable) is left out, not an error. `runc spec` writes such a config.
TEST_CASE("caps: ambient without inheritable is left out, as runc and crun do", "[caps]") {
  Sandbox s("caps-ambient-partial");
  json caps = {"CAP_NET_BIND_SERVICE", "CAP_CHOWN"};
  for (auto set : {"bounding", "effective", "permitted", "ambient"}) s.config["process"]["capabilities"][set] = caps;
  s.config["process"]["capabilities"]["inheritable"] = {"CAP_NET_BIND_SERVICE"};
  s.sh("cat /proc/self/status");
  auto out = run_ok(s).out;
  CHECK(status_field(out, "CapAmb") == "0000000000000400");
  CHECK(status_field(out, "CapPrm") == "0000000000000401");
}

TEST_CASE("nnp: noNewPrivileges holds for processes exec'd into the container", "[caps][exec]") {
  bool nnp = GENERATE(true, false);
  Sandbox s("nnp-exec");
  s.config["process"]["noNewPrivileges"] = nnp;
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  require_ok(s.start());
  auto r = s.rt({"exec", s.id, "cat", "/proc/self/status"});
  INFO(r.describe());
  REQUIRE(r.code == 0);
  CHECK(status_field(r.out, "NoNewPrivs") == (nnp ? "1" : "0"));
  if (!nnp) {  // and --no-new-privs turns it on for one exec
    auto r2 = s.rt({"exec", "--no-new-privs", s.id, "cat", "/proc/self/status"});
    REQUIRE(r2.code == 0);
    CHECK(status_field(r2.out, "NoNewPrivs") == "1");
  }
}

TEST_CASE("nnp: exec --process keeps the container's noNewPrivileges unless it sets it, --no-new-privs adds it", "[caps][exec]") {
  auto [container_nnp, in_json, flag, want] = GENERATE(table<bool, std::string, bool, std::string>({
      {true, "absent", false, "1"},
      {false, "absent", true, "1"},
      {false, "false", true, "1"},
      {false, "true", false, "1"},
      {false, "absent", false, "0"},
      {true, "false", false, "0"},  // the caller's explicit choice, as runc takes it
  }));
  INFO("container " << container_nnp << ", process.json " << in_json << ", --no-new-privs " << flag);
  Sandbox s("nnp-exec-process");
  s.config["process"]["noNewPrivileges"] = container_nnp;
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  require_ok(s.start());
  json process = {{"args", {"cat", "/proc/self/status"}}, {"cwd", "/"}, {"user", {{"uid", 0}, {"gid", 0}}},
                  {"env", {"PATH=/bin:/usr/bin"}}};
  if (in_json != "absent") process["noNewPrivileges"] = in_json == "true";
  write_file(s.dir / "process.json", process.dump());
  std::vector<std::string> args = {"exec", "--process", (s.dir / "process.json").string()};
  if (flag) args.push_back("--no-new-privs");
  args.push_back(s.id);
  auto r = s.rt(args);
  INFO(r.describe());
  REQUIRE(r.code == 0);
  CHECK(status_field(r.out, "NoNewPrivs") == want);
}

TEST_CASE("caps: exec --cap with an unknown name fails and runs nothing", "[caps][exec]") {
  Sandbox s("caps-exec-unknown");
  s.config["root"]["readonly"] = false;
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  require_ok(s.start());
  auto r = s.rt({"exec", "--cap", "CAP_PWN_HOST", s.id, "touch", "/ran"});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("unknown capability") && Contains("CAP_PWN_HOST"));
  CHECK_FALSE(fs::exists(s.rootfs / "ran"));
}

TEST_CASE("lsm: an AppArmor profile or SELinux label on a host without the LSM fails create", "[lsm]") {
  bool apparmor = fs::exists("/sys/module/apparmor/parameters/enabled") &&
                  read_file("/sys/module/apparmor/parameters/enabled").rfind('Y', 0) == 0;
  bool selinux = fs::exists("/sys/fs/selinux/enforce");
  auto [variant, field] = GENERATE(table<std::string, std::string>({
      {"apparmor", "/process/apparmorProfile"},
      {"selinux", "/process/selinuxLabel"},
      {"mountLabel", "/linux/mountLabel"},
  }));
  INFO(variant);
  if ((variant == "apparmor" && apparmor) || (variant != "apparmor" && selinux)) {
    WARN("this host has the LSM: only the error path is tested here");
    return;
  }
  Subreaper reaper;
  Sandbox s("lsm-" + variant);
  if (variant == "apparmor") s.config["process"]["apparmorProfile"] = "ocirun-test-profile";
  if (variant == "selinux") s.config["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0:c1,c2";
  if (variant == "mountLabel") s.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2";
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains(field) && Contains("not enabled on this host"));
  check_nothing_left(s);
}

TEST_CASE("lsm: exec --apparmor, --process-label or a labelled process.json fails on a host without the LSM", "[lsm][exec]") {
  bool apparmor = fs::exists("/sys/module/apparmor/parameters/enabled") &&
                  read_file("/sys/module/apparmor/parameters/enabled").rfind('Y', 0) == 0;
  bool selinux = fs::exists("/sys/fs/selinux/enforce");
  auto [variant, field] = GENERATE(table<std::string, std::string>({
      {"--apparmor", "exec --apparmor"},
      {"--process-label", "exec --process-label"},
      {"json-apparmor", "/apparmorProfile"},
      {"json-selinux", "/selinuxLabel"},
  }));
  INFO(variant);
  if ((contains(variant, "apparmor") && apparmor) || (!contains(variant, "apparmor") && selinux)) {
    WARN("this host has the LSM: only the error path is tested here");
    return;
  }
  Sandbox s("lsm-exec");
  s.config["root"]["readonly"] = false;
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  require_ok(s.start());
  std::vector<std::string> args = {"exec"};
  if (variant == "--apparmor") args.insert(args.end(), {"--apparmor", "ocirun-test-profile"});
  if (variant == "--process-label") args.insert(args.end(), {"--process-label", "system_u:system_r:container_t:s0"});
  if (variant.rfind("json-", 0) == 0) {
    json process = {{"args", {"touch", "/ran"}}, {"cwd", "/"}, {"user", {{"uid", 0}, {"gid", 0}}}};
    if (variant == "json-apparmor") process["apparmorProfile"] = "ocirun-test-profile";
    if (variant == "json-selinux") process["selinuxLabel"] = "system_u:system_r:container_t:s0";
    write_file(s.dir / "process.json", process.dump());
    args.insert(args.end(), {"--process", (s.dir / "process.json").string(), s.id});
  } else {
    args.insert(args.end(), {s.id, "touch", "/ran"});
  }
  auto r = s.rt(args);
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains(field) && Contains("not enabled on this host"));
  CHECK_FALSE(fs::exists(s.rootfs / "ran"));  // the process never ran unconfined
}

// ================================================================================================
// --pid-file: never through a symlink a local user planted
// ================================================================================================

namespace {
// A file standing for a root-owned host file a local user wants overwritten.
fs::path plant_victim(Sandbox& s) {
  fs::path victim = s.dir / "victim";
  write_file(victim, "precious\n");
  return victim;
}
}  // namespace

TEST_CASE("pid-file: a symlink planted at the temp name is never followed (create and exec)", "[pidfile]") {
  Sandbox s("pidfile-tmp-link");
  s.config["process"]["args"] = {"sleep", "30"};
  const fs::path victim = plant_victim(s);
  const fs::path pid_file = s.dir / "ct.pid";
  fs::create_symlink(victim, s.dir / "ct.pid.tmp");
  auto r = s.create({}, {"--pid-file", pid_file.string()});
  INFO(r.describe() << s.errors());
  REQUIRE(r.code == 0);
  CHECK(read_file(victim) == "precious\n");
  CHECK(fs::is_symlink(s.dir / "ct.pid.tmp"));
  CHECK(read_file(pid_file) == std::to_string(state_pid(s)));
  CHECK((fs::status(pid_file).permissions() & fs::perms::all) == fs::perms(0644));

  require_ok(s.start());
  const fs::path exec_pid = s.dir / "exec.pid";
  fs::create_symlink(victim, s.dir / "exec.pid.tmp");
  auto e = s.rt({"exec", "--detach", "--pid-file", exec_pid.string(), s.id, "sleep", "30"});
  INFO(e.describe());
  REQUIRE(e.code == 0);
  CHECK(read_file(victim) == "precious\n");
  CHECK(std::stoi(read_file(exec_pid)) > 0);
}

TEST_CASE("pid-file: a symlink at the pid file's name fails create and exec naming --pid-file", "[pidfile]") {
  Subreaper reaper;
  Sandbox s("pidfile-final-link");
  s.config["process"]["args"] = {"sleep", "30"};
  const fs::path victim = plant_victim(s);
  const fs::path pid_file = s.dir / "ct.pid";
  fs::create_symlink(victim, pid_file);
  auto r = s.create({}, {"--pid-file", pid_file.string()});
  INFO(r.describe() << s.errors());
  CHECK(r.code != 0);
  CHECK_THAT(s.errors() + r.err, Contains("--pid-file") && Contains("symlink"));
  CHECK(read_file(victim) == "precious\n");
  CHECK(fs::is_symlink(pid_file));
  check_nothing_left(s);

  fs::remove(pid_file);
  require_ok(s.create());
  require_ok(s.start());
  const fs::path exec_pid = s.dir / "exec.pid";
  fs::create_symlink(victim, exec_pid);
  auto e = s.rt({"exec", "--detach", "--pid-file", exec_pid.string(), s.id, "sleep", "30"});
  INFO(e.describe());
  CHECK(e.code != 0);
  CHECK_THAT(e.err, Contains("--pid-file") && Contains("symlink"));
  CHECK(read_file(victim) == "precious\n");
  CHECK(fs::is_symlink(exec_pid));
}

// ================================================================================================
// The state root: private to root, whatever the umask
// ================================================================================================

namespace {
unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (lstat(p.c_str(), &st) < 0) return ~0U;
  return st.st_mode & 07777;
}
}  // namespace

TEST_CASE("state: the root, container dirs, state files, start socket and seccomp cache are root's only, under umask 000", "[state]") {
  Sandbox s("state-modes");
  s.config["process"]["args"] = {"sleep", "30"};
  s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_ERRNO")});
  const bool existing_root = GENERATE(false, true);
  INFO("state root made before by an older ocirun (0755): " << existing_root);
  if (existing_root) {
    fs::create_directories(s.state_root);
    fs::permissions(s.state_root, fs::perms(0755));
  }
  s.write_config();
  // The umask only in the runtime's process: sh sets it, then becomes the runtime.
  auto r = exec({"sh", "-c", "umask 000 && exec \"$@\"", "sh", Env::get().runtime, "--root", s.state_root.string(),
                 "create", "--bundle", s.bundle.string(), s.id},
                {.stdout_file = (s.dir / "out").string(), .stderr_file = (s.dir / "err").string()});
  INFO(r.describe());
  REQUIRE(r.code == 0);
  const fs::path ct = s.state_root / s.id;
  CHECK(mode_of(s.state_root) == 0700);
  CHECK(mode_of(ct) == 0700);
  for (auto& e : fs::directory_iterator(ct)) {
    INFO(e.path());
    CHECK(mode_of(e.path()) == 0600);  // state.json, cgroup.json, start.sock
  }
  CHECK(fs::exists(ct / "state.json"));
  CHECK(fs::is_socket(ct / "start.sock"));
  const fs::path cache = s.state_root / "~cache";
  REQUIRE(fs::exists(cache));
  CHECK(mode_of(cache) == 0700);
  for (auto& e : fs::recursive_directory_iterator(cache)) {
    INFO(e.path());
    CHECK(mode_of(e.path()) == (e.is_directory() ? 0700U : 0600U));
  }
}

// ================================================================================================
// cgroups: never take over (and later kill) processes the container did not start
// ================================================================================================

namespace {
// The hierarchies to plant a foreign cgroup in: a v1 one the runtime does not read pids from
// (memory) and the cgroup2 one (cgroup.kill), whichever this host has.
std::vector<fs::path> foreign_hierarchies() {
  std::vector<fs::path> out;
  for (const char* h : {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
    if (fs::exists(fs::path(h) / "cgroup.procs") && (out.empty() || std::string(h) != "/sys/fs/cgroup")) out.push_back(h);
  return out;
}

// A cgroup directory of the test's own in one hierarchy, with (or without) a sleeping helper
// in it; killed, reaped and removed at the end.
struct ForeignCgroup {
  std::string rel;     // the cgroupsPath
  fs::path dir;        // its directory in the chosen hierarchy
  pid_t helper = -1;
  ForeignCgroup(const std::string& name, const fs::path& hierarchy, bool with_helper) {
    rel = "/ocirun-test-" + name + "-" + std::to_string(getpid());
    dir = hierarchy / rel.substr(1);
    fs::create_directory(dir);
    if (!with_helper) return;
    helper = fork();
    if (helper == 0) {
      int fd = open((dir / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "0", 1) != 1) _exit(1);
      close(fd);
      execlp("sleep", "sleep", "60", nullptr);
      _exit(1);
    }
    REQUIRE(eventually([&] { return contains(read_file(dir / "cgroup.procs"), std::to_string(helper)); }, 5s));
  }
  ~ForeignCgroup() {
    if (helper > 0) {
      kill(helper, SIGKILL);
      waitpid(helper, nullptr, 0);
    }
    // Wherever a runtime may have made it.
    for (auto& e : fs::directory_iterator("/sys/fs/cgroup")) {
      std::error_code ec;
      fs::path d = e.path() / rel.substr(1);
      if (fs::is_directory(d, ec)) rmdir(d.c_str());
    }
    rmdir(dir.c_str());
  }
  bool helper_alive() const { return helper > 0 && !pid_gone(helper); }
};
}  // namespace

TEST_CASE("cgroups: a cgroupsPath that already holds processes is refused, and they live on", "[cgroups]") {
  Subreaper reaper;
  const fs::path hierarchy = GENERATE(from_range(foreign_hierarchies()));
  INFO("the helper's cgroup is in " << hierarchy);
  ForeignCgroup foreign("nonempty", hierarchy, true);
  Sandbox s("cgroup-nonempty");
  s.config["process"]["args"] = {"sleep", "30"};
  s.config["linux"]["cgroupsPath"] = foreign.rel;
  auto r = s.create();
  INFO(r.describe() << s.errors());
  CHECK(r.code != 0);
  CHECK_THAT(s.errors() + r.err, Contains("/linux/cgroupsPath") && Contains("container's cgroup is not empty: 1 process(es) found"));
  CHECK(foreign.helper_alive());
  CHECK(fs::is_directory(foreign.dir));
  // What a client does after a failed create: that must not kill the helper either.
  s.rt({"delete", "--force", s.id});
  CHECK(foreign.helper_alive());
  CHECK(fs::is_directory(foreign.dir));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
}

TEST_CASE("cgroups: an existing empty cgroup is reused and left in place at delete", "[cgroups]") {
  ForeignCgroup precreated("empty", foreign_hierarchies().front(), false);
  Sandbox s("cgroup-empty");
  s.config["process"]["args"] = {"true"};
  s.config["linux"]["cgroupsPath"] = precreated.rel;
  run_ok(s);
  CHECK(fs::is_directory(precreated.dir));
}

// ---- exec: the caller's terminal, session keyring and bundle stay out of reach ------------------

namespace {

// The operator's terminal: the runtime runs in a new session whose controlling terminal is a
// fresh pty (also its stdin), as from an interactive shell. The session leader, a fork of this
// test, outlives the runtime until destruction: a session loses its terminal when its leader
// exits, and a process `exec -d` left behind must be looked at while the terminal is there.
class OperatorTerminal {
 public:
  OperatorTerminal() {
    master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(master_ >= 0);
    REQUIRE(grantpt(master_) == 0);
    REQUIRE(unlockpt(master_) == 0);
    slave_path_ = ptsname(master_);
  }
  ~OperatorTerminal() {
    if (hold_ >= 0) close(hold_);  // the leader's cue to exit
    if (leader_ > 0) waitpid(leader_, nullptr, 0);
    close(master_);
  }
  OperatorTerminal(const OperatorTerminal&) = delete;
  OperatorTerminal& operator=(const OperatorTerminal&) = delete;

  // The runtime's exit code (-1 on timeout); stdout and stderr go to the files.
  int run(std::vector<std::string> args, const fs::path& out, const fs::path& err) {
    args.insert(args.begin(), Env::get().runtime);
    int status_pipe[2], hold_pipe[2];
    REQUIRE(pipe2(status_pipe, O_CLOEXEC) == 0);
    REQUIRE(pipe2(hold_pipe, O_CLOEXEC) == 0);
    leader_ = fork();
    REQUIRE(leader_ >= 0);
    if (leader_ == 0) {
      close(status_pipe[0]);
      close(hold_pipe[1]);  // else the leader would wait for its own end of the pipe
      lead_session(args, out, err, status_pipe[1], hold_pipe[0]);
    }
    close(status_pipe[1]);
    close(hold_pipe[0]);
    hold_ = hold_pipe[1];
    int code = -1;
    pollfd p{status_pipe[0], POLLIN, 0};
    if (poll(&p, 1, 30'000) == 1 && read(status_pipe[0], &code, sizeof code) != sizeof code) code = -1;
    close(status_pipe[0]);
    return code;
  }

 private:
  [[noreturn]] void lead_session(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
                                 int status_fd, int hold_fd) {
    setsid();
    int tty = open(slave_path_.c_str(), O_RDWR);  // the session's controlling terminal from now on
    if (tty < 0 || ioctl(tty, TIOCSCTTY, 0) < 0) _exit(1);
    pid_t runtime = fork();
    if (runtime == 0) {
      dup2(tty, 0);
      dup2(open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), 1);
      dup2(open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(runtime, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (write(status_fd, &code, sizeof code) != sizeof code) _exit(1);
    char c;
    while (read(hold_fd, &c, 1) > 0) {
    }
    _exit(0);
  }

  int master_ = -1;
  std::string slave_path_;
  pid_t leader_ = 0;
  int hold_ = -1;
};

// Fields 6 (session) and 7 (tty_nr) of a /proc/PID/stat line.
std::pair<long, long> session_and_tty(const std::string& stat_line) {
  std::istringstream rest(stat_line.substr(stat_line.rfind(')') + 2));
  std::string state;
  long ppid = 0, pgrp = 0, session = -1, tty_nr = -1;
  rest >> state >> ppid >> pgrp >> session >> tty_nr;
  return {session, tty_nr};
}

}  // namespace

TEST_CASE("exec: the process gets a session of its own, never the caller's terminal", "[exec][terminal]") {
  const std::string how = GENERATE("plain", "--detach", "--process", "--tty");
  INFO("exec " << how);
  Sandbox s("exec-session");
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create());
  require_ok(s.start());
  // /dev/tty opens the controlling terminal: the operator's, unless the process has none.
  const std::string script = "( : >/dev/tty ) 2>/dev/null && echo tty=open || echo tty=none; cat /proc/self/stat; echo done";
  std::vector<std::string> args = {"--root", s.state_root.string(), "exec"};
  if (how == "--process") {
    json process = {{"args", {"sh", "-c", script}}, {"cwd", "/"}, {"user", {{"uid", 0}, {"gid", 0}}},
                    {"env", {"PATH=/bin:/usr/bin"}}};
    write_file(s.dir / "process.json", process.dump());
    args.insert(args.end(), {"--process", (s.dir / "process.json").string(), s.id});
  } else {
    if (how != "plain") args.push_back(how);
    args.insert(args.end(), {s.id, "sh", "-c", script});
  }
  const fs::path out = s.dir / "exec.out", err = s.dir / "exec.err";
  OperatorTerminal terminal;
  int code = terminal.run(args, out, err);
  INFO("exit " << code << "; stderr: " << read_file(err));
  REQUIRE(code == 0);
  REQUIRE(eventually([&] { return fs::exists(out) && contains(read_file(out), "done"); }));
  const std::string text = read_file(out);
  INFO(text);
  std::string stat_line;
  for (const auto& l : lines(text))
    if (contains(l, "(cat)")) stat_line = l;
  REQUIRE_FALSE(stat_line.empty());
  auto [session, tty_nr] = session_and_tty(stat_line);
  // The session leader is the process itself (the shell), inside the container: never 0,
  // which is how a leader in the host's pid namespace (the operator's session) shows.
  CHECK(session > 1);
  if (how == "--tty") {
    CHECK(contains(text, "tty=open"));  // a pty of the container's own devpts
    CHECK(tty_nr != 0);
  } else {
    CHECK(contains(text, "tty=none"));
    CHECK(tty_nr == 0);
  }
}

namespace {
// A key in a new session keyring of this test process, both viewable only by a possessor
// (KEY_POS_*): /proc/keys lists the key to a process only if it holds this session keyring.
std::string plant_session_key() {
  constexpr long kJoinSessionKeyring = 1, kSetPerm = 5;  // KEYCTL_*
  constexpr int kSessionKeyring = -3;                    // KEY_SPEC_SESSION_KEYRING
  constexpr unsigned kPossessorAll = 0x3f000000;
  const std::string name = "ocirun-test-secret-" + std::to_string(getpid());
  long ring = syscall(SYS_keyctl, kJoinSessionKeyring, ("ocirun-test-session-" + std::to_string(getpid())).c_str());
  REQUIRE(ring > 0);
  long key = syscall(SYS_add_key, "user", name.c_str(), "secret", 6, kSessionKeyring);
  REQUIRE(key > 0);
  REQUIRE(syscall(SYS_keyctl, kSetPerm, key, kPossessorAll) == 0);
  REQUIRE(syscall(SYS_keyctl, kSetPerm, ring, kPossessorAll) == 0);
  return name;
}
}  // namespace

TEST_CASE("exec: the process joins a session keyring of its own unless created with --no-new-keyring", "[exec][keyring]") {
  const bool no_new_keyring = GENERATE(false, true);
  INFO("create --no-new-keyring: " << no_new_keyring);
  if (!fs::exists("/proc/keys")) {
    WARN("kernel without /proc/keys");
    return;
  }
  const std::string secret = plant_session_key();
  Sandbox s("exec-keyring");
  auto& masked = s.config["linux"]["maskedPaths"];
  masked.erase(std::remove(masked.begin(), masked.end(), "/proc/keys"), masked.end());
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.create({}, no_new_keyring ? std::vector<std::string>{"--no-new-keyring"} : std::vector<std::string>{}));
  require_ok(s.start());
  auto r = s.rt({"exec", s.id, "cat", "/proc/keys"});
  INFO(r.describe());
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, secret) == no_new_keyring);
}

TEST_CASE("exec: the config is the one create read, the bundle is never read again", "[exec][bundle]") {
  const std::string change = GENERATE("rewritten", "invalid", "removed");
  INFO("config.json after create: " << change);
  Sandbox s("exec-bundle");
  add_tmp(s);
  s.config["hostname"] = "original-host";
  s.config["process"]["env"] = {"PATH=/bin:/usr/bin", "ORIGIN=create"};
  s.config["process"]["args"] = {"sleep", "30"};
  s.config["linux"]["seccomp"] = seccomp_profile("SCMP_ACT_ALLOW", {seccomp_rule(kMkdir, "SCMP_ACT_ERRNO")});
  require_ok(s.create());
  pid_t init = state_pid(s);
  const fs::path config = s.bundle / "config.json";
  if (change == "rewritten") {
    // What a container that can write its bundle would ask for: no seccomp, the host's uts
    // namespace, its own environment (left to harmless reads here).
    json evil = s.config;
    evil["linux"].erase("seccomp");
    evil.erase("hostname");
    remove_namespace(evil, "uts");
    evil["process"]["env"] = {"PATH=/bin:/usr/bin", "ORIGIN=bundle"};
    write_file(config, evil.dump());
  } else if (change == "invalid") {
    write_file(config, "{ not json");
  } else {
    fs::remove(config);
  }
  require_ok(s.start());
  auto r = s.rt({"exec", s.id, "sh", "-c",
                 "echo origin=$ORIGIN; hostname; readlink /proc/self/ns/uts; mkdir /tmp/d && echo mkdir=made || echo mkdir=blocked"});
  INFO(r.describe());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("origin=create") && Contains("original-host") && Contains("mkdir=blocked"));
  CHECK(contains(r.out, readlink_str("/proc/" + std::to_string(init) + "/ns/uts")));
  // The copy create kept is root's alone: the config's env may hold secrets.
  CHECK((fs::status(s.state_root / s.id / "config.json").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  // The commands after exec never need the bundle either.
  require_ok(s.rt({"kill", s.id, "KILL"}));
  REQUIRE(s.wait_status("stopped"));
  require_ok(s.rt({"delete", s.id}));
}
