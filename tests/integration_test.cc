// Integration tests: drive the runtime binary ($OCIRUN_BIN, else the built ocirun) through its
// runc-compatible CLI against busybox bundles made by bundles/make-bundle.sh, and check the
// result from the host and from inside the container.
//
// Tests tagged [ocirun] check ocirun's own requirements where runc behaves differently; run
// against runc with:  OCIRUN_BIN=$(which runc) ./integration_test '~[ocirun]'
#include <elf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "integration/harness.h"

using namespace ocirun::it;
using Catch::Matchers::Contains;

namespace {

// A named network namespace made with `ip netns add`, deleted on scope exit.
struct NetNs {
  std::string name = "ocirun-it-" + std::to_string(getpid());
  std::string path = "/run/netns/" + name;
  bool ok = false;
  std::string error;
  NetNs() {
    exec({"ip", "netns", "delete", name});  // left over by a crashed run with our pid
    auto r = exec({"ip", "netns", "add", name});
    ok = r.code == 0;
    error = r.describe();
  }
  ~NetNs() {
    if (ok) exec({"ip", "netns", "delete", name});
  }
};

}  // namespace

// ---- spec, features ----------------------------------------------------------------------------

TEST_CASE("spec writes a config.json that parses", "[spec]") {
  Sandbox s("spec");
  fs::path d = s.host_dir("spec-out");
  require_ok(exec({Env::get().runtime, "spec"}, {.cwd = d.string()}));
  json config = json::parse(read_file(d / "config.json"));
  CHECK(config["process"]["args"] == json::array({"sh"}));
  CHECK(config["ociVersion"].is_string());
  CHECK(config["root"]["path"] == "rootfs");
  CHECK(config["linux"]["namespaces"].is_array());
}

TEST_CASE("spec asks for a cgroup namespace only on a pure cgroup v2 host, as runc", "[spec]") {
  Sandbox s("spec-cgns");
  fs::path d = s.host_dir("spec-out");
  require_ok(exec({Env::get().runtime, "spec"}, {.cwd = d.string()}));
  std::vector<std::string> types;
  const json config = json::parse(read_file(d / "config.json"));
  for (const auto& ns : config["linux"]["namespaces"]) types.push_back(ns["type"]);
  struct statfs st {};
  REQUIRE(::statfs("/sys/fs/cgroup", &st) == 0);
  bool pure_v2 = st.f_type == CGROUP2_SUPER_MAGIC;
  INFO("namespaces: " << json(types).dump() << ", pure cgroup v2 host: " << pure_v2);
  CHECK((std::find(types.begin(), types.end(), "cgroup") != types.end()) == pure_v2);
  CHECK(std::find(types.begin(), types.end(), "mount") != types.end());
}

TEST_CASE("features prints the supported features as JSON", "[features]") {
  auto r = exec({runtime_binary(), "features"});
  require_ok(r);
  json f = json::parse(r.out);
  CHECK(f["ociVersionMin"].is_string());
  CHECK(f["ociVersionMax"].is_string());
  auto ns = f["linux"]["namespaces"];
  REQUIRE(ns.is_array());
  for (auto want : {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"})
    CHECK(std::find(ns.begin(), ns.end(), want) != ns.end());
}

// ---- lifecycle ---------------------------------------------------------------------------------

TEST_CASE("lifecycle: create, start, exit, delete", "[lifecycle]") {
  Sandbox s("lifecycle");
  fs::path ctl = add_ctl_dir(s);
  s.sh("while [ ! -e /ctl/go ]; do sleep 0.05; done; echo done > /ctl/done");
  s.config["annotations"] = {{"org.ocirun.test", "lifecycle"}, {"other", "x y"}};

  require_ok(s.create());
  json st = s.state();
  INFO(st.dump(2));
  CHECK(st["status"] == "created");
  pid_t pid = st.value("pid", 0);
  REQUIRE(pid > 0);
  CHECK(fs::exists("/proc/" + std::to_string(pid)));
  // The user program has not been exec'd yet.
  CHECK_FALSE(contains(read_file("/proc/" + std::to_string(pid) + "/cmdline"), "/ctl/go"));
  CHECK_FALSE(fs::exists(ctl / "done"));
  CHECK(st["ociVersion"].is_string());
  CHECK(st["id"] == s.id);
  CHECK(st["bundle"] == s.bundle.string());
  CHECK(st.contains("created"));
  CHECK(st["annotations"]["org.ocirun.test"] == "lifecycle");
  CHECK(st["annotations"]["other"] == "x y");

  require_ok(s.start());
  CHECK(s.status() == "running");
  CHECK(s.state().value("pid", 0) == pid);
  CHECK(s.start().code != 0);  // already started

  write_file(ctl / "go", "");
  CHECK(s.wait_status("stopped"));
  CHECK(read_file(ctl / "done") == "done\n");

  require_ok(s.rt({"delete", s.id}));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  auto after = s.rt({"state", s.id});
  CHECK(after.code != 0);
  CHECK_THAT(after.err, Contains("does not exist"));
}

TEST_CASE("a relative --root is taken from the caller's working directory", "[lifecycle]") {
  Sandbox s("relative-root");
  s.write_config();
  const std::vector<std::string> root = {Env::get().runtime, "--root", "relstate"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), root.begin(), root.end());
    return exec(args, {.cwd = s.dir.string()});
  };
  auto r = with({"run", "--bundle", s.bundle.string(), s.id});
  INFO(r.describe());
  REQUIRE(r.code == 0);
  CHECK(fs::is_directory(s.dir / "relstate"));
  CHECK_FALSE(fs::exists(fs::path("/relstate")));
  CHECK(with({"list", "-q"}).code == 0);
}

TEST_CASE("HOME comes from the container's /etc/passwd when the env has none (run and exec)", "[env]") {
  // Docker and Kubernetes leave HOME to the runtime: runc sets the user's home, or "/".
  Sandbox s("home-from-passwd");
  json env = json::array();
  for (const auto& e : s.config["process"]["env"])
    if (e.get<std::string>().rfind("HOME=", 0) != 0) env.push_back(e);
  s.config["process"]["env"] = env;
  s.config["process"]["args"] = {"sh", "-c", "echo HOME=$HOME; sleep 30"};
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return contains(s.output(), "HOME="); }));
  CHECK(contains(s.output(), "HOME=/root\n"));
  auto exec_home = [&](const std::vector<std::string>& before_id) {
    std::vector<std::string> args = {"exec"};
    args.insert(args.end(), before_id.begin(), before_id.end());
    args.insert(args.end(), {s.id, "sh", "-c", "echo $HOME"});
    return trim(s.rt(args).out);
  };
  CHECK(exec_home({}) == "/root");
  CHECK(exec_home({"-u", "65534"}) == "/nonexistent");
  CHECK(exec_home({"-u", "4242"}) == "/");
  CHECK(exec_home({"-e", "HOME=/mine"}) == "/mine");
}

TEST_CASE("a program that is a directory or not executable fails with runc's 'permission denied'", "[errors]") {
  // Docker turns this text into exit status 126 (`docker run IMG /etc`).
  for (const char* program : {"/etc", "/etc/passwd"}) {
    Sandbox s("not-executable");
    s.config["process"]["args"] = {program};
    auto r = s.create();
    INFO(r.describe());
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains(std::string("exec: \"") + program + "\": permission denied"));
  }
}

TEST_CASE("create refuses an id that already exists", "[lifecycle]") {
  Sandbox s("duplicate");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.create());
  pid_t pid = state_pid(s);
  CHECK(s.create().code != 0);
  CHECK(s.status() == "created");
  CHECK(state_pid(s) == pid);
}

// ---- run -----------------------------------------------------------------------------------------

TEST_CASE("run: exit code and stdio reach the caller", "[run]") {
  Sandbox s("run-exit");
  s.sh("echo to-stdout; echo to-stderr >&2; exit 3");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 3);
  CHECK(r.out == "to-stdout\n");
  CHECK_THAT(r.err, Contains("to-stderr"));
}

TEST_CASE("run: a process killed by signal N exits 128+N", "[run]") {
  int sig = GENERATE(SIGKILL, SIGTERM);
  Sandbox s("run-signal");
  // A pid namespace's init ignores signals it has no handler for, even its own: stay in the
  // host's pid namespace so the shell can kill itself.
  remove_namespace(s.config, "pid");
  s.sh("kill -" + std::to_string(sig) + " $$; sleep 5");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 128 + sig);
}

TEST_CASE("run --keep leaves the stopped container for state and delete, as runc", "[run]") {
  Sandbox s("run-keep");
  s.config["linux"]["cgroupsPath"] = "/ocirun-it-keep-" + std::to_string(::getpid()) + "/" + s.id;
  s.sh("exit 3");
  auto r = s.run({"--keep"});
  INFO(r.describe());
  CHECK(r.code == 3);
  CHECK(s.status() == "stopped");
  // Its cgroup stays until delete (runc's "run --keep (check cgroup exists)").
  std::string pids_dir = "/sys/fs/cgroup/pids" + s.config["linux"]["cgroupsPath"].get<std::string>();
  if (fs::exists("/sys/fs/cgroup/pids")) CHECK(fs::is_directory(pids_dir));
  require_ok(s.rt({"delete", s.id}));
  CHECK(s.rt({"state", s.id}).code != 0);
  CHECK_FALSE(fs::exists(pids_dir));
}

TEST_CASE("run --detach returns while the container runs", "[run]") {
  Sandbox s("run-detach");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  CHECK(s.status() == "running");
  pid_t pid = state_pid(s);
  CHECK_FALSE(pid_gone(pid));
}

// ---- kill ----------------------------------------------------------------------------------------

TEST_CASE("kill: signals by name and number", "[kill]") {
  auto [sig, trapped] = GENERATE(table<std::string, bool>(
      {{"TERM", true}, {"SIGTERM", true}, {"15", true}, {"KILL", false}, {"SIGKILL", false}, {"9", false}}));
  INFO("signal " << sig);
  Sandbox s("kill-" + sig);
  fs::path ctl = add_ctl_dir(s);
  s.sh("trap 'echo caught > /ctl/sig; exit 0' TERM; touch /ctl/ready; while :; do sleep 0.05; done");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));

  require_ok(s.rt({"kill", s.id, sig}));
  CHECK(s.wait_status("stopped"));
  if (trapped) {
    CHECK(read_file(ctl / "sig") == "caught\n");
  } else {
    CHECK_FALSE(fs::exists(ctl / "sig"));
  }
}

TEST_CASE("kill: a bogus signal fails and the container keeps running", "[kill]") {
  std::string sig = GENERATE("NOSUCHSIGNAL", "SIGFOO", "9x", "65");
  Sandbox s("kill-bogus");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  auto r = s.rt({"kill", s.id, sig});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK(s.status() == "running");
}

TEST_CASE("kill: a stopped container errors", "[kill]") {
  Sandbox s("kill-stopped");
  s.config["process"]["args"] = {"true"};
  require_ok(s.run_detached());
  REQUIRE(s.wait_status("stopped"));
  auto r = s.rt({"kill", s.id, "KILL"});
  INFO(r.describe());
  CHECK(r.code != 0);
}

TEST_CASE("kill: signal 0 checks the container exists and sends nothing", "[kill]") {
  Sandbox s("kill-zero");
  fs::path ctl = add_ctl_dir(s);
  // Any signal that arrived would end it: the shell exits on each of them it can catch.
  s.sh("trap 'echo caught > /ctl/sig; exit 0' HUP INT TERM USR1 USR2; touch /ctl/ready; while :; do sleep 0.05; done");
  require_ok(s.create());
  for (auto sig : {"0", "00"}) {
    INFO("created, signal " << sig);
    require_ok(s.rt({"kill", s.id, sig}));
    require_ok(s.rt({"kill", "--all", s.id, sig}));
  }
  CHECK(s.status() == "created");
  require_ok(s.start());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  require_ok(s.rt({"kill", s.id, "0"}));
  require_ok(s.rt({"kill", "--all", s.id, "0"}));
  CHECK(s.status() == "running");
  CHECK_FALSE(fs::exists(ctl / "sig"));
  // runc takes 0 only as a number.
  for (auto sig : {"SIG0", "sig0"}) {
    auto r = s.rt({"kill", s.id, sig});
    INFO(r.describe());
    CHECK(r.code == 1);
  }
  CHECK(s.status() == "running");

  // Stopped, as runc: signal 0 to the init fails (nothing runs), with --all it is not an error.
  require_ok(s.rt({"kill", s.id, "KILL"}));
  REQUIRE(s.wait_status("stopped"));
  auto r = s.rt({"kill", s.id, "0"});
  INFO(r.describe());
  CHECK(r.code == 1);
  // The exact words containerd's shim ignores when it kills a container that has just exited.
  CHECK_THAT(r.err, Contains("container not running"));
  auto term = s.rt({"kill", s.id, "TERM"});
  CHECK(term.code == 1);
  CHECK_THAT(term.err, Contains("container not running"));
  require_ok(s.rt({"kill", "--all", s.id, "0"}));
  require_ok(s.rt({"kill", "--all", s.id, "KILL"}));
  CHECK(s.status() == "stopped");
}

TEST_CASE("kill --all signals every process of the container", "[kill]") {
  Sandbox s("kill-all");
  fs::path ctl = add_ctl_dir(s);
  // PID 1 ignores TERM (no handler); it exits only once --all has killed its children.
  s.sh("sleep 1000 & sleep 1000 & touch /ctl/ready; wait");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  pid_t pid = state_pid(s);
  std::string pidns = readlink_str("/proc/" + std::to_string(pid) + "/ns/pid");
  REQUIRE(eventually([&] { return pids_in_pidns(pidns).size() == 3; }));

  require_ok(s.rt({"kill", "--all", s.id, "TERM"}));
  CHECK(s.wait_status("stopped"));
  CHECK(eventually([&] { return pids_in_pidns(pidns).empty(); }));
}

// ---- list ----------------------------------------------------------------------------------------

TEST_CASE("list: table, json and quiet", "[list]") {
  Sandbox s("list");
  s.config["process"]["args"] = {"sleep", "1000"};
  std::string created = s.id, running = s.new_id();
  require_ok(s.create(created));
  require_ok(s.run_detached(running));

  auto table = s.rt({"list"});
  require_ok(table);
  CHECK_THAT(table.out, Contains(created));
  CHECK_THAT(table.out, Contains(running));
  // runc's layout (Go's tabwriter, minwidth 12, padding 3): the ID column is as wide as the
  // longest id plus 3, and every row's PID starts where the header's does.
  {
    INFO(table.out);
    auto rows = lines(table.out);
    REQUIRE(rows.size() == 3);
    size_t id_width = std::max<size_t>(12, std::max(created.size(), running.size()) + 3);
    CHECK(rows[0].rfind("ID" + std::string(id_width - 2, ' ') + "PID ", 0) == 0);
    for (size_t i = 1; i < rows.size(); ++i) {
      CHECK(rows[i].size() > id_width);
      CHECK(rows[i][id_width - 1] == ' ');
      CHECK(std::isdigit(static_cast<unsigned char>(rows[i][id_width])));
    }
  }

  auto quiet = s.rt({"list", "-q"});
  require_ok(quiet);
  CHECK(line_set(quiet.out) == std::set<std::string>{created, running});

  auto js = s.rt({"list", "--format", "json"});
  require_ok(js);
  json arr = json::parse(js.out);
  REQUIRE(arr.is_array());
  std::map<std::string, std::string> status;
  for (auto& c : arr) status[c.value("id", "")] = c.value("status", "");
  CHECK(status == std::map<std::string, std::string>{{created, "created"}, {running, "running"}});
  // Each entry in runc's field order, as `state` prints it.
  CHECK(js.out.rfind("[{\"ociVersion\":", 0) == 0);
  CHECK(js.out.find("\"id\":") < js.out.find("\"status\":"));
}

// ---- delete --------------------------------------------------------------------------------------

TEST_CASE("delete: a running container needs --force", "[delete]") {
  Sandbox s("delete");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  pid_t pid = state_pid(s);

  auto r = s.rt({"delete", s.id});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK(s.status() == "running");
  CHECK_FALSE(pid_gone(pid));

  require_ok(s.rt({"delete", "--force", s.id}));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK(wait_pid_gone(pid));
  CHECK_THAT(s.rt({"state", s.id}).err, Contains("does not exist"));
}

TEST_CASE("delete --force removes a created container", "[delete]") {
  Sandbox s("delete-created");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.create());
  pid_t pid = state_pid(s);
  require_ok(s.rt({"delete", "--force", s.id}));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK(wait_pid_gone(pid));
}

TEST_CASE("unknown container ids: does not exist", "[errors]") {
  Sandbox s("unknown");
  require_ok(s.create());  // the state root exists and holds another container
  const std::string missing = "no-such-container";
  for (auto args : std::vector<std::vector<std::string>>{
           {"state", missing}, {"kill", missing, "KILL"}, {"delete", missing}, {"start", missing}}) {
    auto r = s.rt(args);
    INFO(args[0] << ": " << r.describe());
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("does not exist"));
  }
}

TEST_CASE("errors name the container on one stderr line", "[errors][ocirun]") {
  Sandbox s("error-text");
  auto r = s.rt({"state", "no-such-container"});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK(r.out.empty());
  auto err = lines(trim(r.err));
  REQUIRE(err.size() == 1);
  CHECK_THAT(err[0], Contains("no-such-container") && Contains("does not exist"));
}

// ---- namespaces ----------------------------------------------------------------------------------

TEST_CASE("namespaces: each requested namespace is new", "[namespaces]") {
  Sandbox s("ns-new");
  set_namespace(s.config, "cgroup");
  const std::vector<std::string> kinds = {"pid", "net", "ipc", "uts", "mnt", "cgroup"};
  std::string script;
  for (auto& k : kinds) script += "echo " + k + "=$(readlink /proc/self/ns/" + k + "); ";
  s.sh(script);
  require_ok(s.create());
  pid_t pid = state_pid(s);
  for (auto& k : kinds) {
    INFO("namespace " << k);
    std::string theirs = readlink_str("/proc/" + std::to_string(pid) + "/ns/" + k);
    CHECK_FALSE(theirs.empty());
    CHECK(theirs != readlink_str("/proc/self/ns/" + k));
  }
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  auto inside = line_set(s.output());
  for (auto& k : kinds) CHECK(inside.count(k + "=" + readlink_str("/proc/self/ns/" + k)) == 0);
  CHECK(inside.size() == kinds.size());
}

namespace {
// The host's mountinfo lines that name `path`, and the one of /: what a container sharing
// the runtime's mount namespace must leave as it found it.
std::vector<std::string> mount_lines_touching(const fs::path& path) {
  std::vector<std::string> out;
  for (const auto& line : lines(read_file("/proc/self/mountinfo"))) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point == "/" || contains(line, path.string())) out.push_back(line);
  }
  return out;
}
}  // namespace

TEST_CASE("namespaces: left out of the config, every namespace is the runtime's, the mount namespace too",
          "[namespaces][nomntns]") {
  // runtime-spec: a namespace type not listed is inherited (the validation suite's
  // linux_ns_itype). Without a mount namespace nothing is mounted: the rootfs is chrooted.
  Subreaper reaper;
  Sandbox s("ns-inherited");
  s.config["linux"]["namespaces"] = json::array();
  s.config["mounts"] = json::array();
  s.config["linux"].erase("maskedPaths");
  s.config["linux"].erase("readonlyPaths");
  s.config["linux"].erase("devices");
  s.config["root"]["readonly"] = false;
  s.config.erase("hostname");
  s.sh("ls / > /seen-root; exec sleep 1000");
  const auto before = mount_lines_touching(s.dir);
  require_ok(s.create());
  pid_t pid = state_pid(s);
  for (const std::string k : {"pid", "net", "ipc", "uts", "mnt", "cgroup", "user"}) {
    INFO("namespace " << k);
    CHECK(readlink_str("/proc/" + std::to_string(pid) + "/ns/" + k) == readlink_str("/proc/self/ns/" + k));
  }
  require_ok(s.start());
  REQUIRE(s.wait_status("running"));
  REQUIRE(eventually([&] { return fs::exists(s.rootfs / "seen-root"); }));
  // The process's / is the rootfs (chroot): it sees the busybox tree, not the host's.
  CHECK(fs::equivalent("/proc/" + std::to_string(pid) + "/root", s.rootfs));
  CHECK(mount_lines_touching(s.dir) == before);
  // exec lands in the same root, not the host's.
  auto e = s.rt({"exec", s.id, "sh", "-c", "test -e /seen-root && echo in-rootfs"});
  INFO(e.describe());
  CHECK(e.out == "in-rootfs\n");
  require_ok(s.rt({"delete", "--force", s.id}));
  CHECK(wait_pid_gone(pid));
  CHECK(mount_lines_touching(s.dir) == before);
}

TEST_CASE("namespaces: without a mount namespace, what would mount on the host is refused by name",
          "[namespaces][nomntns]") {
  Sandbox s("ns-nomnt-refused");
  remove_namespace(s.config, "mount");
  // The default config has mounts: the first thing named.
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("config.json: /mounts: would change the host's mounts"));
  s.config["mounts"] = json::array();
  r = s.create();
  CHECK_THAT(r.err, Contains("config.json: /linux/maskedPaths: unable to restrict sys entries without a private MNT namespace"));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
}

TEST_CASE("namespaces: a network namespace joined by path", "[namespaces]") {
  NetNs netns;
  if (!netns.ok) {
    WARN("cannot create a network namespace with ip netns add: " << netns.error);
    return;
  }
  struct stat st {};
  REQUIRE(stat(netns.path.c_str(), &st) == 0);
  const std::string want = "net:[" + std::to_string(st.st_ino) + "]";

  Sandbox s("ns-join");
  set_namespace(s.config, "network", netns.path);
  s.sh("readlink /proc/self/ns/net");
  require_ok(s.create());
  CHECK(readlink_str("/proc/" + std::to_string(state_pid(s)) + "/ns/net") == want);
  require_ok(s.start());
  REQUIRE(s.wait_status("stopped"));
  CHECK(trim(s.output()) == want);
}

TEST_CASE("namespaces: the process is PID 1", "[namespaces]") {
  Sandbox s("ns-pid1");
  s.sh("echo $$");
  CHECK(run_ok(s).out == "1\n");
}

TEST_CASE("namespaces: user namespace with uid and gid mappings", "[namespaces][userns]") {
  if (!fs::exists("/proc/self/ns/user")) {
    WARN("kernel without user namespaces");
    return;
  }
  Sandbox s("ns-user");
  // The container's root is host uid 100000, and owns the rootfs.
  use_user_namespace(s);
  s.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /bin/busybox");
  auto r = run_ok(s);
  auto out = lines(r.out);
  REQUIRE(out.size() == 5);
  auto squeeze = [](const std::string& l) { return status_field("x:" + l, "x"); };
  CHECK(squeeze(out[0]) == "0 100000 65536");
  CHECK(squeeze(out[1]) == "0 100000 65536");
  CHECK(out[2] == "0");
  CHECK(out[3] == "0");
  CHECK(out[4] == "0:0");
}

namespace {

// Runs s (run_ok) and returns its stdout; the host's `file` must read the same afterwards.
std::string run_keeping_host_file(Sandbox& s, const fs::path& file) {
  std::string host_before = read_file(file);
  std::string out = run_ok(s).out;
  CHECK(read_file(file) == host_before);
  return out;
}

}  // namespace

TEST_CASE("namespaces: hostname", "[namespaces]") {
  Sandbox s("ns-uts");
  s.config["hostname"] = "it-host";
  s.sh("hostname; cat /proc/sys/kernel/hostname");
  CHECK(run_keeping_host_file(s, "/proc/sys/kernel/hostname") == "it-host\nit-host\n");
}

TEST_CASE("namespaces: hostname is set in a uts namespace joined by path", "[namespaces]") {
  // runtime-tools' linux_ns_path, and pods whose containers share the sandbox's uts namespace.
  Sandbox s("ns-uts-join");
  s.config["hostname"] = "first-host";
  s.config["process"]["args"] = {"sleep", "30"};
  require_ok(s.run_detached());
  const std::string uts = "/proc/" + std::to_string(state_pid(s)) + "/ns/uts";
  const std::string joiner = s.new_id();
  s.config["hostname"] = "joined-host";
  set_namespace(s.config, "uts", uts);
  s.sh("hostname");
  s.write_config();
  const std::string host_before = read_file("/proc/sys/kernel/hostname");
  auto r = s.rt({"run", "--bundle", s.bundle.string(), joiner});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(r.out == "joined-host\n");
  CHECK(trim(s.rt({"exec", s.id, "hostname"}).out) == "joined-host");  // the first container's too
  CHECK(read_file("/proc/sys/kernel/hostname") == host_before);
}

// runc 1.1 ignores "domainname".
TEST_CASE("namespaces: domainname", "[namespaces][ocirun]") {
  Sandbox s("ns-domain");
  s.config["hostname"] = "it-host";
  s.config["domainname"] = "it.example";
  s.sh("cat /proc/sys/kernel/domainname");
  CHECK(run_keeping_host_file(s, "/proc/sys/kernel/domainname") == "it.example\n");
}

// ---- mounts --------------------------------------------------------------------------------------

TEST_CASE("mounts: tmpfs with size, mode and flags", "[mounts]") {
  Sandbox s("mount-tmpfs");
  s.add_mount("/mnt/scratch", "tmpfs", "tmpfs", {"nosuid", "nodev", "noexec", "size=2048k", "mode=1770"});
  s.sh("cat /proc/self/mountinfo; echo mode=$(stat -c %a /mnt/scratch)");
  auto r = run_ok(s);
  auto mounts = parse_mountinfo(r.out);
  auto* m = find_mount(mounts, "/mnt/scratch");
  INFO(r.out);
  REQUIRE(m);
  CHECK(m->fstype == "tmpfs");
  for (auto opt : {"nosuid", "nodev", "noexec"}) CHECK(has_option(m->options, opt));
  CHECK(has_option(m->super_options, "size=2048k"));
  CHECK(has_option(m->super_options, "mode=1770"));
  CHECK_THAT(r.out, Contains("mode=1770"));
}

TEST_CASE("mounts: bind mounts read-only and read-write", "[mounts]") {
  Sandbox s("mount-bind");
  fs::path ro = s.host_dir("ro"), rw = s.host_dir("rw");
  write_file(ro / "hello", "from host\n");
  s.add_mount("/ro", "bind", ro.string(), {"rbind", "ro"});
  s.add_mount("/rw", "bind", rw.string(), {"rbind", "rw"});
  s.sh("cat /ro/hello; echo x > /ro/new && echo ro-was-writable; echo written > /rw/new; "
       "grep -E ' /(ro|rw) ' /proc/self/mountinfo");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("from host"));
  CHECK_FALSE(contains(r.out, "ro-was-writable"));
  CHECK_THAT(r.err, Contains("Read-only file system"));
  CHECK_FALSE(fs::exists(ro / "new"));
  CHECK(read_file(rw / "new") == "written\n");
  auto mounts = parse_mountinfo(r.out);
  REQUIRE(find_mount(mounts, "/ro"));
  REQUIRE(find_mount(mounts, "/rw"));
  CHECK(has_option(find_mount(mounts, "/ro")->options, "ro"));
  CHECK(has_option(find_mount(mounts, "/rw")->options, "rw"));
}

TEST_CASE("mounts: bind mount flags nosuid, nodev, noexec", "[mounts]") {
  Sandbox s("mount-flags");
  fs::path d = s.host_dir("flags");
  s.add_mount("/flags", "bind", d.string(), {"rbind", "nosuid", "nodev", "noexec"});
  s.sh("cat /proc/self/mountinfo");
  auto mounts = parse_mountinfo(run_ok(s).out);
  auto* m = find_mount(mounts, "/flags");
  REQUIRE(m);
  INFO(m->options);
  for (auto opt : {"nosuid", "nodev", "noexec"}) CHECK(has_option(m->options, opt));
}

namespace {
// What a propagation lab saw (see run_propagation_lab), by name: "host-sees", "container-sees",
// "host-group", "volume-fields".
std::map<std::string, std::string> lab_results(const std::string& out) {
  std::map<std::string, std::string> seen;
  for (const auto& line : lines(out))
    if (auto eq = line.find('='); eq != std::string::npos) seen[line.substr(0, eq)] = trim(line.substr(eq + 1));
  return seen;
}

// In a private mount namespace of the test (the host's propagation untouched): a scratch
// tmpfs made rshared, bind-mounted at /m of a container whose rootfsPropagation and volume
// options are the caller's. The container mounts a tmpfs at /m/fromc; the lab then mounts one
// at <scratch>/fromh, and reports what each side sees and the peer groups of both ends.
std::map<std::string, std::string> run_propagation_lab(Sandbox& s, const std::string& root_propagation,
                                                       std::vector<std::string> volume_options) {
  const fs::path scratch = s.host_dir("scratch");
  if (!root_propagation.empty()) s.config["linux"]["rootfsPropagation"] = root_propagation;
  volume_options.insert(volume_options.begin(), "rbind");
  s.add_mount("/m", "bind", (scratch / "vol").string(), volume_options);
  for (auto set : {"bounding", "effective", "permitted"}) s.config["process"]["capabilities"][set].push_back("CAP_SYS_ADMIN");
  s.sh("mkdir /m/fromc && mount -t tmpfs fromc /m/fromc && touch /m/fromc/made /m/done; exec sleep 1000");
  s.write_config();
  const std::string rt = s.runtime + " --root " + s.state_root.string();
  const std::string d = scratch.string();
  const std::string script =
      "set -e; mount --make-rslave /; mount -t tmpfs lab " + d + "; mount --make-rshared " + d + "; mkdir " + d +
      "/vol; " + rt + " run -d --bundle " + s.bundle.string() + " " + s.id + " </dev/null >" + (s.dir / "run.out").string() +
      " 2>&1; pid=$(" + rt + " state " + s.id +
      " | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); "
      "for i in $(seq 100); do [ -e " + d + "/vol/done ] && break; sleep 0.1; done; "
      "echo host-sees=$([ -e " + d + "/vol/fromc/made ] && echo yes || echo no); "
      "mkdir " + d + "/vol/fromh; mount -t tmpfs fromh " + d + "/vol/fromh; "
      "echo container-sees=$(grep -c ' /m/fromh ' /proc/$pid/mountinfo || true); "
      "echo host-group=$(grep ' " + d + " ' /proc/self/mountinfo | grep -o 'shared:[0-9]*'); "
      "awk '$5==\"/m\" {o=\"\"; for (i = 7; $i != \"-\"; i++) o = o \" \" $i; print \"volume-fields=\" o}' "
      "/proc/$pid/mountinfo; " + rt + " delete -f " + s.id;
  auto r = exec({"unshare", "-m", "--propagation", "unchanged", "sh", "-c", script});
  INFO(r.describe() << read_file(s.dir / "run.out"));
  REQUIRE(r.code == 0);
  return lab_results(r.out);
}
}  // namespace

TEST_CASE("mounts: an rshared volume with rootfsPropagation shared is in the host's peer group", "[mounts][propagation]") {
  // What Docker (-v SRC:/m:rshared) and Kubernetes' Bidirectional mount propagation send.
  Sandbox s("propagation-shared");
  auto seen = run_propagation_lab(s, "shared", {"rshared"});
  INFO(seen["volume-fields"] << " / host " << seen["host-group"]);
  CHECK(seen["host-group"].rfind("shared:", 0) == 0);
  CHECK(seen["volume-fields"] == seen["host-group"]);  // the host's group, not a new one
  CHECK(seen["host-sees"] == "yes");
  CHECK(seen["container-sees"] == "1");
}

TEST_CASE("mounts: an rslave volume, and the default, get the host's mounts and send none back", "[mounts][propagation]") {
  const bool by_default = GENERATE(false, true);
  INFO((by_default ? "no rootfsPropagation, no volume option" : "rootfsPropagation rslave, volume rslave"));
  Sandbox s("propagation-slave");
  auto seen = run_propagation_lab(s, by_default ? "" : "rslave", by_default ? std::vector<std::string>{} : std::vector<std::string>{"rslave"});
  INFO(seen["volume-fields"] << " / host " << seen["host-group"]);
  REQUIRE(seen["host-group"].rfind("shared:", 0) == 0);
  CHECK(seen["volume-fields"] == "master:" + seen["host-group"].substr(7));
  CHECK(seen["host-sees"] == "no");
  CHECK(seen["container-sees"] == "1");
}

TEST_CASE("mounts: proc, sysfs, devpts, mqueue and shm are mounted", "[mounts]") {
  Sandbox s("mount-std");
  s.sh("cat /proc/self/mountinfo");
  auto r = run_ok(s);
  auto mounts = parse_mountinfo(r.out);
  INFO(r.out);
  for (auto [mp, type] : std::vector<std::pair<std::string, std::string>>{{"/proc", "proc"},
                                                                          {"/sys", "sysfs"},
                                                                          {"/dev", "tmpfs"},
                                                                          {"/dev/pts", "devpts"},
                                                                          {"/dev/mqueue", "mqueue"},
                                                                          {"/dev/shm", "tmpfs"}}) {
    INFO(mp);
    auto* m = find_mount(mounts, mp);
    REQUIRE(m);
    CHECK(m->fstype == type);
  }
  CHECK(has_option(find_mount(mounts, "/sys")->options, "ro"));
  CHECK(has_option(find_mount(mounts, "/")->options, "ro"));
}

TEST_CASE("mounts: readonly root", "[mounts]") {
  bool readonly = GENERATE(true, false);
  Sandbox s(readonly ? "root-ro" : "root-rw");
  s.config["root"]["readonly"] = readonly;
  s.sh("touch /x; echo rc=$?");
  auto r = s.run();
  INFO(r.describe());
  REQUIRE(r.code == 0);
  if (readonly) {
    CHECK(r.out == "rc=1\n");
    CHECK_THAT(r.err, Contains("Read-only file system"));
    CHECK_FALSE(fs::exists(s.rootfs / "x"));
  } else {
    CHECK(r.out == "rc=0\n");
    CHECK(fs::exists(s.rootfs / "x"));
  }
}

TEST_CASE("mounts: maskedPaths hide files and directories", "[mounts]") {
  Sandbox s("masked");
  fs::path data = s.host_dir("data");
  write_file(data / "secret", "top secret\n");
  fs::create_directories(data / "dir");
  write_file(data / "dir" / "inner", "inner\n");
  s.add_mount("/data", "bind", data.string(), {"rbind", "ro"});
  auto& masked = s.config["linux"]["maskedPaths"];
  masked.push_back("/data/secret");
  masked.push_back("/data/dir");
  masked.push_back("/data/does-not-exist");
  // /proc/kcore is not on every kernel: also check the first masked /proc file this host has.
  std::string proc_file;
  for (auto& p : masked)
    if (std::string path = p; path.rfind("/proc/", 0) == 0 && fs::is_regular_file(path)) {
      proc_file = path;
      break;
    }
  std::string script = "echo \"secret=[$(cat /data/secret)]\"; echo \"dir=[$(ls -A /data/dir)]\"; ";
  if (fs::exists("/proc/kcore")) script += "echo \"kcore=[$(head -c 16 /proc/kcore | wc -c)]\"; ";
  if (!proc_file.empty()) script += "echo \"proc=[$(head -c 16 " + proc_file + " | wc -c)]\"";
  s.sh(script);
  auto r = run_ok(s);
  INFO(r.describe());
  CHECK_THAT(r.out, Contains("secret=[]"));
  CHECK_THAT(r.out, Contains("dir=[]"));
  if (fs::exists("/proc/kcore")) CHECK_THAT(r.out, Contains("kcore=[0]"));
  if (!proc_file.empty()) CHECK_THAT(r.out, Contains("proc=[0]"));
  CHECK(read_file(data / "secret") == "top secret\n");  // masked, not changed
}

TEST_CASE("mounts: readonlyPaths", "[mounts]") {
  Sandbox s("readonly-paths");
  fs::path data = s.host_dir("data");
  fs::create_directories(data / "sub");
  s.add_mount("/data", "bind", data.string(), {"rbind", "rw"});
  s.config["linux"]["readonlyPaths"].push_back("/data/sub");
  s.sh("echo x > /proc/sys/kernel/hostname; echo proc=$?; "
       "echo x > /data/sub/f; echo sub=$?; echo x > /data/f; echo data=$?");
  auto r = run_ok(s);
  INFO(r.describe());
  CHECK_THAT(r.out, Contains("proc=1") && Contains("sub=1") && Contains("data=0"));
  CHECK_THAT(r.err, Contains("Read-only file system"));
  CHECK_FALSE(fs::exists(data / "sub" / "f"));
  CHECK(fs::exists(data / "f"));
}

TEST_CASE("mounts: a rootfs symlink cannot send a mount outside the rootfs", "[mounts][security]") {
  Sandbox s("symlink-escape");
  const fs::path outside = "/tmp/ocirun-it-outside-" + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(outside, ec);
  fs::create_directories(outside);
  struct RemoveOutside {
    fs::path p;
    ~RemoveOutside() {
      std::error_code ec;
      umount2(p.c_str(), MNT_DETACH);
      fs::remove_all(p, ec);
    }
  } remove_outside{outside};
  write_file(outside / "marker", "untouched\n");
  fs::create_directory_symlink(outside, s.rootfs / "evil");

  s.add_mount("/evil", "tmpfs", "tmpfs", {"size=1m"});
  s.sh("touch /evil/escaped; cat /proc/self/mountinfo");
  auto host_mounted = [&] { return find_mount(parse_mountinfo(read_file("/proc/self/mountinfo")), outside.string()); };

  auto r = s.create();
  // Refusing the mount is fine; landing outside the rootfs is not.
  if (r.code == 0) {
    CHECK_FALSE(host_mounted());
    require_ok(s.start());
    REQUIRE(s.wait_status("stopped"));
    auto inside = parse_mountinfo(s.output());
    auto* m = find_mount(inside, outside.string());
    if (!m) m = find_mount(inside, "/evil");
    INFO(s.output());
    REQUIRE(m);
    CHECK(m->fstype == "tmpfs");
    // The symlink was resolved inside the rootfs.
    CHECK(fs::is_directory(s.rootfs / outside.relative_path()));
  }
  CHECK_FALSE(host_mounted());
  std::set<std::string> entries;
  for (auto& e : fs::directory_iterator(outside)) entries.insert(e.path().filename().string());
  CHECK(entries == std::set<std::string>{"marker"});
  CHECK(read_file(outside / "marker") == "untouched\n");
}

// ---- devices and sysctl --------------------------------------------------------------------------

TEST_CASE("devices: the default nodes and /dev symlinks", "[devices]") {
  Sandbox s("devices");
  s.sh("for d in null zero full random urandom tty; do echo \"$d $(stat -c '%F %t:%T' /dev/$d)\"; done; "
       "for l in fd stdin stdout stderr ptmx; do echo \"$l -> $(readlink /dev/$l)\"; done; "
       "echo x > /dev/null && head -c 4 /dev/zero | wc -c");
  auto r = run_ok(s);
  INFO(r.out);
  auto out = line_set(r.out);
  for (auto want : {"null character special file 1:3", "zero character special file 1:5",
                    "full character special file 1:7", "random character special file 1:8",
                    "urandom character special file 1:9", "tty character special file 5:0",
                    "fd -> /proc/self/fd", "stdin -> /proc/self/fd/0", "stdout -> /proc/self/fd/1",
                    "stderr -> /proc/self/fd/2", "ptmx -> pts/ptmx", "4"})
    CHECK(out.count(want) == 1);
}

TEST_CASE("devices: a linux.devices entry is created and usable", "[devices]") {
  Sandbox s("devices-custom");
  s.config["linux"]["devices"] = {
      {{"path", "/dev/mydev"}, {"type", "c"}, {"major", 1}, {"minor", 7}, {"fileMode", 0640}, {"uid", 0}, {"gid", 0}}};
  s.config["linux"]["resources"]["devices"].push_back(
      {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 7}, {"access", "rwm"}});
  s.sh("stat -c '%F %t:%T %a %u:%g' /dev/mydev; head -c 3 /dev/mydev | wc -c");
  CHECK(run_ok(s).out == "character special file 1:7 640 0:0\n3\n");
}

TEST_CASE("sysctl: set inside the container's network namespace only", "[sysctl]") {
  Sandbox s("sysctl");
  const std::string host_before = read_file("/proc/sys/net/ipv4/ip_forward");
  const std::string want = trim(host_before) == "1" ? "0" : "1";
  s.config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", want}};
  s.sh("cat /proc/sys/net/ipv4/ip_forward");
  CHECK(run_ok(s).out == want + "\n");
  CHECK(read_file("/proc/sys/net/ipv4/ip_forward") == host_before);
}

// ---- process -------------------------------------------------------------------------------------

TEST_CASE("process: capability sets", "[process][caps]") {
  auto [caps, hex] = GENERATE(table<std::vector<std::string>, std::string>({
      {{"CAP_NET_BIND_SERVICE"}, "0000000000000400"},
      {{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"}, "0000000000200021"},
      {std::vector<std::string>{}, "0000000000000000"},
  }));
  INFO("caps " << json(caps).dump());
  Sandbox s("caps");
  for (auto set : {"bounding", "effective", "permitted", "inheritable", "ambient"})
    s.config["process"]["capabilities"][set] = caps;
  s.sh("cat /proc/self/status");
  auto out = run_ok(s).out;
  for (auto field : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    INFO(field);
    CHECK(status_field(out, field) == hex);
  }
}

TEST_CASE("process: rlimits", "[process]") {
  Sandbox s("rlimits");
  s.config["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 512}},
                                    {{"type", "RLIMIT_CORE"}, {"soft", 1024}, {"hard", 2048}}};
  s.sh("ulimit -n; ulimit -Hn; grep 'Max core file size' /proc/self/limits");
  auto out = lines(run_ok(s).out);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "512");
  CHECK(out[1] == "512");
  CHECK(status_field("x:" + out[2], "x") == "Max core file size 1024 2048 bytes");
}

TEST_CASE("process: noNewPrivileges", "[process]") {
  bool nnp = GENERATE(true, false);
  Sandbox s("nnp");
  s.config["process"]["noNewPrivileges"] = nnp;
  s.sh("cat /proc/self/status");
  CHECK(status_field(run_ok(s).out, "NoNewPrivs") == (nnp ? "1" : "0"));
}

TEST_CASE("process: user, group and additional groups", "[process]") {
  Sandbox s("user");
  s.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"additionalGids", {10, 20}}};
  s.sh("id; cat /proc/self/status");
  auto out = run_ok(s).out;
  INFO(out);
  CHECK_THAT(out, Contains("uid=1000(user) gid=1000(user)"));
  CHECK(status_field(out, "Uid") == "1000 1000 1000 1000");
  CHECK(status_field(out, "Gid") == "1000 1000 1000 1000");
  std::set<std::string> groups;
  std::istringstream ss(status_field(out, "Groups"));
  for (std::string g; ss >> g;) groups.insert(g);
  CHECK(groups.count("10") == 1);
  CHECK(groups.count("20") == 1);
  CHECK(groups.count("0") == 0);  // root's group is gone
}

TEST_CASE("process: umask", "[process]") {
  Sandbox s("umask");
  s.config["process"]["user"]["umask"] = 027;
  s.sh("umask; touch /tmp/f; stat -c %a /tmp/f");
  s.config["root"]["readonly"] = false;
  CHECK(run_ok(s).out == "0027\n640\n");
}

TEST_CASE("process: cwd and env", "[process]") {
  Sandbox s("cwd-env");
  s.config["process"]["cwd"] = "/home/user";
  s.config["process"]["env"].push_back("FOO=bar baz");
  s.sh("pwd; echo \"$FOO\"; echo \"$PATH\"");
  auto out = lines(run_ok(s).out);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "/home/user");
  CHECK(out[1] == "bar baz");
  CHECK_THAT(out[2], Contains("/bin"));
}

TEST_CASE("process: oomScoreAdj", "[process]") {
  int own = std::stoi(read_file("/proc/self/oom_score_adj"));
  if (own >= 1000) {
    WARN("oom_score_adj is already 1000 here: raising it cannot be checked");
    return;
  }
  // Lowering needs CAP_SYS_RESOURCE, which this host's bounding set may lack: raise it.
  int want = std::min(1000, std::max(own, 0) + 300);
  Sandbox s("oom");
  s.config["process"]["oomScoreAdj"] = want;
  s.sh("cat /proc/self/oom_score_adj");
  CHECK(run_ok(s).out == std::to_string(want) + "\n");
}

// ---- terminal ------------------------------------------------------------------------------------

TEST_CASE("terminal: the pty master arrives on --console-socket", "[terminal]") {
  Sandbox s("terminal");
  s.config["process"]["terminal"] = true;
  s.sh("tty; echo hello-from-pty");
  ConsoleSocket sock(s.dir / "console.sock");
  require_ok(s.create({}, {"--console-socket", sock.path.string()}));
  int master = sock.receive_fd();
  REQUIRE(master >= 0);
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } close_master{master};
  CHECK(isatty(master));

  require_ok(s.start());
  std::string out = read_all(master, 10s);
  INFO(out);
  CHECK_THAT(out, Contains("hello-from-pty"));
  CHECK((contains(out, "/dev/pts/") || contains(out, "/dev/console")));
  CHECK(s.wait_status("stopped"));
}

// ---- file descriptors ----------------------------------------------------------------------------

TEST_CASE("fds: the container gets only stdio", "[fds]") {
  Sandbox s("fds");
  s.sh("ls /proc/self/fd");
  std::string out;
  SECTION("run") { out = run_ok(s).out; }
  SECTION("create and start") {
    require_ok(s.create());
    require_ok(s.start());
    REQUIRE(s.wait_status("stopped"));
    out = s.output();
  }
  INFO(out);
  auto fds = line_set(out);
  for (auto std_fd : {"0", "1", "2"}) CHECK(fds.count(std_fd) == 1);
  CHECK(fds.size() <= 4);  // 0, 1, 2 and the directory ls is reading
}

TEST_CASE("fds: --preserve-fds passes extra descriptors", "[fds]") {
  Sandbox s("preserve-fds");
  write_file(s.dir / "extra", "preserved-data\n");
  int fd = open((s.dir / "extra").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } close_fd{fd};
  s.sh("cat <&3; ls /proc/self/fd");
  auto r = run_ok(s, {"--preserve-fds", "1"}, {.extra_fds = {{fd, 3}}});
  auto out = line_set(r.out);
  CHECK(out.count("preserved-data") == 1);
  CHECK(out.count("3") == 1);
}

// ---- failures --------------------------------------------------------------------------------------

TEST_CASE("a failed create leaves nothing behind", "[errors]") {
  std::string failure = GENERATE("missing-binary", "bad-mount");
  INFO(failure);
  Subreaper reaper;
  Sandbox s("failed-" + failure);
  if (failure == "missing-binary") {
    s.config["process"]["args"] = {"/no/such/binary"};
  } else {
    s.add_mount("/mnt/bad", "no-such-fstype", "none", {});
  }
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK_THAT(s.rt({"state", s.id}).err, Contains("does not exist"));
  CHECK(eventually([] { return Subreaper::live_children().empty(); }, 5s));
  CHECK_FALSE(contains(read_file("/proc/self/mountinfo"), s.dir.string()));

  // The id is free again.
  s.config = Env::get().base_config;
  s.config["root"]["path"] = s.rootfs.string();
  s.config["process"]["terminal"] = false;
  s.config["process"]["args"] = {"true"};
  require_ok(s.create());
  CHECK(s.status() == "created");
}

TEST_CASE("a config without process: create makes the container, start refuses naming /process, delete works",
          "[lifecycle][errors]") {
  // runtime-spec: process is OPTIONAL at create, REQUIRED at start.
  Subreaper reaper;
  Sandbox s("no-process");
  s.config.erase("process");
  auto c = s.create();
  INFO(c.describe() << s.errors());
  REQUIRE(c.code == 0);
  json st = s.state();
  CHECK(st.value("status", "") == "created");
  pid_t pid = st.value("pid", 0);
  CHECK(pid > 0);
  CHECK_FALSE(pid_gone(pid));
  auto r = s.start();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("config.json: /process: is required to start the container"));
  // Refused before anything changed: still created, with the same init.
  CHECK(s.status() == "created");
  CHECK(state_pid(s) == pid);
  require_ok(s.rt({"delete", s.id}));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK(wait_pid_gone(pid));
  CHECK(eventually([] { return Subreaper::live_children().empty(); }, 5s));
  // run: the same refusal, and nothing left.
  s.id = s.new_id();
  auto run = s.run();
  INFO(run.describe());
  CHECK(run.code != 0);
  CHECK_THAT(run.err, Contains("/process"));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
}

// ---- CLI: logging, help, flags ---------------------------------------------------------------------

// As runc: with no --log, stderr is the log, so --log-format json makes it JSON lines.
TEST_CASE("log: --log-format json without --log writes the error to stderr as JSON", "[cli]") {
  Sandbox s("log-json-stderr");
  auto r = s.rt({"--log-format", "json", "state", "no-such-container"});
  INFO(r.describe());
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  auto err_lines = lines(r.err);
  REQUIRE(err_lines.size() == 1);
  json entry = json::parse(err_lines[0], nullptr, /*allow_exceptions=*/false);
  REQUIRE(entry.is_object());
  CHECK(entry.value("level", "") == "error");
  CHECK_THAT(entry.value("msg", ""), Contains("does not exist"));
  CHECK(entry.contains("time"));
}

// runc 1.1 writes the error without the "ocirun: " prefix, and its message lacks the id.
TEST_CASE("log file: --log with --log-format json: one error object per failure", "[cli][ocirun]") {
  Sandbox s("log-json");
  fs::path log = s.dir / "ocirun.log";
  auto r = s.rt({"--log", log.string(), "--log-format", "json", "state", "no-such-container"});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK(r.out.empty());

  REQUIRE(fs::exists(log));
  std::string text = read_file(log);
  INFO("log file:\n" << text);
  auto log_lines = lines(text);
  REQUIRE(log_lines.size() == 1);
  json entry = json::parse(log_lines[0]);
  REQUIRE(entry.is_object());
  CHECK(entry.value("level", "") == "error");
  CHECK_THAT(entry.value("msg", ""), Contains("does not exist"));
  CHECK_THAT(entry.value("msg", ""), Contains("no-such-container"));
  REQUIRE(entry.contains("time"));
  CHECK(entry["time"].is_string());
  CHECK_FALSE(entry["time"].get<std::string>().empty());

  // The user still sees it, once, on stderr.
  auto err = lines(trim(r.err));
  REQUIRE(err.size() == 1);
  CHECK(err[0].rfind("ocirun: ", 0) == 0);
  CHECK_THAT(err[0], Contains("does not exist"));
}

// The runtime installed under runc's name (a symlink `runc`), as scripts and runc's suite run it.
struct RuncNamedLink {
  fs::path dir = fs::path(Env::get().base) / ("runc-link-" + std::to_string(::getpid()));
  fs::path path = dir / "runc";
  RuncNamedLink() {
    fs::create_directories(dir);
    fs::create_symlink(Env::get().runtime, path);
  }
  ~RuncNamedLink() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

TEST_CASE("cli --version: runc's lines and keys", "[cli]") {
  RuncNamedLink link;
  auto as_runc = exec({link.path.string(), "--version"});
  CHECK(std::regex_search(as_runc.out, std::regex("^runc version [0-9]+\\.[0-9]+\\.[0-9]+")));  // version.bats
  for (const char* flag : {"--version", "-v"}) {
    auto r = exec({Env::get().runtime, flag});
    INFO(r.describe());
    REQUIRE(r.code == 0);
    auto l = lines(trim(r.out));
    REQUIRE(l.size() >= 3);
    // What runc's version.bats and scripts read: "<name> version X.Y.Z", "commit: ...", "spec: X.Y.Z".
    CHECK(std::regex_search(l[0], std::regex("^[a-z]+ version [0-9]+\\.[0-9]+\\.[0-9]+")));
    CHECK(l[1].rfind("commit: ", 0) == 0);
    CHECK(std::regex_search(l[2], std::regex("^spec: [0-9]+\\.[0-9]+\\.[0-9]+$")));
    CHECK(std::any_of(l.begin(), l.end(), [](const std::string& x) {
      return std::regex_search(x, std::regex("^libseccomp: [0-9]+\\.[0-9]+\\.[0-9]+$"));
    }));
  }
}

TEST_CASE("cli --debug: runc's level=debug lines, to stderr or to --log (text and json)", "[cli]") {
  Sandbox s("debug-log");
  s.config["process"]["args"] = {"true"};
  // The three lines runc's debug.bats looks for, whatever the runtime's own debug output.
  auto check_debug = [](const std::string& text) {
    CHECK_THAT(text, Contains("nsexec container setup"));
    CHECK_THAT(text, Contains("child process in init()"));
    CHECK_THAT(text, Contains("init: closing the pipe to signal completion"));
  };
  SECTION("stderr") {
    s.write_config();
    auto r = s.rt({"--debug", "run", "--bundle", s.bundle.string(), s.new_id()});
    INFO(r.describe());
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Contains("level=debug"));
    check_debug(r.err);
  }
  for (std::string format : {"text", "json"}) {
    DYNAMIC_SECTION("--log, --log-format " << format) {
      fs::path log = s.dir / ("debug-" + format + ".log");
      s.write_config();
      auto r = s.rt({"--log", log.string(), "--log-format", format, "--debug", "run", "--bundle", s.bundle.string(), s.new_id()});
      INFO(r.describe());
      CHECK(r.code == 0);
      CHECK_THAT(r.err, !Contains("level=debug"));
      std::string text = read_file(log);
      INFO("log:\n" << text);
      CHECK_THAT(text, Contains(format == "json" ? "\"level\":\"debug\"" : "level=debug"));
      check_debug(text);
    }
  }
}

// runc's exec.bats looks for its exec steps in `--debug exec`, on stderr or in --log.
TEST_CASE("cli --debug exec: runc's step lines, to stderr or to --log", "[cli][exec]") {
  Sandbox s("debug-exec");
  s.sh("sleep 100");
  REQUIRE(s.run_detached().code == 0);
  auto check_exec_debug = [](const std::string& text) {
    CHECK_THAT(text, Contains("level=debug"));
    CHECK_THAT(text, Contains("nsexec container setup"));
    CHECK_THAT(text, Contains("child process in init()"));
    CHECK_THAT(text, Contains("setns_init: about to exec"));
  };
  SECTION("stderr") {
    auto r = s.rt({"--debug", "exec", s.id, "true"});
    INFO(r.describe());
    CHECK(r.code == 0);
    check_exec_debug(r.err);
  }
  SECTION("--log") {
    fs::path log = s.dir / "debug-exec.log";
    auto r = s.rt({"--debug", "--log", log.string(), "exec", s.id, "true"});
    INFO(r.describe());
    CHECK(r.code == 0);
    check_exec_debug(read_file(log));
  }
}

TEST_CASE("help: runc's shape (NAME: then \"<name> - ...\"), and no help topic for an unknown command", "[cli]") {
  RuncNamedLink link;
  const std::string bin = link.path.string();  // urfave/cli prints the name it was run by
  for (const char* flag : {"-h", "--help"}) {
    auto r = exec({bin, flag});
    INFO(r.describe());
    CHECK(r.code == 0);
    auto l = lines(trim(r.out));
    REQUIRE(l.size() >= 2);
    CHECK(trim(l[0]) == "NAME:");
    CHECK_THAT(l[1], Contains("runc - Open Container Initiative runtime"));  // help.bats' regex
  }
  auto own = exec({Env::get().runtime, "-h"});
  CHECK_THAT(own.out, Contains(fs::path(Env::get().runtime).filename().string() + " - Open Container Initiative runtime"));
  for (const char* cmd : {"checkpoint", "delete", "events", "exec", "kill", "list", "pause", "restore", "resume", "spec",
                          "start", "run", "state", "update"}) {
    auto r = exec({bin, cmd, "-h"});
    INFO(cmd << ": " << r.describe());
    CHECK(r.code == 0);
    std::vector<std::string> l;
    for (const auto& x : lines(r.out))
      if (!trim(x).empty()) l.push_back(x);
    REQUIRE(l.size() >= 2);
    CHECK(trim(l[0]) == "NAME:");
    CHECK_THAT(l[1], Contains(std::string("runc ") + cmd));
  }
  auto r = exec({bin, "foo", "-h"});
  CHECK_THAT(r.out + r.err, Contains("No help topic for 'foo'"));
}

// Under a shim, create's stderr is the container's stderr: a warning written there shows up in
// `docker logs` as if the container had printed it. runc writes its warnings to --log only.
TEST_CASE("log file: warnings go to --log and not to the container's stderr", "[cli][ocirun]") {
  Sandbox s("log-warnings");
  s.sh("echo out; echo err >&2");
  // Two warnings from the modules below the runtime: the cgroup translation (kernel memory
  // limits are gone) and the seccomp compiler (a syscall this libseccomp does not know).
  s.config["linux"]["resources"]["memory"]["kernel"] = 64 * 1024 * 1024;
  s.config["linux"]["seccomp"] = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["no_such_syscall_ocirun"], "action": "SCMP_ACT_ERRNO"}]})");
  s.write_config();

  SECTION("with --log: in the log file only") {
    fs::path log = s.dir / "ocirun.log";
    auto r = s.rt({"--log", log.string(), "--log-format", "json", "run", "--bundle", s.bundle.string(), s.id});
    INFO(r.describe());
    CHECK(r.code == 0);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
    std::string text = fs::exists(log) ? read_file(log) : "";
    INFO("log file:\n" << text);
    std::vector<std::string> warnings;
    for (const auto& line : lines(text)) {
      json entry = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (entry.is_object() && entry.value("level", "") == "warning") warnings.push_back(entry.value("msg", ""));
    }
    REQUIRE(warnings.size() == 2);
    CHECK_THAT(warnings[0] + warnings[1], Contains("linux.resources.memory.kernel is ignored"));
    CHECK_THAT(warnings[0] + warnings[1], Contains("unknown syscall \"no_such_syscall_ocirun\" ignored"));
  }
  SECTION("without --log: on stderr, as runc's log lines (logrus text)") {
    auto r = s.rt({"run", "--bundle", s.bundle.string(), s.id});
    INFO(r.describe());
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Contains("level=warning msg=\"linux.resources.memory.kernel is ignored"));
    CHECK_THAT(r.err, Contains("unknown syscall \\\"no_such_syscall_ocirun\\\" ignored"));
  }
}

TEST_CASE("help: usage on --help, help CMD and CMD --help", "[cli][ocirun]") {
  const std::string bin = Env::get().runtime;
  SECTION("--help") {
    auto r = exec({bin, "--help"});
    INFO(r.describe());
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Contains("USAGE"));
    for (auto cmd : {"create", "start", "state", "kill", "delete", "run", "list", "spec"}) CHECK_THAT(r.out, Contains(cmd));
    CHECK_THAT(r.out, Contains("--root"));
  }
  SECTION("help create and create --help") {
    for (auto argv : std::vector<std::vector<std::string>>{{bin, "help", "create"}, {bin, "create", "--help"}, {bin, "create", "-h"}}) {
      auto r = exec(argv);
      INFO(argv[1] << ": " << r.describe());
      CHECK(r.code == 0);
      CHECK_THAT(r.out, Contains("USAGE"));
      CHECK_THAT(r.out, Contains("create"));
      for (auto flag : {"--bundle", "--pid-file", "--console-socket", "--no-pivot", "--preserve-fds"})
        CHECK_THAT(r.out, Contains(flag));
    }
  }
  SECTION("an unknown command") {
    auto r = exec({bin, "frobnicate"});
    INFO(r.describe());
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("frobnicate"));
    CHECK_THAT(r.err, Contains("unknown command"));
  }
  SECTION("an unknown global flag") {
    auto r = exec({bin, "--frobnicate", "list"});
    INFO(r.describe());
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("--frobnicate"));
    CHECK_THAT(r.err, Contains("unknown flag"));
  }
  SECTION("an unknown command flag") {
    Sandbox s("help-flags");
    auto r = s.rt({"create", "--frobnicate", "--bundle", s.bundle.string(), s.id});
    INFO(r.describe());
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("--frobnicate"));
    CHECK_THAT(r.err, Contains("unknown flag"));
    CHECK_FALSE(fs::exists(s.state_root / s.id));
  }
  SECTION("help for an unknown command") {
    auto r = exec({bin, "help", "frobnicate"});
    INFO(r.describe());
    CHECK(r.code != 0);
    CHECK_THAT(r.err, Contains("frobnicate"));
  }
}

// runc 1.1 reports a Go decoding error without the JSON path.
TEST_CASE("a broken config.json: create fails naming the field, leaves nothing", "[errors][ocirun]") {
  auto [what, text, want] = GENERATE(table<std::string, std::string, std::string>({
      {"not-json", "{ this is not json", "config.json"},
      {"args-type", "", "/process/args/0"},
  }));
  INFO(what);
  Subreaper reaper;
  Sandbox s("broken-" + what);
  if (text.empty()) {
    json config = s.config;
    config["process"]["args"] = json::array({42, "x"});
    text = config.dump(2);
  }
  write_file(s.bundle / "config.json", text);
  auto r = s.rt({"create", "--bundle", s.bundle.string(), s.id},
                {.stdout_file = (s.dir / "create.out").string(), .stderr_file = (s.dir / "create.err").string()});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains(want));
  CHECK(lines(trim(r.err)).size() == 1);
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK(eventually([] { return Subreaper::live_children().empty(); }, 5s));
}

// Without systemd as PID 1 (this host) the systemd driver refuses, as runc does, before
// anything exists. tests/systemd/systemd_cgroup_test.sh covers a host where systemd runs.
TEST_CASE("systemd cgroup flag: refused without systemd, leaves nothing", "[cli][ocirun]") {
  if (fs::exists("/run/systemd/system")) {
    WARN("skipped: systemd runs on this host");
    return;
  }
  Subreaper reaper;
  Sandbox s("systemd-cgroup");
  s.config["process"]["args"] = {"sleep", "1000"};
  s.config["linux"]["cgroupsPath"] = "system.slice:ocirun:" + s.id;
  s.write_config();
  auto r = s.rt({"--systemd-cgroup", "create", "--bundle", s.bundle.string(), s.id},
                {.stdout_file = (s.dir / "create.out").string(), .stderr_file = (s.dir / "create.err").string()});
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("systemd not running on this host, can't use systemd as cgroups manager"));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK(s.rt({"state", s.id}).code != 0);
  CHECK(eventually([] { return Subreaper::live_children().empty(); }, 5s));
  CHECK_FALSE(contains(read_file("/proc/self/mountinfo"), s.dir.string()));
  CHECK_FALSE(fs::exists("/sys/fs/cgroup/memory/system.slice/ocirun-" + s.id + ".scope"));
  CHECK_FALSE(fs::exists("/sys/fs/cgroup/unified/system.slice/ocirun-" + s.id + ".scope"));
}

// ---- time and cgroup namespaces --------------------------------------------------------------------

// runc 1.1 knows no time namespace (1.2 does).
TEST_CASE("namespaces: time namespace with offsets", "[namespaces][ocirun]") {
  if (!fs::exists("/proc/self/ns/time")) {
    WARN("kernel without time namespaces");
    return;
  }
  constexpr long kDay = 86400;
  Sandbox s("ns-time");
  set_namespace(s.config, "time");
  // /proc/uptime follows CLOCK_BOOTTIME, so the boottime offset is the one it shows; the
  // monotonic offset is checked through /proc/self/timens_offsets.
  s.config["linux"]["timeOffsets"] = {{"monotonic", {{"secs", kDay}, {"nanosecs", 0}}},
                                      {"boottime", {{"secs", kDay}, {"nanosecs", 0}}}};
  s.sh("cat /proc/uptime; cat /proc/self/timens_offsets; readlink /proc/self/ns/time");
  double host_before = std::stod(read_file("/proc/uptime"));
  auto r = run_ok(s);
  double host_after = std::stod(read_file("/proc/uptime"));
  INFO(r.out);
  auto out = lines(r.out);
  REQUIRE(out.size() == 4);
  double inside = std::stod(out[0]);
  CHECK(inside >= host_before + kDay);
  CHECK(inside <= host_after + kDay + 1);
  auto squeeze = [](const std::string& l) { return status_field("x:" + l, "x"); };
  CHECK(squeeze(out[1]) == "monotonic 86400 0");
  CHECK(squeeze(out[2]) == "boottime 86400 0");
  CHECK(out[3] != readlink_str("/proc/self/ns/time"));
}

TEST_CASE("namespaces: a new cgroup namespace is rooted at the container's cgroup", "[namespaces]") {
  if (!fs::exists("/proc/self/ns/cgroup")) {
    WARN("kernel without cgroup namespaces");
    return;
  }
  Sandbox s("ns-cgroup");
  set_namespace(s.config, "cgroup");
  s.sh("cat /proc/self/cgroup; readlink /proc/self/ns/cgroup");
  auto r = run_ok(s);
  INFO(r.out);
  auto out = lines(trim(r.out));
  REQUIRE(out.size() >= 2);
  CHECK(out.back() != readlink_str("/proc/self/ns/cgroup"));
  out.pop_back();
  for (auto& line : out) {
    INFO(line);
    // hierarchy-ID:controllers:path
    auto colon = line.find(':', line.find(':') + 1);
    REQUIRE(colon != std::string::npos);
    CHECK(line.substr(colon + 1) == "/");
  }
}

// ---- run with a terminal -------------------------------------------------------------------------

TEST_CASE("run in the foreground with process.terminal relays the pty", "[terminal]") {
  // runc wants its stdin to be a terminal here: give it one.
  int host_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  REQUIRE(host_master >= 0);
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } close_master{host_master};
  REQUIRE(grantpt(host_master) == 0);
  REQUIRE(unlockpt(host_master) == 0);
  std::string slave = ptsname(host_master);

  Sandbox s("run-terminal");
  s.config["process"]["terminal"] = true;
  s.sh("tty; echo hello-from-pty; exit 7");
  auto r = s.run({}, {.stdin_path = slave, .timeout = 30s});
  INFO(r.describe());
  CHECK_FALSE(r.timed_out);
  CHECK(r.code == 7);
  CHECK_THAT(r.out, Contains("hello-from-pty"));
  CHECK((contains(r.out, "/dev/pts/") || contains(r.out, "/dev/console")));
  CHECK_FALSE(fs::exists(s.state_root / s.id));  // run deletes the container
}

// ---- a missing executable ----------------------------------------------------------------------------

TEST_CASE("create: a missing args[0] fails create, naming the executable", "[errors]") {
  std::string name = GENERATE("no-such-program", "/bin/no-such-program");
  INFO(name);
  Subreaper reaper;
  Sandbox s("missing-exe");
  s.config["process"]["args"] = {name, "arg"};
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains(name));
  // Lower case, as runc writes it: Docker matches these words for its exit codes 126 and 127.
  CHECK_THAT(r.err, Contains("executable file not found") || Contains("no such file or directory"));
  if (name.find('/') == std::string::npos) CHECK_THAT(r.err, Contains("not found"));
  CHECK_FALSE(fs::exists(s.state_root / s.id));
  CHECK(eventually([] { return Subreaper::live_children().empty(); }, 5s));
}

// podman asks for /sys/fs/cgroup without a cgroup namespace: each hierarchy is then a
// bind of the container's own cgroup, remounted read-only (the remount once hit the
// directory under the bind and failed with EINVAL).
TEST_CASE("mounts: a cgroup mount without a cgroup namespace", "[mounts][ocirun]") {
  Sandbox s("cgroup-mount-no-ns");
  remove_namespace(s.config, "cgroup");
  s.sh("grep ' /sys/fs/cgroup' /proc/self/mountinfo; echo ---; ls /sys/fs/cgroup/pids");
  auto r = run_ok(s);
  INFO(r.out);
  auto mounts = parse_mountinfo(r.out.substr(0, r.out.find("---")));
  auto* top = find_mount(mounts, "/sys/fs/cgroup");
  REQUIRE(top);
  CHECK(has_option(top->options, "ro"));
  if (fs::exists("/sys/fs/cgroup/pids")) {
    auto* pids = find_mount(mounts, "/sys/fs/cgroup/pids");
    REQUIRE(pids);
    CHECK(has_option(pids->options, "ro"));
    CHECK(contains(r.out, "pids.max"));  // the container's own cgroup, not an empty dir
  }
}

// ---- nested: the runtime inside one of its own containers (kind, CI runners) -------------------

namespace {

// Every capability this process's bounding set holds: what a privileged container can get here.
std::vector<std::string> host_capabilities() {
  static const char* const names[] = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
      "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
      "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
      "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  uint64_t bounding = std::stoull(status_field(read_file("/proc/self/status"), "CapBnd"), nullptr, 16);
  std::vector<std::string> out;
  for (size_t i = 0; i < std::size(names); ++i)
    if (bounding & (uint64_t{1} << i)) out.push_back(names[i]);
  return out;
}

// An outer container made by the runtime, privileged as kind's nodes are (every capability the
// host allows, every device, nothing masked, a cgroup namespace, /sys/fs/cgroup mounted `rw` or
// `ro`), with the runtime's binary at /usr/local/bin/ocirun and a bundle for an inner container
// at /inner. The outer runs `script` and exits with its status.
// Whether the ELF file at `path` asks for a program interpreter (dynamically linked: the
// sanitizer build), so that a container running it needs the host's loader and libraries.
bool is_dynamic_elf(const std::string& path) {
  std::string elf = read_file(path);
  if (elf.size() < sizeof(Elf64_Ehdr) || elf.compare(0, SELFMAG, ELFMAG) != 0) return false;
  Elf64_Ehdr header;
  std::memcpy(&header, elf.data(), sizeof header);
  for (size_t i = 0; i < header.e_phnum; ++i) {
    size_t offset = header.e_phoff + i * header.e_phentsize;
    if (offset + sizeof(Elf64_Phdr) > elf.size()) break;
    Elf64_Phdr program;
    std::memcpy(&program, elf.data() + offset, sizeof program);
    if (program.p_type == PT_INTERP) return true;
  }
  return false;
}

struct NestedSandbox : Sandbox {
  NestedSandbox(const std::string& name, const std::string& cgroup_mode, const std::string& script) : Sandbox(name) {
    auto caps = host_capabilities();
    for (const char* set : {"bounding", "effective", "permitted"}) config["process"]["capabilities"][set] = caps;
    config["process"]["noNewPrivileges"] = false;
    config["linux"]["maskedPaths"] = json::array();
    config["linux"]["readonlyPaths"] = json::array();
    config["linux"]["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
    config["linux"]["cgroupsPath"] = "/ocirun-it-nested-" + std::to_string(::getpid()) + "/" + id;
    set_namespace(config, "cgroup");
    for (auto& m : config["mounts"]) {
      if (m["destination"] != "/sys/fs/cgroup") continue;
      std::vector<std::string> options;
      for (const auto& o : m["options"]) options.push_back(o == "ro" || o == "rw" ? cgroup_mode : o.get<std::string>());
      m["options"] = options;
    }
    add_mount("/run", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=755"});
    fs::create_directories(rootfs / "usr/local/bin");
    write_file(rootfs / "usr/local/bin/ocirun", "");
    add_mount("/usr/local/bin/ocirun", "bind", runtime, {"bind", "ro"});
    if (is_dynamic_elf(runtime)) {  // the busybox rootfs has no loader or libraries of its own
      fs::create_symlink("usr/lib", rootfs / "lib");
      fs::create_directories(rootfs / "usr/lib");
      fs::create_directories(rootfs / "lib64");
      add_mount("/usr/lib", "bind", "/usr/lib", {"rbind", "ro"});
      add_mount("/lib64", "bind", "/lib64", {"rbind", "ro"});
    }

    fs::path inner = host_dir("inner");
    fs::copy(Env::get().template_dir / "rootfs", inner / "rootfs",
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    json inner_config = Env::get().base_config;
    inner_config["root"] = {{"path", "rootfs"}, {"readonly", true}};
    inner_config["process"]["terminal"] = false;
    inner_config["process"]["args"] = {"sh", "-c", "echo inner-ok; grep -E ':(memory|pids):' /proc/self/cgroup"};
    remove_namespace(inner_config, "cgroup");  // its cgroup as the outer container names it
    write_file(inner / "config.json", inner_config.dump());
    add_mount("/inner", "bind", inner.string(), {"rbind", "rw"});
    sh(script);
  }
};

// The outer container's output: the inner run's own and its error, "exit=N", then how many
// containers the inner runtime still lists. Empty (with a warning) without cgroup namespaces.
std::string run_nested(const std::string& name, const std::string& cgroup_mode) {
  if (!fs::exists("/proc/self/ns/cgroup")) {
    WARN("kernel without cgroup namespaces");
    return {};
  }
  NestedSandbox s(name, cgroup_mode,
                  "ocirun --root /run/inner-state run --bundle /inner inner1 2>/run/err; echo exit=$?; cat /run/err; "
                  "echo left=$(ocirun --root /run/inner-state list -q | wc -l)");
  return run_ok(s).out;
}

}  // namespace

TEST_CASE("nested: the runtime runs its containers inside one of its own privileged containers", "[nested]") {
  std::string out = run_nested("nested-rw", "rw");
  if (out.empty()) return;
  INFO(out);
  CHECK_THAT(out, Contains("inner-ok\n"));
  CHECK_THAT(out, Contains("exit=0\n"));
  // In the outer's cgroup namespace: the inner container's own cgroup below the outer's.
  if (fs::exists("/sys/fs/cgroup/memory")) CHECK_THAT(out, Contains(":memory:/ocirun/inner1\n"));
  CHECK_THAT(out, Contains("left=0\n"));  // run deleted the inner container
}

TEST_CASE("nested: with /sys/fs/cgroup read-only the inner run says what is missing", "[nested]") {
  std::string out = run_nested("nested-ro", "ro");
  if (out.empty()) return;
  INFO(out);
  CHECK_THAT(out, !Contains("inner-ok"));
  CHECK_THAT(out, Contains("exit=1\n"));
  CHECK_THAT(out, Contains("is read-only"));
  CHECK_THAT(out, Contains("/sys/fs/cgroup"));
  CHECK_THAT(out, Contains("left=0\n"));  // nothing left behind
}
