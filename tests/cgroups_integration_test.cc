// cgroups integration tests: real containers from the busybox bundle, their linux.resources
// read back from the host's cgroup files and felt inside (OOM kill, fork failures, cpuset,
// device denials, freezing), and the commands built on the cgroup: pause/resume, update,
// ps, kill --all, events, stats, delete.
//
// Works on cgroup v1, hybrid (this machine) and pure v2 hosts: file names follow the layout
// cgroups::detect_host() finds. Every container gets an absolute cgroupsPath of its own
// (/ocirun-it-<pid>/<id>), so nothing lands under the test's own cgroups; the Sandbox
// force-deletes it even when a test fails.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "cgroups.h"
#include "integration/harness.h"

using namespace ocirun::it;
using Catch::Matchers::Contains;
namespace cg = ocirun::cgroups;

namespace {

// The file's content without trailing whitespace, "" if it cannot be read.
std::string read_trimmed(const fs::path& p) {
  try {
    return trim(read_file(p));
  } catch (...) {
    return "";
  }
}

// This host's cgroup hierarchies, and where a container's cgroupsPath lands in them.
struct HostCgroups {
  cg::Host host;
  bool ok = false;
  std::string why;

  HostCgroups() {
    try {
      host = cg::detect_host();
      ok = true;
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  bool v2() const { return host.layout == cg::Layout::V2; }
  // The directory of `controller` ("memory", "pids", ...) for cgroupsPath `path`.
  fs::path dir(const std::string& controller, const std::string& path) const {
    if (v2()) return host.v2 + path;
    return host.v1.at(controller) + path;
  }
  std::string read(const std::string& controller, const std::string& path, const std::string& file) const {
    return read_trimmed(dir(controller, path) / file);
  }
  // Every hierarchy (named ones and the hybrid unified mount included).
  std::vector<std::string> mounts() const {
    std::vector<std::string> out;
    if (!v2())
      for (const auto& [name, mount] : host.v1)
        if (std::find(out.begin(), out.end(), mount) == out.end()) out.push_back(mount);
    if (!host.v2.empty()) out.push_back(host.v2);
    return out;
  }
  std::vector<fs::path> all_dirs(const std::string& path) const {
    std::vector<fs::path> out;
    for (const auto& m : mounts()) out.push_back(m + path);
    return out;
  }
  // The v2 controllers the container's cgroup can use (enabled or enableable).
  bool has(const std::string& controller) const {
    return v2() ? host.v2_controllers.count(controller) != 0 : host.has_v1(controller);
  }
};

const HostCgroups& hostcg() {
  static HostCgroups h;
  return h;
}

// False (with a warning) when this machine cannot run these tests.
bool usable(std::initializer_list<const char*> controllers = {}) {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return false;
  }
  if (!hostcg().ok) {
    WARN("skipped: no cgroups: " << hostcg().why);
    return false;
  }
  for (const char* c : controllers)
    if (!hostcg().has(c)) {
      WARN("skipped: no " << c << " controller");
      return false;
    }
  return true;
}

// A sandbox whose container has an absolute cgroupsPath of its own.
struct CgSandbox : Sandbox {
  std::string path;
  explicit CgSandbox(const std::string& name) : Sandbox(name) {
    path = "/ocirun-it-" + std::to_string(::getpid()) + "/" + id;
    config["linux"]["cgroupsPath"] = path;
  }
  json& resources() { return config["linux"]["resources"]; }
  std::string read(const std::string& controller, const std::string& file) const {
    return hostcg().read(controller, path, file);
  }
  pid_t pid() { return state().value("pid", 0); }
};

std::string proc_status_state(pid_t pid) {
  return status_field(read_file("/proc/" + std::to_string(pid) + "/status"), "State");
}

uint64_t to_u64(const std::string& s) {
  try {
    return std::stoull(s);
  } catch (...) {
    return 0;
  }
}

// The OOM killer's count for the container's memory cgroup.
uint64_t oom_kills(const CgSandbox& s) {
  const auto& h = hostcg();
  std::string text = h.v2() ? read_trimmed(h.dir("memory", s.path) / "memory.events")
                            : read_trimmed(h.dir("memory", s.path) / "memory.oom_control");
  for (const auto& line : lines(text))
    if (line.rfind("oom_kill ", 0) == 0) return to_u64(line.substr(9));
  return 0;
}

// The memory hog of the brief: the shell collects 64 MiB in a variable.
const char* kHog = "x=$(head -c 64m /dev/zero | tr \"\\0\" a); echo done";

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (const auto& l : lines(text))
    if (!trim(l).empty()) out.push_back(json::parse(l));
  return out;
}

}  // namespace

// ---- memory ----------------------------------------------------------------------------------

TEST_CASE("memory: the limit lands in the host's files", "[cgroups-it][memory]") {
  if (!usable({"memory"})) return;
  CgSandbox s("memory-files");
  s.resources()["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  if (hostcg().v2()) {
    CHECK(s.read("memory", "memory.max") == "16777216");
    CHECK(s.read("memory", "memory.swap.max") == "0");
  } else {
    CHECK(s.read("memory", "memory.limit_in_bytes") == "16777216");
    if (fs::exists(hostcg().dir("memory", s.path) / "memory.memsw.limit_in_bytes"))
      CHECK(s.read("memory", "memory.memsw.limit_in_bytes") == "16777216");
  }
  // The init is in it.
  std::string procs = s.read("memory", "cgroup.procs");
  CHECK(contains("\n" + procs + "\n", "\n" + std::to_string(s.pid()) + "\n"));
}

// The runtime's own processes join the cgroup before the container exists, so what they
// touch after joining counts against the limit: 1 MiB must still leave room for them.
// ocirun's promise (runc fails at 4 MiB), so tagged [ocirun].
TEST_CASE("memory: a container with a 1 MiB limit starts and runs", "[cgroups-it][memory][ocirun]") {
  if (!usable({"memory"})) return;
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  // The ASan runtime's shadow memory in an instrumented ocirun counts against the limit too.
  WARN("skipped: an ASan build of ocirun does not fit in 1 MiB; the static build runs this test");
  return;
#endif
#endif
  CgSandbox s("memory-1m");
  s.resources()["memory"] = {{"limit", 1 << 20}};
  s.config["process"]["args"] = {"echo", "started"};
  auto r = s.run({}, {.timeout = 60s});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(contains(r.out, "started"));
  for (const auto& d : hostcg().all_dirs(s.path)) CHECK_FALSE(fs::exists(d));
}

TEST_CASE("memory: a hog over the limit is OOM-killed, run exits 137", "[cgroups-it][memory][oom]") {
  if (!usable({"memory"})) return;
  CgSandbox s("memory-oom");
  s.resources()["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
  s.sh(kHog);
  auto r = s.run({}, {.timeout = 60s});
  INFO(r.describe());
  CHECK(r.code == 137);
  CHECK_FALSE(contains(r.out, "done"));
  for (const auto& d : hostcg().all_dirs(s.path)) CHECK_FALSE(fs::exists(d));  // run deleted it
}

TEST_CASE("events: an oom event when the OOM killer strikes, the counter rises", "[cgroups-it][memory][oom][events]") {
  if (!usable({"memory"})) return;
  CgSandbox s("events-oom");
  fs::path ctl = add_ctl_dir(s);
  s.resources()["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
  write_file(ctl / "hog.sh", std::string(kHog) + "\n");
  // The init survives: the hog runs in a child shell, the biggest process in the cgroup.
  s.sh("touch /ctl/ready; while [ ! -e /ctl/go ]; do sleep 0.05; done; sh /ctl/hog.sh; echo $? > /ctl/hog.rc; "
       "sleep 1000");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  CHECK(oom_kills(s) == 0);

  fs::path events_out = s.dir / "events.out";
  ExecResult events;
  std::thread reader([&] {
    events = s.rt({"events", "--interval", "300ms", s.id},
                  {.stdout_file = events_out.string(), .stderr_file = (s.dir / "events.err").string(), .timeout = 60s});
  });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{reader};
  // Once a stats event is out, events has its baseline OOM count.
  bool streaming = eventually([&] { return contains(read_trimmed(events_out), "\"type\":\"stats\""); }, 10s);
  write_file(ctl / "go", "");
  REQUIRE(eventually([&] { return fs::exists(ctl / "hog.rc") && !read_trimmed(ctl / "hog.rc").empty(); }, 30s));
  CHECK(read_trimmed(ctl / "hog.rc") == "137");
  CHECK(oom_kills(s) >= 1);
  // events polls the count; give it time, then stop the container: events ends with it.
  CHECK(eventually([&] { return contains(read_trimmed(events_out), "\"type\":\"oom\""); }, 5s));
  require_ok(s.rt({"kill", s.id, "KILL"}));
  reader.join();
  INFO(events.describe());
  CHECK(streaming);
  CHECK(events.code == 0);
  CHECK_FALSE(events.timed_out);
  int ooms = 0, stats = 0;
  for (const auto& e : json_lines(events.out)) {
    CHECK(e["id"] == s.id);
    if (e["type"] == "oom") {
      ++ooms;
      CHECK_FALSE(e.contains("data"));
    } else if (e["type"] == "stats") {
      ++stats;
      CHECK(e["data"]["memory"]["usage"]["limit"] == 16 << 20);
    }
  }
  CHECK(ooms >= 1);
  CHECK(stats >= 1);
}

// ---- pids ------------------------------------------------------------------------------------

TEST_CASE("pids: pids.max holds the limit, a fork loop fails at it", "[cgroups-it][pids]") {
  if (!usable({"pids"})) return;
  CgSandbox s("pids");
  fs::path ctl = add_ctl_dir(s);
  s.resources()["pids"] = {{"limit", 10}};
  // ash gives up on the loop at the first failed fork; the init reports back with builtins
  // and exec, which need no fork of their own.
  s.sh("sh -c 'for i in $(seq 50); do sleep 5 & done; echo survived'; echo $? > /ctl/done; exec sleep 1000");
  require_ok(s.run_detached());
  CHECK(s.read("pids", "pids.max") == "10");
  REQUIRE(eventually([&] { return fs::exists(ctl / "done"); }, 20s));
  CHECK(read_trimmed(ctl / "done") != "0");
  CHECK(to_u64(s.read("pids", "pids.current")) <= 10);
  CHECK_THAT(s.errors(), Contains("can't fork"));
  CHECK_FALSE(contains(s.output(), "survived"));
}

// ---- cpu -------------------------------------------------------------------------------------

TEST_CASE("cpuset: cpus \"0\" is all the container sees", "[cgroups-it][cpu]") {
  if (!usable({"cpuset"})) return;
  CgSandbox s("cpuset");
  fs::path ctl = add_ctl_dir(s);
  s.resources()["cpu"] = {{"cpus", "0"}};
  s.sh("nproc > /ctl/nproc; grep Cpus_allowed_list /proc/self/status > /ctl/status; sleep 1000");
  require_ok(s.run_detached());
  CHECK(s.read("cpuset", "cpuset.cpus") == "0");
  REQUIRE(eventually([&] { return !read_trimmed(ctl / "status").empty(); }));
  CHECK(read_trimmed(ctl / "nproc") == "1");
  CHECK(status_field(read_file(ctl / "status"), "Cpus_allowed_list") == "0");
}

TEST_CASE("cpu: shares and quota land in the files, a busy loop is throttled", "[cgroups-it][cpu][events]") {
  if (!usable({"cpu"})) return;
  CgSandbox s("cpu-quota");
  s.resources()["cpu"] = {{"shares", 512}, {"quota", 20000}, {"period", 100000}};
  s.sh("while :; do :; done");
  require_ok(s.run_detached());
  if (hostcg().v2()) {
    CHECK(s.read("cpu", "cpu.weight") == std::to_string(cg::cpu_shares_to_weight(512)));
    CHECK(s.read("cpu", "cpu.max") == "20000 100000");
  } else {
    CHECK(s.read("cpu", "cpu.shares") == "512");
    CHECK(s.read("cpu", "cpu.cfs_quota_us") == "20000");
    CHECK(s.read("cpu", "cpu.cfs_period_us") == "100000");
  }
  // 20% of one CPU: the loop hits the quota in most periods.
  auto throttled = [&] {
    auto r = s.rt({"events", "--stats", s.id});
    if (r.code != 0) return uint64_t{0};
    return json::parse(r.out)["data"]["cpu"]["throttling"].value("throttledPeriods", uint64_t{0});
  };
  CHECK(eventually([&] { return throttled() >= 3; }, 10s));
  auto stats = json::parse(s.rt({"events", "--stats", s.id}).out)["data"]["cpu"];
  INFO(stats.dump());
  CHECK(stats["usage"].value("total", uint64_t{0}) > 0);
  CHECK(stats["throttling"].value("periods", uint64_t{0}) >= stats["throttling"].value("throttledPeriods", uint64_t{0}));
}

// ---- devices ---------------------------------------------------------------------------------

TEST_CASE("devices: a device outside the allowed list cannot be opened", "[cgroups-it][devices]") {
  if (!usable()) return;
  if (!fs::exists("/dev/kmsg")) {
    WARN("skipped: no /dev/kmsg on the host");
    return;
  }
  CgSandbox s("devices-create");
  // The base config denies all devices; the runtime allows only the default ones (and
  // linux.devices). A bind-mounted host node that is neither stays shut.
  s.resources()["devices"] = json::array({{{"allow", false}, {"access", "rwm"}}});
  s.add_mount("/dev/kmsg", "bind", "/dev/kmsg", {"bind"});
  s.sh("head -c1 /dev/kmsg >/dev/null; echo kmsg=$?; head -c1 /dev/null; echo null=$?; "
       "head -c1 /dev/zero | wc -c");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("kmsg=1"));
  CHECK_THAT(r.err, Contains("Operation not permitted"));
  CHECK_THAT(r.out, Contains("null=0"));
  CHECK_THAT(r.out, Contains("1\n"));  // one byte from /dev/zero
}

// /dev/fuse (c 10:229) as linux.devices lists it. Tests only open it: nothing is read or written.
json fuse_node() {
  return {{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 0666}, {"uid", 0}, {"gid", 0}};
}

TEST_CASE("devices: a rule's access is kept: a device given read-only cannot be opened for writing", "[cgroups-it][devices]") {
  if (!usable({"devices"})) return;
  CgSandbox s("devices-read-only");
  fs::path ctl = add_ctl_dir(s);
  // docker run --device /dev/fuse:/dev/fuse:r
  s.config["linux"]["devices"] = json::array({fuse_node()});
  s.resources()["devices"] = json::array({{{"allow", false}, {"access", "rwm"}},
                                          {{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"access", "r"}}});
  s.sh("true < /dev/fuse; echo $? > /ctl/read.rc; true 2> /ctl/write.err > /dev/fuse; echo $? > /ctl/write.rc; "
       "touch /ctl/ready; sleep 1000");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  CHECK(read_trimmed(ctl / "read.rc") == "0");
  CHECK(read_trimmed(ctl / "write.rc") == "1");
  CHECK_THAT(read_trimmed(ctl / "write.err"), Contains("Operation not permitted"));
  if (hostcg().v2()) return;
  // The config's rules as given, then runc's default rules in runc's order (specconv's
  // AllowedDevices): mknod of any node, then the devices every container may use.
  CHECK(lines(s.read("devices", "devices.list")) ==
        std::vector<std::string>{"c 10:229 r", "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
                                 "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"});
}

TEST_CASE("devices: a default container may mknod any node (as with runc) but not open it", "[cgroups-it][devices]") {
  if (!usable({"devices"})) return;
  CgSandbox s("devices-mknod");
  for (auto set : {"bounding", "effective", "permitted"}) s.config["process"]["capabilities"][set].push_back("CAP_MKNOD");
  s.sh("mknod /dev/fuse2 c 10 229 && echo mknod-c=ok; mknod /dev/loop9 b 7 9 && echo mknod-b=ok; "
       "true 2>&1 < /dev/fuse2; echo open=$?");
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains("mknod-c=ok"));
  CHECK_THAT(r.out, Contains("mknod-b=ok"));
  CHECK_THAT(r.out, Contains("open=1"));
  CHECK_THAT(r.out, Contains("Operation not permitted"));
}

TEST_CASE("devices: a node in linux.devices is created, not allowed: deny-all keeps it shut", "[cgroups-it][devices]") {
  if (!usable({"devices"})) return;
  CgSandbox s("devices-listed-denied");
  fs::path ctl = add_ctl_dir(s);
  s.config["linux"]["devices"] = json::array({fuse_node()});
  s.resources()["devices"] = json::array({{{"allow", false}, {"access", "rwm"}}});
  s.sh("ls -l /dev/fuse > /ctl/ls; true 2> /ctl/read.err < /dev/fuse; echo $? > /ctl/read.rc; "
       "true 2> /ctl/write.err > /dev/fuse; echo $? > /ctl/write.rc; touch /ctl/ready; sleep 1000");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  CHECK_THAT(read_trimmed(ctl / "ls"), Contains("10, 229"));  // the node is there
  CHECK(read_trimmed(ctl / "read.rc") == "1");
  CHECK_THAT(read_trimmed(ctl / "read.err"), Contains("Operation not permitted"));
  CHECK(read_trimmed(ctl / "write.rc") == "1");
  if (!hostcg().v2()) CHECK_FALSE(contains(s.read("devices", "devices.list"), "10:229"));
}

TEST_CASE("devices: without linux.resources only runc's default devices open", "[cgroups-it][devices]") {
  // runc always applies its device rules, from deny-all: a config with no linux.resources
  // must not leave every host device open to the container.
  if (!usable({"devices"})) return;
  CgSandbox s("devices-no-resources");
  fs::path ctl = add_ctl_dir(s);
  s.config["linux"].erase("resources");
  s.config["linux"]["devices"] = json::array({fuse_node()});
  s.sh("true 2> /ctl/read.err < /dev/fuse; echo $? > /ctl/read.rc; "
       "head -c1 /dev/zero > /dev/null; echo $? > /ctl/zero.rc; touch /ctl/ready; sleep 1000");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  CHECK(read_trimmed(ctl / "read.rc") == "1");
  CHECK_THAT(read_trimmed(ctl / "read.err"), Contains("Operation not permitted"));
  CHECK(read_trimmed(ctl / "zero.rc") == "0");
  if (!hostcg().v2()) CHECK_FALSE(contains(s.read("devices", "devices.list"), "a *:* rwm"));
}

TEST_CASE("devices: deny c 1:7 (update) makes /dev/full fail, /dev/null still works", "[cgroups-it][devices][update]") {
  if (!usable()) return;
  CgSandbox s("devices-deny-full");
  fs::path ctl = add_ctl_dir(s);
  s.resources()["devices"] = json::array({{{"allow", false}, {"access", "rwm"}}});
  s.sh("head -c1 /dev/full > /dev/null; echo $? > /ctl/before; touch /ctl/ready; "
       "while [ ! -e /ctl/go ]; do sleep 0.05; done; "
       "head -c1 /dev/full > /dev/null 2> /ctl/full.err; echo $? > /ctl/full.rc; "
       "head -c1 /dev/null; echo $? > /ctl/null.rc; sleep 1000");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  CHECK(read_trimmed(ctl / "before") == "0");  // /dev/full is one of the default devices
  if (!hostcg().v2()) CHECK_THAT(s.read("devices", "devices.list"), Contains("c 1:7 rwm"));

  // The spec's rules come before the default allows (as in runc), so a deny of a default
  // device takes an update.
  fs::path rules = s.dir / "deny-full.json";
  write_file(rules, R"({"devices": [{"allow": false, "type": "c", "major": 1, "minor": 7, "access": "rwm"}]})");
  require_ok(s.rt({"update", "--resources", "-", s.id}, {.stdin_path = rules.string()}));
  if (!hostcg().v2()) {
    CHECK_FALSE(contains(s.read("devices", "devices.list"), "c 1:7"));
    CHECK_THAT(s.read("devices", "devices.list"), Contains("c 1:3 rwm"));
  } else {
    CHECK(cg::attached_device_programs(hostcg().dir("devices", s.path)).size() == 2);
  }
  write_file(ctl / "go", "");
  REQUIRE(eventually([&] { return !read_trimmed(ctl / "null.rc").empty(); }));
  CHECK(read_trimmed(ctl / "full.rc") == "1");
  CHECK_THAT(read_trimmed(ctl / "full.err"), Contains("Operation not permitted"));
  CHECK(read_trimmed(ctl / "null.rc") == "0");
}

// ---- freezer ---------------------------------------------------------------------------------

TEST_CASE("pause and resume: the processes stop and go on", "[cgroups-it][freezer]") {
  if (!usable()) return;
  CgSandbox s("pause");
  fs::path ctl = add_ctl_dir(s);
  s.sh("i=0; while :; do i=$((i+1)); echo $i > /ctl/count.tmp; mv /ctl/count.tmp /ctl/count; sleep 0.05; done");
  require_ok(s.run_detached());
  auto count = [&] { return to_u64(read_trimmed(ctl / "count")); };
  REQUIRE(eventually([&] { return count() >= 2; }));
  pid_t pid = s.pid();

  require_ok(s.rt({"pause", s.id}));
  CHECK(s.status() == "paused");
  if (hostcg().host.has_v1("freezer"))
    CHECK(read_trimmed(hostcg().host.v1.at("freezer") + s.path + "/freezer.state") == "FROZEN");
  else
    CHECK(s.read("memory", "cgroup.freeze") == "1");
  std::string state = proc_status_state(pid);
  INFO("State: " << state);
  // v1 freezer: uninterruptible (D); v2 freezer: a sleeping task (S). Never running.
  CHECK((state.rfind("D", 0) == 0 || state.rfind("S", 0) == 0));
  uint64_t frozen_at = count();
  std::this_thread::sleep_for(400ms);
  CHECK(count() == frozen_at);
  // As runc: pausing a paused container, or deleting it without --force, is an error.
  auto pause_again = s.rt({"pause", s.id});
  CHECK(pause_again.code == 1);
  CHECK_THAT(pause_again.err, Catch::Contains("not running"));
  auto del = s.rt({"delete", s.id});
  CHECK(del.code == 1);
  CHECK_THAT(del.err, Catch::Contains("not stopped: paused"));
  CHECK(s.status() == "paused");

  require_ok(s.rt({"resume", s.id}));
  CHECK(s.status() == "running");
  CHECK(eventually([&] { return count() > frozen_at + 2; }));
  auto again = s.rt({"resume", s.id});
  CHECK(again.code != 0);
  CHECK_THAT(again.err, Catch::Contains("container not paused"));  // runc's text, which clients match
}

TEST_CASE("exec into a paused container: refused in runc's words, --ignore-paused waits for resume", "[cgroups-it][freezer][exec]") {
  if (!usable()) return;
  CgSandbox s("exec-paused");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  require_ok(s.rt({"pause", s.id}));

  auto refused = s.rt({"exec", s.id, "echo", "ok"}, {.timeout = 10s});
  CHECK_FALSE(refused.timed_out);
  CHECK(refused.code == 255);
  CHECK_THAT(refused.err, Contains("cannot exec in a paused container (use --ignore-paused to override)"));

  std::thread resumer([&] {
    std::this_thread::sleep_for(1s);
    s.rt({"resume", s.id});
  });
  auto t0 = std::chrono::steady_clock::now();
  auto r = s.rt({"exec", "--ignore-paused", s.id, "echo", "ok"}, {.timeout = 15s});
  auto waited = std::chrono::steady_clock::now() - t0;
  resumer.join();
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(trim(r.out) == "ok");
  CHECK(waited >= 900ms);  // it ran only once the container was resumed
}

TEST_CASE("exec --cgroup runs the process in a sub-cgroup, runc's rules and words", "[cgroups-it][exec]") {
  if (!usable({"memory", "pids"}) || hostcg().v2()) return;  // the v1 (and hybrid) form
  CgSandbox s("exec-subcg");
  remove_namespace(s.config, "cgroup");  // paths as the host names them
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  fs::path mem_sub = hostcg().dir("memory", s.path) / "submem";
  fs::path pids_sub = hostcg().dir("pids", s.path) / "subpids";
  fs::create_directory(mem_sub);
  fs::create_directory(pids_sub);
  struct RemoveAfter {
    std::vector<fs::path> dirs;
    ~RemoveAfter() {
      for (const auto& d : dirs) ::rmdir(d.c_str());
    }
  } cleanup{{mem_sub, pids_sub}};

  auto r = s.rt({"exec", "--cgroup", "memory:submem", "--cgroup", "pids:subpids", s.id, "cat", "/proc/self/cgroup"});
  require_ok(r);
  CHECK_THAT(r.out, Contains(":memory:" + s.path + "/submem\n"));
  CHECK_THAT(r.out, Contains(":pids:" + s.path + "/subpids\n"));
  CHECK(eventually([&] { return read_trimmed(mem_sub / "cgroup.procs").empty(); }));

  // The same path in every hierarchy, and "/" as the container's own cgroup.
  auto own = s.rt({"exec", "--cgroup", "/", s.id, "cat", "/proc/self/cgroup"});
  require_ok(own);
  CHECK_THAT(own.out, Contains(":memory:" + s.path + "\n"));

  auto up = s.rt({"exec", "--cgroup", "..", s.id, "true"});
  CHECK(up.code == 255);
  CHECK_THAT(up.err, Contains(" .. is not a sub cgroup path"));
  auto missing = s.rt({"exec", "--cgroup", "cpu:nonexistent", s.id, "true"});
  CHECK(missing.code == 255);
  CHECK_THAT(missing.err, Contains(" adding pid "));
  CHECK_THAT(missing.err, Contains("/nonexistent/cgroup.procs: no such file "));
  auto unknown = s.rt({"exec", "--cgroup", "whaaat:/", s.id, "true"});
  CHECK(unknown.code == 255);
  CHECK_THAT(unknown.err, Contains("unknown controller "));
  auto bare_twice = s.rt({"exec", "--cgroup", "a", "--cgroup", "b", s.id, "true"});
  CHECK(bare_twice.code == 255);
  CHECK_THAT(bare_twice.err, Contains("invalid --cgroup argument: a (missing <controller>: prefix)"));
}

// ---- update ----------------------------------------------------------------------------------

TEST_CASE("update: flags and --resources - change the limits live", "[cgroups-it][update]") {
  if (!usable({"memory", "pids"})) return;
  CgSandbox s("update");
  s.resources()["memory"] = {{"limit", 64 << 20}};
  s.resources()["pids"] = {{"limit", 20}};
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  const char* mem_file = hostcg().v2() ? "memory.max" : "memory.limit_in_bytes";
  CHECK(s.read("memory", mem_file) == std::to_string(64 << 20));
  CHECK(s.read("pids", "pids.max") == "20");

  require_ok(s.rt({"update", "--memory", "128m", "--pids-limit", "30", s.id}));
  CHECK(s.read("memory", mem_file) == std::to_string(128 << 20));
  CHECK(s.read("pids", "pids.max") == "30");

  fs::path doc = s.dir / "resources.json";
  write_file(doc, R"({"memory": {"limit": 100663296}, "pids": {"limit": 25}})");
  require_ok(s.rt({"update", "--resources", "-", s.id}, {.stdin_path = doc.string()}));
  CHECK(s.read("memory", mem_file) == "100663296");
  CHECK(s.read("pids", "pids.max") == "25");

  // events --stats sees the new limits.
  auto r = s.rt({"events", "--stats", s.id});
  require_ok(r);
  auto data = json::parse(r.out)["data"];
  CHECK(data["memory"]["usage"]["limit"] == 100663296);
  CHECK(data["pids"]["limit"] == 25);

  // A bad value is refused and changes nothing.
  CHECK(s.rt({"update", "--pids-limit", "lots", s.id}).code != 0);
  CHECK(s.read("pids", "pids.max") == "25");

  // checkBeforeUpdate: a limit below the current usage is refused, the old one stays.
  fs::path tiny = s.dir / "tiny.json";
  write_file(tiny, R"({"memory": {"limit": 4096, "checkBeforeUpdate": true}})");
  auto refused = s.rt({"update", "--resources", "-", s.id}, {.stdin_path = tiny.string()});
  CHECK(refused.code != 0);
  CHECK(refused.err.find("checkBeforeUpdate") != std::string::npos);
  CHECK(s.read("memory", mem_file) == "100663296");
}

TEST_CASE("update --memory -1 after a swap limit lifts both limits, as runc", "[cgroups-it][update]") {
  if (!usable({"memory"})) return;
  CgSandbox s("update-unlimited");
  bool v1_swap = !hostcg().v2() && fs::exists(fs::path(hostcg().host.v1.at("memory")) / "memory.memsw.limit_in_bytes");
  bool v2_swap = hostcg().v2() && fs::exists(fs::path(hostcg().host.v2) / "memory.swap.max");
  s.resources()["memory"] = {{"limit", 32 << 20}};
  if (v1_swap || v2_swap) s.resources()["memory"]["swap"] = 64 << 20;
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  const char* mem_file = hostcg().v2() ? "memory.max" : "memory.limit_in_bytes";
  const char* swap_file = hostcg().v2() ? "memory.swap.max" : "memory.memsw.limit_in_bytes";
  // Unlimited as the kernel spells it: the hierarchy root's value (v1), "max" (v2).
  auto unlimited = [&](const char* file) {
    return hostcg().v2() ? std::string("max") : read_trimmed(fs::path(hostcg().host.v1.at("memory")) / file);
  };
  CHECK(s.read("memory", mem_file) == std::to_string(32 << 20));

  require_ok(s.rt({"update", "--memory", "-1", s.id}));
  CHECK(s.read("memory", mem_file) == unlimited(mem_file));
  if (v1_swap || v2_swap) CHECK(s.read("memory", swap_file) == unlimited(swap_file));

  // And back to a limit with swap: growing memsw from a lower limit works in either order.
  require_ok(s.rt({"update", "--memory", "48m", "--memory-swap", "96m", s.id}));
  CHECK(s.read("memory", mem_file) == std::to_string(48 << 20));
  require_ok(s.rt({"update", "--memory", "16m", "--memory-swap", "24m", s.id}));
  CHECK(s.read("memory", mem_file) == std::to_string(16 << 20));
  if (v1_swap) CHECK(s.read("memory", swap_file) == std::to_string(24 << 20));
}

TEST_CASE("update --cpu-share (runc's spelling), --cpu-rt-period and --cpu-rt-runtime", "[cgroups-it][update][cpu]") {
  if (!usable({"cpu"})) return;
  CgSandbox s("update-cpu");
  s.config["process"]["args"] = {"sleep", "1000"};
  // Realtime time has to be granted down the tree (a new cgroup has 0): as runc's test, the
  // parents get the root's values first. ocirun keeps an empty cgroup it finds; so rmdir here.
  bool rt = !hostcg().v2() && fs::exists(fs::path(hostcg().host.v1.at("cpu")) / "cpu.rt_runtime_us");
  fs::path cpu_root = hostcg().v2() ? fs::path(hostcg().host.v2) : fs::path(hostcg().host.v1.at("cpu"));
  fs::path parent = cpu_root / s.path.substr(1, s.path.rfind('/') - 1), own = cpu_root / s.path.substr(1);
  struct DeleteThenRemove {
    CgSandbox& s;
    std::vector<fs::path> dirs;
    ~DeleteThenRemove() {
      s.rt({"delete", "--force", s.id});
      for (const auto& d : dirs) ::rmdir(d.c_str());
    }
  } cleanup{s, {own, parent}};
  if (rt) {
    fs::create_directories(own);
    for (const auto& d : {parent, own})
      for (const char* f : {"cpu.rt_period_us", "cpu.rt_runtime_us"}) write_file(d / f, read_trimmed(cpu_root / f));
  }
  require_ok(s.run_detached());

  require_ok(s.rt({"update", "--cpu-share", "512", s.id}));
  CHECK(s.read("cpu", hostcg().v2() ? "cpu.weight" : "cpu.shares") ==
        (hostcg().v2() ? std::to_string(cg::cpu_shares_to_weight(512)) : "512"));
  require_ok(s.rt({"update", "--cpu-shares", "256", s.id}));
  if (!hostcg().v2()) CHECK(s.read("cpu", "cpu.shares") == "256");
  if (!rt) return;
  require_ok(s.rt({"update", "--cpu-rt-period", "900001", "--cpu-rt-runtime", "600001", s.id}));
  CHECK(s.read("cpu", "cpu.rt_period_us") == "900001");
  CHECK(s.read("cpu", "cpu.rt_runtime_us") == "600001");
}

TEST_CASE("linux.resources.unified on a cgroup v1 host is refused in runc's words", "[cgroups-it][errors]") {
  if (!usable({"memory"}) || hostcg().v2()) return;
  CgSandbox s("unified-v1");
  s.resources()["unified"] = {{"memory.min", "131072"}};
  s.config["process"]["args"] = {"true"};
  auto r = s.run();
  INFO(r.describe());
  CHECK(r.code != 0);
  CHECK_THAT(r.err, Contains("invalid configuration"));  // runc's "cgroup v1 + unified resources should fail"
  CHECK_FALSE(fs::exists(hostcg().dir("memory", s.path)));
}

// ---- ps, kill --all --------------------------------------------------------------------------

TEST_CASE("ps --format json lists the init and its children", "[cgroups-it][ps]") {
  if (!usable()) return;
  CgSandbox s("ps");
  fs::path ctl = add_ctl_dir(s);
  s.sh("sleep 1000 & sleep 1000 & touch /ctl/ready; wait");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  pid_t init = s.pid();
  std::vector<pid_t> pids;
  REQUIRE(eventually([&] {
    auto r = s.rt({"ps", "--format", "json", s.id});
    if (r.code != 0) return false;
    pids = json::parse(r.out).get<std::vector<pid_t>>();
    return pids.size() == 3;
  }));
  CHECK(std::find(pids.begin(), pids.end(), init) != pids.end());
  for (pid_t p : pids) {
    std::string cgroups = read_file("/proc/" + std::to_string(p) + "/cgroup");
    CHECK_THAT(cgroups, Contains(s.path));
    if (p != init) CHECK_THAT(read_file("/proc/" + std::to_string(p) + "/cmdline"), Contains("sleep"));
  }
  auto table = s.rt({"ps", s.id});
  require_ok(table);
  CHECK_THAT(table.out, Contains("PID"));
  CHECK_THAT(table.out, Contains("sleep 1000"));
  // runc's table: ps -ef's header and its lines for the container's processes only.
  auto rows = lines(table.out);
  INFO(table.out);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].rfind("UID ", 0) == 0);
  CHECK_THAT(rows[0], Contains(" PID ") && Contains(" PPID ") && Contains("CMD"));
  // Arguments after the id go to ps, as runc's.
  auto custom = s.rt({"ps", s.id, "--", "-eo", "pid,comm"});
  require_ok(custom);
  INFO(custom.out);
  auto custom_rows = lines(custom.out);
  REQUIRE(custom_rows.size() == 4);
  CHECK_THAT(custom_rows[0], Contains("PID") && Contains("COMMAND"));
  CHECK_THAT(custom.out, Contains(std::to_string(init)));
}

TEST_CASE("kill --all: every process in the cgroup dies", "[cgroups-it][kill]") {
  if (!usable()) return;
  CgSandbox s("kill-all");
  fs::path ctl = add_ctl_dir(s);
  // No pid namespace: the processes would outlive the init without the cgroup.
  auto& ns = s.config["linux"]["namespaces"];
  for (auto it = ns.begin(); it != ns.end();) it = (*it)["type"] == "pid" ? ns.erase(it) : it + 1;
  s.sh("sleep 1000 & sleep 1000 & touch /ctl/ready; wait");
  require_ok(s.run_detached());
  REQUIRE(eventually([&] { return fs::exists(ctl / "ready"); }));
  std::vector<pid_t> pids;
  REQUIRE(eventually([&] {
    pids = json::parse(s.rt({"ps", "--format", "json", s.id}).out).get<std::vector<pid_t>>();
    return pids.size() == 3;
  }));
  require_ok(s.rt({"kill", "--all", s.id, "KILL"}));
  CHECK(s.wait_status("stopped"));
  for (pid_t p : pids) CHECK(wait_pid_gone(p));
  CHECK(eventually([&] { return s.read("pids", "cgroup.procs").empty(); }));
}

// ---- events --stats, stats -------------------------------------------------------------------

TEST_CASE("events --stats: one stats event in runc's shape", "[cgroups-it][events]") {
  if (!usable({"memory", "pids"})) return;
  CgSandbox s("events-stats");
  s.resources()["memory"] = {{"limit", 32 << 20}};
  s.resources()["pids"] = {{"limit", 15}};
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  auto r = s.rt({"events", "--stats", s.id});
  require_ok(r);
  auto events = json_lines(r.out);
  REQUIRE(events.size() == 1);
  const json& e = events[0];
  INFO(e.dump(2));
  CHECK(e["type"] == "stats");
  CHECK(e["id"] == s.id);
  const json& d = e["data"];
  CHECK(d["memory"]["usage"].value("usage", uint64_t{0}) > 0);
  CHECK(d["memory"]["usage"]["limit"] == 32 << 20);
  CHECK(d["memory"]["usage"].contains("failcnt"));
  CHECK(d["memory"]["swap"].is_object());
  CHECK(d["memory"]["raw"].is_object());
  CHECK(d["pids"].value("current", uint64_t{0}) >= 1);
  CHECK(d["pids"]["limit"] == 15);
  CHECK(d["cpu"]["usage"].contains("kernel"));
  CHECK(d["cpu"]["usage"].contains("user"));
  CHECK(d["cpu"]["usage"].value("total", uint64_t{0}) > 0);
  CHECK(d["cpu"]["throttling"].is_object());
  CHECK(d["blkio"].is_object());
  CHECK(d["hugetlb"].is_object());

  // A stopped container has no events.
  require_ok(s.rt({"kill", s.id, "KILL"}));
  REQUIRE(s.wait_status("stopped"));
  auto stopped = s.rt({"events", "--stats", s.id});
  CHECK(stopped.code != 0);
  CHECK_THAT(stopped.err, Contains("not running"));
}

TEST_CASE("events: a stats line each interval until the container stops", "[cgroups-it][events]") {
  if (!usable()) return;
  CgSandbox s("events-stream");
  fs::path ctl = add_ctl_dir(s);
  s.sh("while [ ! -e /ctl/stop ]; do sleep 0.05; done");
  require_ok(s.run_detached());
  auto stopper = std::thread([&] {
    std::this_thread::sleep_for(1200ms);
    write_file(ctl / "stop", "");
  });
  auto r = s.rt({"events", "--interval", "250ms", s.id}, {.timeout = 20s});
  stopper.join();
  INFO(r.describe());
  CHECK(r.code == 0);
  auto events = json_lines(r.out);
  CHECK(events.size() >= 3);
  for (const auto& e : events) CHECK(e["type"] == "stats");
  CHECK(s.rt({"events", "--interval", "0", s.id}).code != 0);
}

TEST_CASE("stats: a human summary with the memory line", "[cgroups-it][stats]") {
  if (!usable({"memory", "pids"})) return;
  CgSandbox s("stats");
  s.resources()["memory"] = {{"limit", 64 << 20}};
  s.resources()["pids"] = {{"limit", 20}};
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  auto r = s.rt({"stats", "--interval", "200ms", s.id});
  require_ok(r);
  INFO(r.out);
  CHECK_THAT(r.out, Contains("CONTAINER") && Contains(s.id));
  CHECK_THAT(r.out, Contains("CPU"));
  bool memory_line = false;
  for (const auto& l : lines(r.out))
    if (l.rfind("MEMORY", 0) == 0) memory_line = contains(l, " / 64MiB (") && contains(l, "%)");
  CHECK(memory_line);
  CHECK_THAT(r.out, Contains("PIDS") && Contains("1 / 20"));
  CHECK_THAT(r.out, Contains("BLOCK I/O"));
}

// ---- where the cgroup is, and that it goes -----------------------------------------------------

TEST_CASE("host: a cgroup2 mount covered by a tmpfs does not count: run works on v1 only", "[cgroups-it][host]") {
  if (!usable({"memory"}) || hostcg().v2() || hostcg().host.v2.empty()) return;  // needs a hybrid host
  CgSandbox s("covered-unified");
  remove_namespace(s.config, "cgroup");  // paths as the host names them
  s.sh("grep -E '^[0-9]+:(memory|):' /proc/self/cgroup");
  s.write_config();
  // A private mount namespace (nothing changes on the host): the unified mount stays in
  // mountinfo under the tmpfs, as container-in-container setups leave it.
  const std::string unified = hostcg().host.v2;
  auto r = exec({"unshare", "-m", "--propagation", "private", "sh", "-c",
                 "mount -t tmpfs tmpfs \"$1\" && exec \"$2\" --root \"$3\" run --bundle \"$4\" \"$5\"", "sh",
                 unified, s.runtime, s.state_root.string(), s.bundle.string(), s.id});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Contains(":memory:" + s.path + "\n"));
  // The v2 hierarchy was not used: the process stayed in the caller's cgroup2 cgroup.
  CHECK_THAT(r.out, Contains("0::" + hostcg().host.self_path("") + "\n"));
  CHECK_FALSE(fs::exists(fs::path(unified) / s.path.substr(1)));
}

TEST_CASE("cgroupsPath: an absolute path lands there in every hierarchy", "[cgroups-it][path]") {
  if (!usable()) return;
  CgSandbox s("path-absolute");
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  pid_t pid = s.pid();
  for (const auto& d : hostcg().all_dirs(s.path)) {
    INFO(d);
    CHECK(fs::is_directory(d));
  }
  std::string self = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  for (const auto& line : lines(self)) {
    if (trim(line).empty()) continue;
    INFO(line);
    CHECK(line.size() >= s.path.size());
    CHECK(line.compare(line.size() - s.path.size(), s.path.size(), s.path) == 0);
  }
}

TEST_CASE("cgroupsPath: a relative path lands under the caller's own cgroup", "[cgroups-it][path]") {
  if (!usable()) return;
  const auto& h = hostcg();
  // Run the runtime from a cgroup of our own (never under this process's cgroups, which
  // belong to whoever started us), and expect <that cgroup>/<relative path>.
  const std::string parent = "/ocirun-it-caller-" + std::to_string(::getpid());
  struct Parents {
    std::vector<fs::path> dirs;
    ~Parents() {
      for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) ::rmdir(it->c_str());
    }
  } made;
  std::string procs_files;
  for (const auto& m : h.mounts()) {
    fs::path d = m + parent;
    if (::mkdir(d.c_str(), 0755) == 0) made.dirs.push_back(d);
    procs_files += " " + (d / "cgroup.procs").string();
  }
  if (!h.v2() && h.host.has_v1("cpuset")) {
    // A new v1 cpuset cgroup takes no task until its cpus and mems are set.
    fs::path root = h.host.v1.at("cpuset");
    for (const char* f : {"cpuset.cpus", "cpuset.mems"})
      write_file(root / parent.substr(1) / f, read_trimmed(root / f));
  }

  CgSandbox s("path-relative");
  const std::string rel = "nested/" + s.id;
  s.config["linux"]["cgroupsPath"] = rel;
  s.path = parent + "/" + rel;
  s.config["process"]["args"] = {"sleep", "1000"};
  s.write_config();
  std::string script = "for f in" + procs_files + "; do echo $$ > $f || exit 99; done; exec \"$@\"";
  auto r = exec({"sh", "-c", script, "sh", Env::get().runtime, "--root", s.state_root.string(), "run", "--detach",
                 "--bundle", s.bundle.string(), s.id},
                {.stdout_file = (s.dir / "rel.out").string(), .stderr_file = (s.dir / "rel.err").string()});
  require_ok(r);
  for (const auto& d : h.all_dirs(s.path)) {
    INFO(d);
    CHECK(fs::is_directory(d));
  }
  CHECK_THAT(read_file("/proc/" + std::to_string(s.pid()) + "/cgroup"), Contains(s.path));
  require_ok(s.rt({"delete", "--force", s.id}));
  for (const auto& d : h.all_dirs(s.path)) CHECK_FALSE(fs::exists(d));
  for (const auto& d : h.all_dirs(parent + "/nested")) CHECK_FALSE(fs::exists(d));  // made by create: removed
  for (const auto& d : h.all_dirs(parent)) CHECK(fs::exists(d));  // ours: left alone
}

TEST_CASE("delete removes the cgroup in every hierarchy", "[cgroups-it][delete]") {
  if (!usable()) return;
  CgSandbox s("delete");
  s.resources()["pids"] = {{"limit", 50}};
  s.config["process"]["args"] = {"sleep", "1000"};
  require_ok(s.run_detached());
  auto dirs = hostcg().all_dirs(s.path);
  REQUIRE(!dirs.empty());
  for (const auto& d : dirs) CHECK(fs::is_directory(d));
  require_ok(s.rt({"delete", "--force", s.id}));
  for (const auto& d : dirs) {
    INFO(d);
    CHECK_FALSE(fs::exists(d));
  }
}

TEST_CASE("a failed create (bad args[0]) leaves no cgroup", "[cgroups-it][errors]") {
  if (!usable()) return;
  CgSandbox s("failed-create");
  s.resources()["pids"] = {{"limit", 50}};
  s.config["process"]["args"] = {"/no/such/binary"};
  auto r = s.create();
  INFO(r.describe());
  CHECK(r.code != 0);
  for (const auto& d : hostcg().all_dirs(s.path)) {
    INFO(d);
    CHECK_FALSE(fs::exists(d));
  }
}

// ---- a cgroup someone else froze; create interrupted ------------------------------------------------

namespace {

// The freezer file of cgroupsPath `path` and the value that freezes it: v1's freezer.state
// where the freezer hierarchy is, else cgroup2's cgroup.freeze.
std::pair<fs::path, std::string> freezer_file(const std::string& path) {
  if (!hostcg().v2() && hostcg().host.has_v1("freezer")) return {hostcg().dir("freezer", path) / "freezer.state", "FROZEN"};
  return {fs::path(hostcg().host.v2 + path) / "cgroup.freeze", "1"};
}

// Removes the test's cgroup directories (the container's and its parent) in every
// hierarchy; declared before the sandbox, so it runs after the sandbox's delete --force.
struct RemoveCgroupDirs {
  std::string path;
  ~RemoveCgroupDirs() {
    for (const auto& d : hostcg().all_dirs(path)) {
      ::rmdir(d.c_str());
      ::rmdir(d.parent_path().c_str());
    }
  }
};

// Thaws the cgroup before the sandbox's delete --force: a v1-frozen task ignores SIGKILL.
struct Thaw {
  fs::path file;
  ~Thaw() {
    std::error_code ec;
    if (fs::exists(file, ec)) write_file(file, file.filename() == "freezer.state" ? "THAWED" : "0");
  }
};

}  // namespace

TEST_CASE("a cgroup frozen before create is refused with runc's words and leaves nothing", "[cgroups-it][freezer]") {
  // cgroups.bats "runc run/create should refuse pre-existing frozen cgroup".
  if (!usable()) return;
  RemoveCgroupDirs remove_dirs;
  CgSandbox s("frozen-cgroup");
  remove_dirs.path = s.path;
  auto [file, frozen] = freezer_file(s.path);
  fs::create_directories(file.parent_path());
  write_file(file, frozen);
  Thaw thaw{file};
  s.config["process"]["args"] = {"sleep", "1000"};
  s.write_config();
  for (std::vector<std::string> command : {std::vector<std::string>{"run", "-d"}, {"create"}}) {
    std::string cid = s.new_id();
    command.insert(command.end(), {"--bundle", s.bundle.string(), cid});
    auto r = s.rt(command, {.stdout_file = (s.dir / "out").string(), .stderr_file = (s.dir / "err").string(), .timeout = 15s});
    INFO(command[0] << ": " << r.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Contains("container's cgroup unexpectedly frozen"));
    CHECK_FALSE(fs::exists(s.state_root / cid));
  }
}

TEST_CASE("SIGTERM during create (run -d and create) undoes everything it made", "[cgroups-it][errors]") {
  if (!usable()) return;
  RemoveCgroupDirs remove_dirs;
  CgSandbox s("create-interrupted");
  remove_dirs.path = s.path;
  // The init waits in a createContainer hook: create waits for the init.
  s.config["hooks"]["createContainer"] = {{{"path", "/bin/sleep"}, {"args", {"sleep", "30"}}}};
  s.config["process"]["args"] = {"sleep", "1000"};
  s.write_config();
  for (std::vector<std::string> command : {std::vector<std::string>{"run", "-d"}, {"create"}}) {
    std::string cid = s.new_id();
    std::vector<std::string> argv = {"timeout", "--foreground", "--preserve-status", "-s", "TERM", "-k", "10", "2", s.runtime,
                                     "--root", s.state_root.string()};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.insert(argv.end(), {"--bundle", s.bundle.string(), cid});
    auto started = std::chrono::steady_clock::now();
    auto r = exec(argv, {.stdout_file = (s.dir / "out").string(), .stderr_file = (s.dir / "err").string(), .timeout = 30s});
    auto took = std::chrono::steady_clock::now() - started;
    INFO(command[0] << ": " << r.describe());
    CHECK(r.code == 1);
    CHECK(took < 8s);
    CHECK_THAT(r.err, Contains("create interrupted by SIGTERM"));
    CHECK_FALSE(fs::exists(s.state_root / cid));
    for (const auto& d : hostcg().all_dirs(s.path)) {
      INFO(d);
      CHECK_FALSE(fs::exists(d));
    }
  }
}
