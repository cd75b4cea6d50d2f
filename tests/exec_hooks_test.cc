// Integration tests for `exec` and the OCI hooks: drive the runtime binary ($OCIRUN_BIN, else
// the built ocirun) on busybox bundles made by bundles/make-bundle.sh, and check the result from
// the host and from inside the container.
//
// Tests tagged [ocirun] check ocirun's own wording or requirements where runc differs; run
// against runc with:  OCIRUN_BIN=$(which runc) ./exec_hooks_test '~[ocirun]'
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include "integration/harness.h"

using namespace ocirun::it;
using Catch::Matchers::Contains;

namespace {

std::string proc(pid_t pid, const std::string& what) { return "/proc/" + std::to_string(pid) + "/" + what; }

// Starts the sandbox's container running `sleep 1000` (unless the config says otherwise).
pid_t start_sleeper(Sandbox& s, bool set_args = true) {
  if (set_args) s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  REQUIRE(s.wait_status("running"));
  pid_t pid = state_pid(s);
  REQUIRE(pid > 0);
  return pid;
}

// runtime --root R exec ARGS... (foreground: captures the process's stdout/stderr).
ExecResult exec_in(Sandbox& s, std::vector<std::string> args, ExecOptions opts = {}) {
  std::vector<std::string> argv = {"exec"};
  argv.insert(argv.end(), args.begin(), args.end());
  return s.rt(argv, opts);
}

// The capability mask in a CapEff/CapBnd-like hex field.
uint64_t cap_mask(const std::string& status, const std::string& field) {
  return std::stoull(status_field(status, field), nullptr, 16);
}

// Namespace links of a process, by name (cgroup, ipc, mnt, net, pid, user, uts, ...).
std::map<std::string, std::string> ns_links(pid_t pid) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::directory_iterator(proc(pid, "ns"))) out[e.path().filename().string()] = readlink_str(e.path());
  return out;
}

// Directories named `name` under /sys/fs/cgroup (a few levels down): a container's leftover cgroup.
std::vector<std::string> cgroup_dirs_named(const std::string& name) {
  std::vector<std::string> found;
  std::error_code ec;
  auto it = fs::recursive_directory_iterator("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() >= 4) {
      it.disable_recursion_pending();
      continue;
    }
    std::error_code ec2;
    if (it->is_directory(ec2) && it->path().filename() == name) found.push_back(it->path().string());
  }
  return found;
}

// A child running argv with stdout/stderr to files, so the test can signal it while it runs.
struct Spawned {
  pid_t pid = -1;
  int status = 0;
  bool reaped = false;

  Spawned(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid = fork();
    if (pid == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
      dup2(in_fd, 0);
      dup2(out_fd, 1);
      dup2(err_fd, 2);
      close_range(3, ~0U, 0);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(in_fd);
    close(out_fd);
    close(err_fd);
  }
  // Exit code (128+N when killed by signal N), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout) {
    if (!reaped && !eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout)) return -1;
    reaped = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  }
  ~Spawned() {
    if (pid > 0 && !reaped) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

struct CloseFd {
  int fd;
  ~CloseFd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

// ==== exec =========================================================================================

TEST_CASE("exec: joins every namespace and the cgroup of the container", "[exec]") {
  Sandbox s("exec-ns");
  set_namespace(s.config, "cgroup");
  s.config["hostname"] = "exec-host";
  pid_t init = start_sleeper(s);

  fs::path pidfile = s.dir / "exec.pid";
  require_ok(exec_in(s, {"--detach", "--pid-file", pidfile.string(), s.id, "sleep", "1000"},
                     {.stdout_file = (s.dir / "exec.out").string(), .stderr_file = (s.dir / "exec.err").string()}));
  pid_t pid = std::stoi(trim(read_file(pidfile)));
  REQUIRE(pid > 0);
  REQUIRE_FALSE(pid_gone(pid));

  auto want = ns_links(init), got = ns_links(pid);
  for (auto& [kind, link] : want) {
    INFO("namespace " << kind);
    CHECK_FALSE(link.empty());
    CHECK(got[kind] == link);
  }
  // The container's own namespaces differ from ours, so "equal" means "joined".
  for (auto kind : {"pid", "net", "ipc", "uts", "mnt", "cgroup"}) {
    INFO("namespace " << kind);
    CHECK(got[kind] != readlink_str(std::string("/proc/self/ns/") + kind));
  }
  CHECK(read_file(proc(pid, "cgroup")) == read_file(proc(init, "cgroup")));

  // And from inside.
  auto r = exec_in(s, {s.id, "sh", "-c", "hostname; readlink /proc/self/ns/mnt; echo $$"});
  require_ok(r);
  auto out = lines(r.out);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "exec-host");
  CHECK(out[1] == want["mnt"]);
  CHECK(out[2] != "1");  // a new process in the container's pid namespace, not its init
}

TEST_CASE("exec: joins the user namespace of a container with uid mappings", "[exec][userns]") {
  if (!fs::exists("/proc/self/ns/user")) {
    WARN("kernel without user namespaces");
    return;
  }
  Sandbox s("exec-userns");
  use_user_namespace(s);  // the container's 0 is the host's 100000
  pid_t init = start_sleeper(s);
  REQUIRE(readlink_str(proc(init, "ns/user")) != readlink_str("/proc/self/ns/user"));

  fs::path pidfile = s.dir / "exec.pid";
  require_ok(exec_in(s, {"--detach", "--pid-file", pidfile.string(), s.id, "sleep", "1000"},
                     {.stdout_file = (s.dir / "exec.out").string(), .stderr_file = (s.dir / "exec.err").string()}));
  pid_t pid = std::stoi(trim(read_file(pidfile)));
  REQUIRE_FALSE(pid_gone(pid));
  auto want = ns_links(init), got = ns_links(pid);
  for (auto& [kind, link] : want) {
    INFO("namespace " << kind);
    CHECK(got[kind] == link);
  }
  CHECK(status_field(read_file(proc(pid, "status")), "Uid") == "100000 100000 100000 100000");
  CHECK(read_file(proc(pid, "cgroup")) == read_file(proc(init, "cgroup")));

  auto r = exec_in(s, {s.id, "sh", "-c", "cat /proc/self/uid_map; id -u; id -g"});
  require_ok(r);
  auto out = lines(r.out);
  REQUIRE(out.size() == 3);
  CHECK(status_field("x:" + out[0], "x") == "0 100000 65536");
  CHECK(out[1] == "0");
  CHECK(out[2] == "0");
}

TEST_CASE("exec: foreground exit status, stdout and stderr", "[exec]") {
  Sandbox s("exec-status");
  start_sleeper(s);

  auto r = exec_in(s, {s.id, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 5"});
  INFO(r.describe());
  CHECK(r.code == 5);
  CHECK(r.out == "to-stdout\n");
  CHECK_THAT(r.err, Contains("to-stderr"));

  require_ok(exec_in(s, {s.id, "true"}));

  for (int sig : {SIGKILL, SIGTERM}) {
    INFO("signal " << sig);
    auto k = exec_in(s, {s.id, "sh", "-c", "kill -" + std::to_string(sig) + " $$; sleep 5"});
    INFO(k.describe());
    CHECK(k.code == 128 + sig);
  }
  CHECK(s.status() == "running");
}

TEST_CASE("exec: --env adds and overrides, --cwd", "[exec]") {
  Sandbox s("exec-env");
  s.config["process"]["env"].push_back("FOO=from-config");
  s.config["process"]["env"].push_back("KEEP=kept");
  start_sleeper(s);

  auto r = exec_in(s, {"--env", "FOO=from-flag", "--env", "NEW=new value", "--cwd", "/tmp", s.id, "sh", "-c",
                       "echo \"$FOO|$NEW|$KEEP\"; env | grep -c '^FOO='; pwd; echo \"$PATH\""});
  require_ok(r);
  auto out = lines(r.out);
  REQUIRE(out.size() == 4);
  CHECK(out[0] == "from-flag|new value|kept");
  CHECK(out[1] == "1");
  CHECK(out[2] == "/tmp");
  CHECK_THAT(out[3], Contains("/bin"));

  // Without flags: the config's env and cwd.
  auto d = exec_in(s, {s.id, "sh", "-c", "echo \"$FOO\"; pwd"});
  require_ok(d);
  CHECK(d.out == "from-config\n/\n");
}

TEST_CASE("exec: --user and --additional-gids", "[exec]") {
  Sandbox s("exec-user");
  start_sleeper(s);
  auto r = exec_in(s, {"--user", "1000:1000", "--additional-gids", "10", "--additional-gids", "20", s.id, "sh", "-c",
                       "id -u; id -g; cat /proc/self/status"});
  require_ok(r);
  auto out = lines(r.out);
  REQUIRE(out.size() > 2);
  CHECK(out[0] == "1000");
  CHECK(out[1] == "1000");
  CHECK(status_field(r.out, "Uid") == "1000 1000 1000 1000");
  CHECK(status_field(r.out, "Gid") == "1000 1000 1000 1000");
  std::set<std::string> groups;
  std::istringstream ss(status_field(r.out, "Groups"));
  for (std::string g; ss >> g;) groups.insert(g);
  CHECK(groups.count("10") == 1);
  CHECK(groups.count("20") == 1);
  CHECK(groups.count("0") == 0);

  auto plain = exec_in(s, {"--user", "1000:1000", s.id, "id"});
  require_ok(plain);
  CHECK_THAT(plain.out, Contains("uid=1000(user) gid=1000(user)"));
}

TEST_CASE("exec: the config's capabilities and rlimits apply, and --cap adds one", "[exec][caps]") {
  Sandbox s("exec-caps");
  for (auto set : {"bounding", "effective", "permitted"})
    s.config["process"]["capabilities"][set] = {"CAP_CHOWN", "CAP_KILL"};
  s.config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 555}, {"hard", 666}}};
  pid_t init = start_sleeper(s);
  const uint64_t chown_kill = (1ULL << 0) | (1ULL << 5), sys_admin = 1ULL << 21;

  auto d = exec_in(s, {s.id, "sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/status"});
  require_ok(d);
  auto out = lines(d.out);
  REQUIRE(out.size() > 2);
  CHECK(out[0] == "555");
  CHECK(out[1] == "666");
  CHECK(cap_mask(d.out, "CapEff") == chown_kill);
  CHECK(cap_mask(d.out, "CapBnd") == chown_kill);
  CHECK(status_field(d.out, "CapEff") == status_field(read_file(proc(init, "status")), "CapEff"));

  auto c = exec_in(s, {"--cap", "CAP_SYS_ADMIN", s.id, "cat", "/proc/self/status"});
  require_ok(c);
  CHECK(cap_mask(c.out, "CapEff") == (chown_kill | sys_admin));
  CHECK(cap_mask(c.out, "CapPrm") == (chown_kill | sys_admin));
  CHECK(cap_mask(c.out, "CapBnd") == (chown_kill | sys_admin));
}

TEST_CASE("exec: --no-new-privs", "[exec]") {
  Sandbox s("exec-nnp");
  s.config["process"]["noNewPrivileges"] = false;
  start_sleeper(s);
  auto d = exec_in(s, {s.id, "cat", "/proc/self/status"});
  require_ok(d);
  CHECK(status_field(d.out, "NoNewPrivs") == "0");
  auto n = exec_in(s, {"--no-new-privs", s.id, "cat", "/proc/self/status"});
  require_ok(n);
  CHECK(status_field(n.out, "NoNewPrivs") == "1");
}

TEST_CASE("exec: --process takes args, env, cwd and user from a process.json", "[exec]") {
  Sandbox s("exec-process");
  start_sleeper(s);
  json p = {{"terminal", false},
            {"user", {{"uid", 1000}, {"gid", 1000}}},
            {"args", {"sh", "-c", "id -u; id -g; pwd; echo \"$A\"; echo \"${FOO-unset}\""}},
            {"env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "A=from process.json"}},
            {"cwd", "/home/user"}};
  fs::path file = s.dir / "process.json";
  write_file(file, p.dump());
  auto r = exec_in(s, {"--process", file.string(), s.id});
  require_ok(r);
  CHECK(r.out == "1000\n1000\n/home/user\nfrom process.json\nunset\n");
}

TEST_CASE("exec --detach --pid-file: a live process of the container, listed by ps", "[exec]") {
  Sandbox s("exec-detach");
  pid_t init = start_sleeper(s);
  fs::path pidfile = s.dir / "exec.pid";
  auto t0 = std::chrono::steady_clock::now();
  auto r = exec_in(s, {"--detach", "--pid-file", pidfile.string(), s.id, "sleep", "1000"},
                   {.stdout_file = (s.dir / "exec.out").string(), .stderr_file = (s.dir / "exec.err").string()});
  require_ok(r);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  REQUIRE(fs::exists(pidfile));
  pid_t pid = std::stoi(trim(read_file(pidfile)));
  REQUIRE(pid > 0);
  CHECK_FALSE(pid_gone(pid));
  CHECK(readlink_str(proc(pid, "ns/pid")) == readlink_str(proc(init, "ns/pid")));
  std::string cmdline = read_file(proc(pid, "cmdline"));
  CHECK(cmdline == std::string("sleep\0" "1000\0", 11));

  auto ps = s.rt({"ps", "--format", "json", s.id});
  require_ok(ps);
  json pids = json::parse(ps.out);
  INFO(ps.out);
  REQUIRE(pids.is_array());
  CHECK(std::find(pids.begin(), pids.end(), pid) != pids.end());
  CHECK(std::find(pids.begin(), pids.end(), init) != pids.end());
}

namespace {

// Receives the pty master of `exec --tty --console-socket` (run by `run_exec` in a thread) and
// talks to `tty; echo hello; read x; echo got-$x` through it.
void check_tty_exec(ConsoleSocket& sock, std::future<ExecResult>& fut, const std::string& tty_dir = "/dev/pts/") {
  int master = sock.receive_fd();
  CloseFd close_master{master};
  if (master < 0) {
    REQUIRE(fut.wait_for(20s) == std::future_status::ready);
    FAIL("no pty master on the console socket: " << fut.get().describe());
  }
  CHECK(isatty(master));
  std::string out = read_all(master, 10s, "hello");
  INFO(out);
  CHECK_THAT(out, Contains("hello"));
  CHECK_THAT(out, Contains(tty_dir));
  REQUIRE(write(master, "bye\n", 4) == 4);
  out += read_all(master, 10s, "got-bye");
  CHECK_THAT(out, Contains("got-bye"));
  REQUIRE(fut.wait_for(20s) == std::future_status::ready);
  auto r = fut.get();
  INFO(r.describe());
  CHECK(r.code == 0);
}

}  // namespace

// exec's pty comes from the container's /dev/ptmx, which the container may have replaced since
// create made it (a link to pts/ptmx): refused unless it is the pty multiplexer, and the slave is
// the master's own peer, not whatever the path /dev/pts/N names. runc fails too, with other
// words ("inappropriate ioctl for device"): tagged [ocirun].
TEST_CASE("exec --tty: a /dev/ptmx the container replaced is refused, a devpts of its own is used", "[exec][terminal][ocirun]") {
  Sandbox s("exec-tty-ptmx");
  fs::path ctl = add_ctl_dir(s);
  start_sleeper(s);
  auto in_container = [&](const std::string& script) {
    require_ok(exec_in(s, {"--cap", "CAP_SYS_ADMIN", s.id, "sh", "-c", script}));
  };
  for (const auto& [replace, what] : std::vector<std::pair<std::string, std::string>>{
           {"ln -s /dev/null /dev/ptmx", "a character device 1:3"},
           {"mkfifo /dev/ptmx", "a FIFO"},
           {"echo x > /dev/ptmx", "a regular file"}}) {
    INFO("/dev/ptmx replaced: " << replace);
    in_container("rm -f /dev/ptmx && " + replace);
    const std::string error = "ocirun: exec in container " + s.id +
                              ": the container's /dev/ptmx is not the pty multiplexer (/dev/pts/ptmx of a devpts, 5:2): " +
                              what + "\n";
    // In the foreground, and as a shim runs it (--detach --console-socket): an error, no hang,
    // no pty handed out, nothing run.
    auto r = exec_in(s, {"--tty", s.id, "touch", "/ctl/ran"}, {.timeout = 20s});
    INFO(r.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.code == 255);
    CHECK(r.err == error);
    ConsoleSocket sock(s.dir / "console.sock");
    r = exec_in(s, {"--tty", "--console-socket", sock.path.string(), "--detach", s.id, "touch", "/ctl/ran"}, {.timeout = 20s});
    INFO(r.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.code == 255);
    CHECK(r.err == error);
    CHECK(sock.receive_fd(200ms) < 0);
    CHECK_FALSE(fs::exists(ctl / "ran"));
  }

  // The ptmx of another devpts the container mounted is a real one: its pty is used, the slave
  // being the master's peer there (by the path /dev/pts/0 it would be missing, or another pty).
  in_container("mkdir -p /dev/p2 && mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/p2 && rm -f /dev/ptmx && "
               "ln -s /dev/p2/ptmx /dev/ptmx");
  {
    ConsoleSocket sock(s.dir / "console2.sock");
    auto fut = std::async(std::launch::async, [&] {
      return exec_in(s, {"--tty", "--console-socket", sock.path.string(), s.id, "sh", "-c", "tty; echo hello; read x; echo got-$x"});
    });
    check_tty_exec(sock, fut, "/dev/p2/");
  }

  // Put back as create made it: the container's own devpts again.
  in_container("rm -f /dev/ptmx && ln -s pts/ptmx /dev/ptmx");
  ConsoleSocket sock(s.dir / "console3.sock");
  auto fut = std::async(std::launch::async, [&] {
    return exec_in(s, {"--tty", "--console-socket", sock.path.string(), s.id, "sh", "-c", "tty; echo hello; read x; echo got-$x"});
  });
  check_tty_exec(sock, fut);
}

// The shim's form: --detach with --console-socket.
TEST_CASE("exec --tty --console-socket --detach: the pty master arrives on the socket", "[exec][terminal]") {
  Sandbox s("exec-tty");
  pid_t init = start_sleeper(s);
  ConsoleSocket sock(s.dir / "console.sock");
  fs::path pidfile = s.dir / "exec.pid";
  auto fut = std::async(std::launch::async, [&] {
    return exec_in(s, {"--tty", "--console-socket", sock.path.string(), "--detach", "--pid-file", pidfile.string(),
                       s.id, "sh", "-c", "tty; echo hello; read x; echo got-$x"},
                   {.stdout_file = (s.dir / "exec.out").string(), .stderr_file = (s.dir / "exec.err").string()});
  });
  check_tty_exec(sock, fut);
  pid_t pid = std::stoi(trim(read_file(pidfile)));
  CHECK(pid != init);
  CHECK(wait_pid_gone(pid));
}

// runc 1.1 refuses --console-socket without --detach.
TEST_CASE("exec --tty --console-socket in the foreground", "[exec][terminal][ocirun]") {
  Sandbox s("exec-tty-fg");
  start_sleeper(s);
  ConsoleSocket sock(s.dir / "console.sock");
  auto fut = std::async(std::launch::async, [&] {
    return exec_in(s, {"--tty", "--console-socket", sock.path.string(), s.id, "sh", "-c",
                       "tty; echo hello; read x; echo got-$x"});
  });
  check_tty_exec(sock, fut);
}

TEST_CASE("exec: a missing binary fails and the container keeps running", "[exec][errors]") {
  Sandbox s("exec-missing");
  start_sleeper(s);
  auto r = exec_in(s, {s.id, "no-such-binary"});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("executable file not found"));
  CHECK(s.status() == "running");
}

namespace {

// Runs s's container (`true`) to its end, then execs `true` in it: the exec must fail.
ExecResult exec_into_stopped(Sandbox& s) {
  s.config["process"]["args"] = {"true"};
  require_ok(s.run_detached());
  REQUIRE(s.wait_status("stopped"));
  auto r = exec_in(s, {s.id, "true"});
  INFO(r.describe());
  CHECK(r.code != 0);
  return r;
}

}  // namespace

TEST_CASE("exec: into a stopped, unknown or paused container fails", "[exec][errors]") {
  Sandbox s("exec-bad-state");
  SECTION("stopped") { exec_into_stopped(s); }
  SECTION("unknown") {
    start_sleeper(s);
    auto r = exec_in(s, {"no-such-container", "true"});
    INFO(r.describe());
    CHECK(r.code == 255);  // runc's code for an exec that could not run the process
    CHECK_THAT(r.err, Contains("does not exist"));
  }
  SECTION("paused") {
    fs::path ctl = add_ctl_dir(s);
    start_sleeper(s);
    require_ok(s.rt({"pause", s.id}));
    REQUIRE(s.status() == "paused");
    auto r = exec_in(s, {s.id, "sh", "-c", "touch /ctl/ran"}, {.timeout = 20s});
    INFO(r.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.code != 0);
    require_ok(s.rt({"resume", s.id}));
    CHECK(s.status() == "running");
    CHECK_FALSE(fs::exists(ctl / "ran"));
  }
}

TEST_CASE("exec: a stopped container says container not running", "[exec][errors][ocirun]") {
  Sandbox s("exec-stopped-text");
  auto r = exec_into_stopped(s);
  CHECK_THAT(r.err, Contains("container not running"));
}

TEST_CASE("exec: a bad --cap, --cwd or --process file is named as such, not as config.json", "[exec][errors][ocirun]") {
  Sandbox s("exec-error-source");
  fs::path ctl = add_ctl_dir(s);
  start_sleeper(s);
  const std::string file = (s.dir / "process.json").string();
  const json good = {{"args", {"touch", "/ctl/ran"}}, {"cwd", "/"}, {"user", {{"uid", 0}, {"gid", 0}}}};
  auto expect_error = [&](const ExecResult& r, const std::string& message) {
    INFO(r.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.code == 255);
    CHECK(r.err == "ocirun: " + message + "\n");
    CHECK_FALSE(fs::exists(ctl / "ran"));  // nothing ran
  };

  // Flags: no config.json in sight (the container's has no bad capability or cwd).
  expect_error(exec_in(s, {"--cap", "CAP_BOGUS", s.id, "touch", "/ctl/ran"}), "exec: --cap: unknown capability \"CAP_BOGUS\"");
  expect_error(exec_in(s, {"--cap", "CAP_CHOWN", "-c", "cap_nope", s.id, "touch", "/ctl/ran"}),
               "exec: --cap: unknown capability \"cap_nope\"");
  expect_error(exec_in(s, {"--cwd", "/proc/self", s.id, "touch", "/ctl/ran"}), "exec --cwd: \"/proc/self\" is inside /proc");

  // A --process file: its name, and the field's path inside the process.
  auto with = [&](const std::function<void(json&)>& spoil) {
    json p = good;
    spoil(p);
    write_file(file, p.dump());
  };
  with([](json& p) { p["capabilities"]["bounding"] = {"CAP_CHOWN", "CAP_NOPE"}; });
  expect_error(exec_in(s, {"--process", file, s.id}), "--process " + file + ": /capabilities/bounding/1: unknown capability \"CAP_NOPE\"");
  with([](json& p) { p["rlimits"] = {{{"type", "RLIMIT_NOPE"}, {"hard", 1}, {"soft", 1}}}; });
  expect_error(exec_in(s, {"-p", file, s.id}), "--process " + file + ": /rlimits/0/type: unknown rlimit \"RLIMIT_NOPE\"");
  with([](json& p) { p["user"]["uid"] = -1; });
  expect_error(exec_in(s, {"--process", file, s.id}), "--process " + file + ": /user/uid: value -1 out of range (0..4294967295)");
  with([](json& p) { p["cwd"] = "/proc/1"; });
  expect_error(exec_in(s, {"--process", file, s.id}), "--process " + file + ": /cwd: \"/proc/1\" is inside /proc");
  write_file(file, "[1]");
  expect_error(exec_in(s, {"--process", file, s.id}), "--process " + file + ": top level: expected object, got array");
  write_file(file, "{\"args\": ");
  auto r = exec_in(s, {"--process", file, s.id});
  expect_error(r, "--process " + file +
                      ": not valid JSON: syntax error while parsing value - unexpected end of input; expected '[', '{', "
                      "or a literal (at line 1, column 10, byte 10)");
  // From stdin.
  with([](json& p) { p["capabilities"]["bounding"] = {"CAP_NOPE"}; });
  expect_error(exec_in(s, {"--process", "-", s.id}, {.stdin_path = file}),
               "--process -: /capabilities/bounding/0: unknown capability \"CAP_NOPE\"");
  // The good file runs.
  write_file(file, good.dump());
  require_ok(exec_in(s, {"--process", file, s.id}));
  CHECK(fs::exists(ctl / "ran"));
}

TEST_CASE("exec: --preserve-fds passes fd 3 and nothing else leaks", "[exec][fds]") {
  Sandbox s("exec-fds");
  start_sleeper(s);
  SECTION("no leaks") {
    auto r = exec_in(s, {s.id, "ls", "/proc/self/fd"});
    require_ok(r);
    auto fds = line_set(r.out);
    INFO(r.out);
    for (auto std_fd : {"0", "1", "2"}) CHECK(fds.count(std_fd) == 1);
    CHECK(fds.size() <= 4);  // 0, 1, 2 and the directory ls is reading
  }
  SECTION("--preserve-fds 1") {
    write_file(s.dir / "extra", "preserved-data\n");
    int fd = open((s.dir / "extra").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CloseFd close_fd{fd};
    auto r = exec_in(s, {"--preserve-fds", "1", s.id, "sh", "-c", "cat <&3; ls /proc/self/fd"},
                     {.extra_fds = {{fd, 3}}});
    require_ok(r);
    auto out = line_set(r.out);
    INFO(r.out);
    CHECK(out.count("preserved-data") == 1);
    CHECK(out.count("3") == 1);
    CHECK(out.size() <= 6);  // the data line, 0-3 and ls's own directory fd
  }
}

TEST_CASE("exec: the container's seccomp profile applies", "[exec][seccomp]") {
  Sandbox s("exec-seccomp");
  s.config["root"]["readonly"] = false;  // so only seccomp can make mkdir fail
  s.config["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
  start_sleeper(s);
  auto r = exec_in(s, {s.id, "mkdir", "/tmp/x"});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("Operation not permitted"));
  CHECK_FALSE(fs::exists(s.rootfs / "tmp" / "x"));
  auto st = exec_in(s, {s.id, "cat", "/proc/self/status"});
  require_ok(st);
  CHECK(status_field(st.out, "Seccomp") == "2");
}

// The init opens its cwd before a filter loaded without no_new_privs goes on; exec's process
// did it after, so a profile denying openat (which the container's program may never need)
// broke every exec while the container ran. Now both take the same steps (lower_privileges).
// runc cannot create such a container at all (it opens /proc/self/fd under the filter).
TEST_CASE("exec: the cwd is opened before the seccomp filter, as for the init", "[exec][seccomp][ocirun]") {
  Sandbox s("exec-seccomp-cwd");
  s.config["process"]["noNewPrivileges"] = false;  // the filter goes on early, while privileged
  s.config["process"]["cwd"] = "/tmp";
  s.config["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls", {{{"names", {"open", "openat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
  start_sleeper(s);
  auto r = exec_in(s, {s.id, "sh", "-c", "pwd; cat /etc/passwd"});
  INFO(r.describe());
  CHECK(r.code == 1);  // cat's exit status: the filter is on
  CHECK(r.out == "/tmp\n");
  CHECK_THAT(r.err, Contains("Operation not permitted"));
  auto c = exec_in(s, {"--cwd", "/home/user", s.id, "pwd"});
  INFO(c.describe());
  CHECK(c.code == 0);
  CHECK(c.out == "/home/user\n");
}

TEST_CASE("exec: signals to the foreground exec reach the process", "[exec][signals]") {
  Sandbox s("exec-signal");
  pid_t init = start_sleeper(s);
  const std::string pidns = readlink_str(proc(init, "ns/pid"));
  Spawned ex({Env::get().runtime, "--root", s.state_root.string(), "exec", s.id, "sleep", "30"}, s.dir / "exec.out",
             s.dir / "exec.err");
  REQUIRE(ex.pid > 0);
  auto sleeper_in_container = [&] {
    for (pid_t p : pids_in_pidns(pidns)) {
      if (p == init) continue;
      try {
        if (read_file(proc(p, "cmdline")) == std::string("sleep\0" "30\0", 9)) return p;
      } catch (...) {
      }
    }
    return pid_t{0};
  };
  pid_t sleeper = 0;
  bool started = eventually([&] { return (sleeper = sleeper_in_container()) > 0; });
  INFO("exec stderr: " << read_file(s.dir / "exec.err"));
  REQUIRE(started);
  REQUIRE(kill(ex.pid, SIGTERM) == 0);
  int code = ex.wait(10s);
  CHECK(code == 128 + SIGTERM);
  CHECK(wait_pid_gone(sleeper, 5s));
  CHECK(s.status() == "running");
}

// ==== hooks ========================================================================================

namespace {

const std::vector<std::string> kHookPath = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};

json sh_hook(const std::string& script, std::vector<std::string> env = kHookPath) {
  return {{"path", "/bin/sh"}, {"args", {"sh", "-c", script}}, {"env", env}};
}

// A container whose process waits for /ctl/go (or exits at once), with a ctl dir for hooks.
struct HookBox {
  Sandbox s;
  fs::path ctl;
  explicit HookBox(const std::string& name) : s(name) {
    ctl = add_ctl_dir(s);
    s.config["hooks"] = json::object();
  }
  void add(const std::string& phase, json hook) { s.config["hooks"][phase].push_back(std::move(hook)); }
  // In the container (startContainer): the ctl dir is /ctl; elsewhere its host path.
  std::string ctl_path(const std::string& phase, const std::string& file) const {
    return phase == "startContainer" ? "/ctl/" + file : (ctl / file).string();
  }
};

const std::vector<std::string> kPhases = {"prestart",  "createRuntime", "createContainer",
                                          "startContainer", "poststart", "poststop"};

// Everything a failed create must not leave behind.
void check_nothing_left(Sandbox& s) {
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK_THAT(s.rt({"state", s.id}).err, Contains("does not exist"));
  CHECK(eventually([] { return Subreaper::live_children().empty(); }, 5s));
  auto cgroups = cgroup_dirs_named(s.id);
  INFO("cgroups left: " << json(cgroups).dump());
  CHECK(cgroups.empty());
  CHECK_FALSE(contains(read_file("/proc/self/mountinfo"), s.dir.string()));
}

struct FailedCreate {
  ExecResult r;
  std::chrono::milliseconds took;  // how long the create took
};

// Creates h's container (sleep 1000) with `hook` added to `phase`: the create must fail and
// leave nothing behind. Needs a Subreaper made before h.
FailedCreate create_fails(HookBox& h, const std::string& phase, json hook) {
  h.add(phase, std::move(hook));
  h.s.config["process"]["args"] = {"sleep", "1000"};
  auto t0 = std::chrono::steady_clock::now();
  auto r = h.s.create();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  INFO(r.describe() << "\ntook " << took.count() << " ms");
  CHECK(r.code != 0);
  check_nothing_left(h.s);
  return {r, took};
}

}  // namespace

namespace {

// The hooks of `phases` each append "<phase> <mnt ns> <net ns>" to ctl/order; the process waits
// for `wait_for` (if any) in that file, then appends "process". Runs the whole lifecycle and
// returns the lines after create and at the end.
struct OrderRun {
  std::vector<std::string> after_create, order;
  std::map<std::string, std::pair<std::string, std::string>> where;  // phase -> (mnt, net)
  std::string host_mnt, host_net, init_mnt, init_net;
};

OrderRun run_order(HookBox& h, const std::vector<std::string>& phases, const std::string& wait_for) {
  Sandbox& s = h.s;
  for (auto& phase : phases)
    h.add(phase, sh_hook("echo " + phase + " $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/net) >> " +
                         h.ctl_path(phase, "order")));
  std::string wait = wait_for.empty() ? "" : "while ! grep -q " + wait_for + " /ctl/order; do sleep 0.05; done; ";
  s.sh(wait + "echo process >> /ctl/order");
  OrderRun run;
  run.host_mnt = readlink_str("/proc/self/ns/mnt");
  run.host_net = readlink_str("/proc/self/ns/net");
  auto read_order = [&] {
    std::vector<std::string> order;
    for (auto& l : lines(read_file(h.ctl / "order"))) {
      std::istringstream ss(l);
      std::string name, mnt, net;
      ss >> name >> mnt >> net;
      order.push_back(name);
      run.where[name] = {mnt, net};
    }
    return order;
  };
  require_ok(s.create());
  pid_t init = state_pid(s);
  run.init_mnt = readlink_str(proc(init, "ns/mnt"));
  run.init_net = readlink_str(proc(init, "ns/net"));
  REQUIRE(run.init_mnt != run.host_mnt);
  run.after_create = read_order();
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  require_ok(s.rt({"delete", s.id}));
  run.order = read_order();
  return run;
}

}  // namespace

TEST_CASE("hooks: creation, start and poststop hooks run in order, each in its namespaces", "[hooks]") {
  HookBox h("hooks-order");
  auto run = run_order(h, {"prestart", "createRuntime", "createContainer", "startContainer", "poststop"}, "");
  const std::pair host{run.host_mnt, run.host_net}, container{run.init_mnt, run.init_net};
  CHECK(run.after_create == std::vector<std::string>{"prestart", "createRuntime", "createContainer"});
  CHECK(run.order ==
        std::vector<std::string>{"prestart", "createRuntime", "createContainer", "startContainer", "process", "poststop"});
  CHECK(run.where["prestart"] == host);
  CHECK(run.where["createRuntime"] == host);
  CHECK(run.where["createContainer"] == container);  // the container's namespaces (host paths)
  CHECK(run.where["startContainer"] == container);
  CHECK(run.where["poststop"] == host);
}

// runc chdirs to the bundle before create, and its init into the rootfs before the mounts:
// hooks that open files by relative path (config.json) depend on it.
TEST_CASE("hooks: prestart and createRuntime start in the bundle, createContainer in the rootfs", "[hooks]") {
  HookBox h("hooks-cwd");
  for (const char* phase : {"prestart", "createRuntime", "createContainer"})
    h.add(phase, sh_hook(std::string("pwd > ") + h.ctl_path(phase, std::string("cwd-") + phase)));
  h.s.sh("true");
  require_ok(h.s.create());
  CHECK(trim(read_file(h.ctl / "cwd-prestart")) == fs::canonical(h.s.bundle).string());
  CHECK(trim(read_file(h.ctl / "cwd-createRuntime")) == fs::canonical(h.s.bundle).string());
  CHECK(trim(read_file(h.ctl / "cwd-createContainer")) == fs::canonical(h.s.rootfs).string());
  require_ok(h.s.rt({"delete", "--force", h.s.id}));
}

// runc 1.1 runs poststart hooks during `create`, before startContainer.
TEST_CASE("hooks: all six run in order", "[hooks][ocirun]") {
  HookBox h("hooks-order-six");
  auto run = run_order(h, kPhases, "poststart");
  CHECK(run.after_create == std::vector<std::string>{"prestart", "createRuntime", "createContainer"});
  CHECK(run.order == std::vector<std::string>{"prestart", "createRuntime", "createContainer", "startContainer",
                                              "poststart", "process", "poststop"});
  CHECK(run.where["poststart"] == std::pair{run.host_mnt, run.host_net});
}

namespace {

// Each of the six hooks saves its stdin; runs the lifecycle; returns phase -> state and the init pid.
std::pair<std::map<std::string, json>, pid_t> hook_states(HookBox& h) {
  Sandbox& s = h.s;
  for (auto& phase : kPhases) h.add(phase, sh_hook("cat > " + h.ctl_path(phase, phase + ".json")));
  s.config["annotations"] = {{"org.ocirun.test", "hooks"}};
  s.config["process"]["args"] = {"true"};
  require_ok(s.create());
  pid_t init = state_pid(s);
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  require_ok(s.rt({"delete", s.id}));
  std::map<std::string, json> states;
  for (auto& phase : kPhases) {
    INFO("hook " << phase);
    REQUIRE(fs::exists(h.ctl / (phase + ".json")));
    std::string text = read_file(h.ctl / (phase + ".json"));
    INFO(text);
    states[phase] = json::parse(text);
  }
  return {states, init};
}

}  // namespace

TEST_CASE("hooks: each gets the state JSON on stdin", "[hooks]") {
  HookBox h("hooks-state");
  auto [states, init] = hook_states(h);
  for (auto& [phase, st] : states) {
    INFO("hook " << phase << ": " << st.dump());
    CHECK(st["id"] == h.s.id);
    CHECK(st["bundle"] == h.s.bundle.string());
    CHECK(st["ociVersion"].is_string());
    CHECK(st["annotations"]["org.ocirun.test"] == "hooks");
    if (phase != "poststop") CHECK(st.value("pid", 0) > 0);
  }
  CHECK(states["prestart"].value("pid", 0) == init);
  CHECK(states["createRuntime"].value("pid", 0) == init);
  CHECK(states["prestart"]["status"] == "creating");
  CHECK(states["createRuntime"]["status"] == "creating");
  CHECK(states["createContainer"]["status"] == "creating");
  CHECK(states["poststop"]["status"] == "stopped");
}

// runc and crun send the state as one line of JSON: a hook that reads a line gets all of it.
TEST_CASE("hooks: the state on stdin is one line of JSON", "[hooks]") {
  HookBox h("hooks-state-line");
  for (auto& phase : kPhases)
    h.add(phase, sh_hook("read -r state; printf '%s' \"$state\" > " + h.ctl_path(phase, phase + ".line")));
  h.s.config["annotations"] = {{"org.ocirun.test", "hooks"}};
  h.s.config["process"]["args"] = {"true"};
  require_ok(h.s.create());
  require_ok(h.s.start());
  REQUIRE(h.s.wait_status("stopped"));
  require_ok(h.s.rt({"delete", h.s.id}));
  for (auto& phase : kPhases) {
    INFO("hook " << phase);
    REQUIRE(fs::exists(h.ctl / (phase + ".line")));
    std::string text = read_file(h.ctl / (phase + ".line"));
    INFO(text);
    json st = json::parse(text, nullptr, /*allow_exceptions=*/false);
    REQUIRE_FALSE(st.is_discarded());
    CHECK(st["id"] == h.s.id);
    CHECK(st["annotations"]["org.ocirun.test"] == "hooks");
  }
}

// runc 1.1 gives createContainer and startContainer pid 1 (the container's view) and runs
// poststart during create (status "created").
TEST_CASE("hooks: the state's pid is the host's and poststart sees running", "[hooks][ocirun]") {
  HookBox h("hooks-state-pid");
  auto [states, init] = hook_states(h);
  for (auto phase : {"createContainer", "startContainer", "poststart"}) {
    INFO("hook " << phase << ": " << states[phase].dump());
    CHECK(states[phase].value("pid", 0) == init);
  }
  CHECK(states["startContainer"]["status"] == "created");  // the program has not started yet
  CHECK(states["poststart"]["status"] == "running");
}

TEST_CASE("hooks: args and env are passed", "[hooks]") {
  const std::string phase = GENERATE(from_range(kPhases));
  HookBox h("hooks-args-" + phase);
  Sandbox& s = h.s;
  // In the runtime's environment, so a hook that inherited it would show it.
  struct MarkEnv {
    MarkEnv() { setenv("OCIRUN_IT_MARK", "leaked", 1); }
    ~MarkEnv() { unsetenv("OCIRUN_IT_MARK"); }
  } mark;
  json hook = {{"path", "/bin/sh"},
               {"args", {"sh", "-c", "echo \"$0|$1|$2|$FOO|${OCIRUN_IT_MARK-unset}\" > " + h.ctl_path(phase, "out"),
                         "arg zero", "arg one", "arg two"}},
               {"env", {"FOO=bar baz", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}};
  h.add(phase, hook);
  s.config["process"]["args"] = {"true"};
  require_ok(s.create());
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  require_ok(s.rt({"delete", s.id}));
  INFO("hook " << phase);
  REQUIRE(fs::exists(h.ctl / "out"));
  CHECK(read_file(h.ctl / "out") == "arg zero|arg one|arg two|bar baz|unset\n");
}

TEST_CASE("hooks: a failing creation hook fails create and leaves nothing behind", "[hooks][errors]") {
  const std::string phase = GENERATE("prestart", "createRuntime", "createContainer");
  INFO("hook " << phase);
  Subreaper reaper;
  HookBox h("hooks-fail-" + phase);
  auto [r, took] =
      create_fails(h, phase, sh_hook("echo hook-said-no-" + phase + "; echo on-stderr-" + phase + " >&2; exit 3"));
  CHECK_THAT(r.err, Contains("hook-said-no-" + phase));
  CHECK_THAT(r.err, Contains("on-stderr-" + phase));
}

TEST_CASE("hooks: a creation hook that cannot be executed fails create", "[hooks][errors]") {
  const std::string phase = GENERATE("prestart", "createRuntime", "createContainer");
  INFO("hook " << phase);
  Subreaper reaper;
  HookBox h("hooks-missing-" + phase);
  auto [r, took] = create_fails(h, phase, {{"path", "/no/such/hook"}, {"args", {"hook"}}});
  CHECK_THAT(r.err, Contains("/no/such/hook") || Contains("no such file"));
}

TEST_CASE("hooks: a hook that times out fails create within about its timeout", "[hooks][errors]") {
  const std::string phase = GENERATE("prestart", "createRuntime", "createContainer");
  INFO("hook " << phase);
  Subreaper reaper;
  HookBox h("hooks-timeout-" + phase);
  auto [r, took] = create_fails(h, phase, {{"path", "/bin/sleep"}, {"args", {"sleep", "10"}}, {"timeout", 1}});
  INFO("took " << took.count() << " ms");
  CHECK(took >= 900ms);
  CHECK(took < 4s);
}

namespace {

// Creates and starts h's container with a failing startContainer hook: the container stops
// without its process ever running. Returns what `start` returned.
ExecResult start_with_failing_start_hook(HookBox& h) {
  h.add("startContainer", sh_hook("echo start-hook-said-no; exit 3"));
  h.s.sh("touch /ctl/ran");
  require_ok(h.s.create());
  auto r = h.s.start();
  CHECK(h.s.wait_status("stopped"));
  CHECK_FALSE(fs::exists(h.ctl / "ran"));
  return r;
}

}  // namespace

TEST_CASE("hooks: a failing startContainer hook: the process never runs", "[hooks][errors]") {
  HookBox h("hooks-fail-start");
  start_with_failing_start_hook(h);
}

// runc 1.1 returns from `start` before its init runs the startContainer hooks.
TEST_CASE("hooks: a failing startContainer hook makes start fail", "[hooks][errors][ocirun]") {
  HookBox h("hooks-fail-start-rc");
  auto r = start_with_failing_start_hook(h);
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("start-hook-said-no"));
}

// runc 1.1 runs poststart during create, and a failing one fails create.
TEST_CASE("hooks: a failing poststart hook only warns", "[hooks][ocirun]") {
  HookBox h("hooks-fail-poststart");
  Sandbox& s = h.s;
  h.add("poststart", sh_hook("echo poststart-said-no; exit 3"));
  h.add("poststart", sh_hook("touch " + (h.ctl / "second-ran").string()));
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.create());
  auto r = s.start();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(s.status() == "running");
  CHECK(fs::exists(h.ctl / "second-ran"));  // the remaining hooks still run
}

namespace {

// Runs h's container (`true`) to its end and deletes it: with the poststop hooks it has, the
// delete must still succeed and remove the container's state.
void run_and_delete(HookBox& h) {
  Sandbox& s = h.s;
  s.config["process"]["args"] = {"true"};
  require_ok(s.create());
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  auto r = s.rt({"delete", s.id});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_FALSE(fs::exists(s.state_root / s.id));
}

}  // namespace

TEST_CASE("hooks: a failing poststop hook only warns", "[hooks]") {
  HookBox h("hooks-fail-poststop");
  h.add("poststop", sh_hook("echo poststop-said-no; exit 3"));
  run_and_delete(h);
  CHECK_THAT(h.s.rt({"state", h.s.id}).err, Contains("does not exist"));
}

// runc 1.1 stops at the first failing poststop hook.
TEST_CASE("hooks: after a failing poststop hook the others still run", "[hooks][ocirun]") {
  HookBox h("hooks-fail-poststop-next");
  h.add("poststop", sh_hook("echo poststop-said-no; exit 3"));
  h.add("poststop", sh_hook("touch " + (h.ctl / "second-ran").string()));
  run_and_delete(h);
  CHECK(fs::exists(h.ctl / "second-ran"));
}

TEST_CASE("hooks: a hook that never reads stdin works", "[hooks]") {
  // A big state (annotations) does not fit in a socket or pipe buffer: the runtime's write meets
  // a reader that has gone away, which must not kill the runtime with SIGPIPE. (The big case
  // sticks to poststart/poststop; big states in the creation hooks have a test of their own.)
  const bool big = GENERATE(false, true);
  INFO((big ? "big" : "small") << " state");
  HookBox h(big ? "hooks-nostdin-big" : "hooks-nostdin");
  Sandbox& s = h.s;
  std::vector<std::string> phases = {"poststart", "poststop"};
  if (big)
    s.config["annotations"] = {{"org.ocirun.test.big", std::string(1024 * 1024, 'x')}};
  else
    phases.insert(phases.begin(), {"prestart", "createRuntime", "createContainer"});
  std::string want;
  for (auto& phase : phases) {
    h.add(phase, sh_hook("sleep 0.2; exit 0"));
    h.add(phase, sh_hook("echo " + phase + " >> " + (h.ctl / "ran").string()));
    want += phase + "\n";
  }
  s.config["process"]["args"] = {"true"};
  auto c = s.create();
  INFO(c.describe());
  REQUIRE(c.code == 0);
  auto st = s.start();
  INFO(st.describe());
  CHECK(st.code == 0);
  REQUIRE(s.wait_status("stopped"));
  auto d = s.rt({"delete", s.id});
  INFO(d.describe());
  CHECK(d.code == 0);
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK(read_file(h.ctl / "ran") == want);
}

TEST_CASE("hooks: a big state (large annotations) reaches every hook", "[hooks]") {
  HookBox h("hooks-big-state");
  Sandbox& s = h.s;
  const std::string big(100 * 1024, 'x');
  s.config["annotations"] = {{"org.ocirun.test.big", big}};
  for (auto& phase : kPhases) h.add(phase, sh_hook("cat > " + h.ctl_path(phase, phase + ".json")));
  s.config["process"]["args"] = {"true"};
  auto c = s.create();
  INFO(c.describe());
  REQUIRE(c.code == 0);
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  require_ok(s.rt({"delete", s.id}));
  for (auto& phase : kPhases) {
    INFO("hook " << phase);
    REQUIRE(fs::exists(h.ctl / (phase + ".json")));
    json st = json::parse(read_file(h.ctl / (phase + ".json")));
    CHECK(st["id"] == s.id);
    CHECK(st["annotations"]["org.ocirun.test.big"] == big);
  }
}

// ==== hooks: what they inherit, and the filter =================================================

namespace {
// Opens `path` for the caller-side fds a client leaves open by mistake (close-on-exec here;
// the harness dups it to the wanted number in the runtime's process).
int open_scratch(const fs::path& path) { return open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); }

// h's container runs `true` under a filter that allows everything but `names`, which fail
// with `err`.
void deny_syscalls(HookBox& h, std::vector<std::string> names, int err, bool no_new_privileges) {
  h.s.config["process"]["noNewPrivileges"] = no_new_privileges;
  h.s.config["process"]["args"] = {"true"};
  h.s.config["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls", {{{"names", names}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", err}}}}};
}
}  // namespace

TEST_CASE("hooks: an fd the caller left open (or --preserve-fds passes) reaches no hook", "[hooks]") {
  HookBox h("hooks-fds");
  Sandbox& s = h.s;
  // Each hook lists its fds with ls: 0-2, plus the directory ls opens itself (3).
  for (auto& phase : kPhases) h.add(phase, sh_hook("ls /proc/self/fd > " + h.ctl_path(phase, phase + ".fds")));
  s.sh("ls /proc/self/fd > /ctl/process.fds");
  s.write_config();
  int preserved = open_scratch(s.dir / "preserved");
  int stray = open_scratch(s.dir / "stray");
  REQUIRE((preserved >= 0 && stray >= 0));
  ExecOptions opts{.stdout_file = (s.dir / "out").string(), .stderr_file = (s.dir / "err").string()};
  opts.extra_fds = {{preserved, 3}, {stray, 7}};
  auto r = s.rt({"create", "--bundle", s.bundle.string(), "--preserve-fds", "1", s.id}, opts);
  INFO(r.describe() << read_file(s.dir / "err"));
  REQUIRE(r.code == 0);
  require_ok(s.rt({"start", s.id}, opts));
  REQUIRE(s.wait_status("stopped"));
  require_ok(s.rt({"delete", s.id}, opts));
  close(preserved);
  close(stray);
  for (auto& phase : kPhases) {
    INFO("hook " << phase);
    REQUIRE(fs::exists(h.ctl / (phase + ".fds")));
    CHECK(line_set(read_file(h.ctl / (phase + ".fds"))) == std::set<std::string>{"0", "1", "2", "3"});
  }
  // The container's process still gets the preserved fd (3; ls's own is 4), not the stray one.
  CHECK(line_set(read_file(h.ctl / "process.fds")) == std::set<std::string>{"0", "1", "2", "3", "4"});
}

TEST_CASE("hooks: startContainer hooks run under the container's seccomp filter, as runc's do", "[hooks][seccomp]") {
  const bool nnp = GENERATE(true, false);
  INFO("noNewPrivileges " << nnp);
  HookBox h("hooks-seccomp");
  Sandbox& s = h.s;
  deny_syscalls(h, {"mkdir", "mkdirat"}, ENOSYS, nnp);
  h.add("startContainer", sh_hook("mkdir /ctl/made-by-hook 2>/dev/null; echo $? > /ctl/hook-mkdir"));
  require_ok(s.create());
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  CHECK(trim(read_file(h.ctl / "hook-mkdir")) == "1");
  CHECK_FALSE(fs::exists(h.ctl / "made-by-hook"));
}

// runc's seccomp.bats looks for runc's words: "error running hook" and Go's name of the signal.
TEST_CASE("hooks: a hook the container's filter kills fails start with runc's error words", "[hooks][seccomp][ocirun]") {
  HookBox h("hooks-seccomp-kill");
  Sandbox& s = h.s;
  s.config["process"]["args"] = {"true"};
  s.config["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                  {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_KILL"}}}}};
  h.add("startContainer", sh_hook("mkdir /ctl/made-by-hook"));
  require_ok(s.create());
  auto r = s.start();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("startContainer hook 0 (/bin/sh): error running hook: signal: bad system call"));
  CHECK_FALSE(fs::exists(h.ctl / "made-by-hook"));
}

TEST_CASE("hooks: a hook's exit status is reported in runc's words", "[hooks][errors]") {
  Subreaper reaper;
  HookBox h("hooks-exit-words");
  auto [r, took] = create_fails(h, "createRuntime", sh_hook("exit 3"));
  CHECK_THAT(r.err, Contains("error running hook: exit status 3"));
}

TEST_CASE("hooks: a filter that blocks what the hook runner needs fails start naming the hook", "[hooks][seccomp]") {
  HookBox h("hooks-seccomp-fork");
  Sandbox& s = h.s;
  deny_syscalls(h, {"clone", "clone3", "fork", "vfork"}, EPERM, true);
  h.add("startContainer", sh_hook("touch /ctl/hook-ran"));
  require_ok(s.create());
  auto r = s.start();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("startContainer hook 0"));
  CHECK_FALSE(fs::exists(h.ctl / "hook-ran"));
}
