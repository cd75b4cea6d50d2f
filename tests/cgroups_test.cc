// cgroups: translation (pure), host parsing (pure), drivers against a temp directory
// that mimics cgroupfs, and [root] tests against this host's real cgroupfs.
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "cgroups.h"
#include "dbus.h"
#include "error.h"

using namespace ocirun;
using namespace ocirun::cgroups;

namespace Catch {
template <>
struct StringMaker<FileWrite> {
  static std::string convert(const FileWrite& w) { return "{" + w.controller + ", " + w.file + ", \"" + w.value + "\"}"; }
};
}  // namespace Catch

namespace {

template <class F>
std::optional<ErrorKind> error_kind(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  return std::nullopt;
}

const FileWrite* find(const std::vector<FileWrite>& writes, const std::string& file) {
  for (const auto& w : writes)
    if (w.file == file) return &w;
  return nullptr;
}

std::string value_of(const std::vector<FileWrite>& writes, const std::string& file) {
  const FileWrite* w = find(writes, file);
  return w ? w->value : "<unset>";
}

spec::Resources with_memory(std::optional<int64_t> limit, std::optional<int64_t> swap) {
  spec::Resources r;
  r.memory.emplace();
  r.memory->limit = limit;
  r.memory->swap = swap;
  return r;
}

spec::Resources with_cpu(std::optional<int64_t> quota, std::optional<uint64_t> period) {
  spec::Resources r;
  r.cpu.emplace();
  r.cpu->quota = quota;
  r.cpu->period = period;
  return r;
}

spec::Resources with_pids(int64_t limit) {
  spec::Resources r;
  r.pids.emplace();
  r.pids->limit = limit;
  return r;
}

// --- files ------------------------------------------------------------------

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(const std::string& path) {
  std::string s = slurp(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void put(const std::string& path, const std::string& content = "") {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  REQUIRE(out.good());
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void mkdirs(const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    ::mkdir(cur.c_str(), 0755);
  }
  REQUIRE(is_dir(path));
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

// cgroupfs drops a cgroup's files with the directory; a plain directory keeps them, so
// tests remove the files before destroy() as the kernel would.
int remove_file_only(const char* path, const struct stat* st, int type, struct FTW*) {
  return type == FTW_F && S_ISREG(st->st_mode) ? ::unlink(path) : 0;
}
void strip_files(const std::string& dir) { ::nftw(dir.c_str(), remove_file_only, 16, FTW_PHYS); }

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ocirun-cgroups-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); }
};

// A v1 root like this host's, but with cpu and cpuacct co-mounted (the common layout
// elsewhere) to cover shared directories.
Host fake_v1(const std::string& root) {
  Host h;
  h.layout = Layout::V1;
  h.root = root;
  for (const char* c : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"}) {
    mkdirs(root + "/" + c);
    put(root + "/" + c + "/cgroup.procs");
  }
  for (const char* c : {"memory", "cpuset", "pids", "freezer", "devices", "blkio"}) h.v1[c] = root + "/" + c;
  h.v1["cpu"] = h.v1["cpuacct"] = root + "/cpu,cpuacct";
  put(root + "/cpuset/cpuset.cpus", "0-3\n");
  put(root + "/cpuset/cpuset.mems", "0\n");
  return h;
}

// fake_v1 plus a cgroup2 mount at root/unified (hybrid), where `v2_controllers` are enabled:
// with any, the mount has a cgroup.subtree_control to enable them in.
Host fake_hybrid(const std::string& root, std::set<std::string> v2_controllers = {}) {
  Host h = fake_v1(root);
  h.layout = Layout::Hybrid;
  h.v2 = root + "/unified";
  h.v2_controllers = std::move(v2_controllers);
  mkdirs(h.v2);
  if (!h.v2_controllers.empty()) put(h.v2 + "/cgroup.subtree_control");
  return h;
}

Host fake_v2(const std::string& root, std::set<std::string> controllers) {
  Host h;
  h.layout = Layout::V2;
  h.root = root;
  h.v2 = root;
  h.v2_controllers = std::move(controllers);
  mkdirs(root);
  put(root + "/cgroup.procs");
  put(root + "/cgroup.subtree_control");
  return h;
}

// What the kernel puts in a new cgroup directory, for the files these tests touch.
void populate(const std::string& dir, std::initializer_list<const char*> files) {
  for (const char* f : files) put(dir + "/" + f);
}

}  // namespace

// ============================================================================
// Pure translation
// ============================================================================

TEST_CASE("cpu shares map to cpu.weight by the shared quadratic", "[cgroups][translate]") {
  CHECK(cpu_shares_to_weight(0) == 0);  // unset stays unset
  CHECK(cpu_shares_to_weight(1) == 1);
  CHECK(cpu_shares_to_weight(2) == 1);
  CHECK(cpu_shares_to_weight(3) == 2);
  CHECK(cpu_shares_to_weight(1024) == 100);  // the old linear formula gave 39
  CHECK(cpu_shares_to_weight(262143) == 10000);
  CHECK(cpu_shares_to_weight(262144) == 10000);
  CHECK(cpu_shares_to_weight(262145) == 10000);
  uint64_t prev = 0;
  for (uint64_t s = 2; s <= 262144; s += 97) {
    uint64_t w = cpu_shares_to_weight(s);
    REQUIRE(w >= prev);
    REQUIRE(w >= 1);
    REQUIRE(w <= 10000);
    prev = w;
  }

  spec::Resources r;
  r.cpu.emplace();
  r.cpu->shares = 1024;
  CHECK(translate_v2(r) == std::vector<FileWrite>{{"cpu", "cpu.weight", "100"}});
  CHECK(translate_v1(r) == std::vector<FileWrite>{{"cpu", "cpu.shares", "1024"}});
  r.cpu->shares = 0;  // Docker's "unset"
  CHECK(translate_v2(r).empty());
}

TEST_CASE("blkio weight maps linearly to io.weight", "[cgroups][translate]") {
  CHECK(blkio_weight_to_io_weight(0) == 0);
  CHECK(blkio_weight_to_io_weight(10) == 1);
  CHECK(blkio_weight_to_io_weight(500) == 4950);
  CHECK(blkio_weight_to_io_weight(1000) == 10000);
}

TEST_CASE("pids.limit: N, 0 and negative", "[cgroups][translate]") {
  for (auto translate : {translate_v1, translate_v2}) {
    CHECK(translate(with_pids(42), nullptr) == std::vector<FileWrite>{{"pids", "pids.max", "42"}});
    CHECK(value_of(translate(with_pids(-1), nullptr), "pids.max") == "max");
    CHECK(value_of(translate(with_pids(-5), nullptr), "pids.max") == "max");
    // runtime-spec #1279: 0 is a real limit; runc 1.4 and youki write 1 (same effect).
    CHECK(value_of(translate(with_pids(0), nullptr), "pids.max") == "1");
    spec::Resources unset;
    unset.pids.emplace();
    CHECK(translate(unset, nullptr).empty());
  }
}

TEST_CASE("memory on v1: memsw is memory+swap, as the spec", "[cgroups][translate]") {
  spec::Resources r = with_memory(64 << 20, 128 << 20);
  r.memory->reservation = 32 << 20;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  CHECK(translate_v1(r) == std::vector<FileWrite>{
                               {"memory", "memory.limit_in_bytes", "67108864"},
                               {"memory", "memory.memsw.limit_in_bytes", "134217728"},
                               {"memory", "memory.soft_limit_in_bytes", "33554432"},
                               {"memory", "memory.swappiness", "10"},
                               {"memory", "memory.oom_control", "1"},
                           });
  CHECK(value_of(translate_v1(with_memory(-1, -1)), "memory.limit_in_bytes") == "-1");
  CHECK(value_of(translate_v1(with_memory(-1, -1)), "memory.memsw.limit_in_bytes") == "-1");
  CHECK(translate_v1(with_memory(0, std::nullopt)).empty());  // 0 = unset, as in runc
  // Unlimited memory with swap not given lifts memory+swap too (runc's update --memory -1).
  CHECK(translate_v1(with_memory(-1, std::nullopt)) == std::vector<FileWrite>{
                                                          {"memory", "memory.limit_in_bytes", "-1"},
                                                          {"memory", "memory.memsw.limit_in_bytes", "-1"},
                                                      });

  CHECK(error_kind([] { translate_v1(with_memory(128 << 20, 64 << 20)); }) == ErrorKind::InvalidSpec);
  spec::Resources bad = with_memory(std::nullopt, std::nullopt);
  bad.memory->swappiness = 101;
  CHECK(error_kind([&] { translate_v1(bad); }) == ErrorKind::InvalidSpec);

  spec::Resources kernel = with_memory(std::nullopt, std::nullopt);
  kernel.memory->kernel = 1 << 20;
  kernel.memory->kernel_tcp = 1 << 20;
  std::vector<std::string> warnings;
  CHECK(translate_v1(kernel, &warnings).empty());
  CHECK(warnings.size() == 2);
  warnings.clear();
  CHECK(translate_v2(kernel, &warnings).empty());
  CHECK(warnings.size() == 2);
}

TEST_CASE("memory on v2: memory.swap.max = swap - limit", "[cgroups][translate]") {
  CHECK(translate_v2(with_memory(64 << 20, 128 << 20)) == std::vector<FileWrite>{
                                                             {"memory", "memory.max", "67108864"},
                                                             {"memory", "memory.swap.max", "67108864"},
                                                         });
  CHECK(value_of(translate_v2(with_memory(64 << 20, 64 << 20)), "memory.swap.max") == "0");  // no swap
  CHECK(value_of(translate_v2(with_memory(64 << 20, -1)), "memory.swap.max") == "max");
  CHECK(value_of(translate_v2(with_memory(64 << 20, std::nullopt)), "memory.swap.max") == "<unset>");
  // Unlimited memory and unset swap: both unlimited, as v1 would behave.
  CHECK(translate_v2(with_memory(-1, std::nullopt)) == std::vector<FileWrite>{
                                                           {"memory", "memory.max", "max"},
                                                           {"memory", "memory.swap.max", "max"},
                                                       });
  CHECK(value_of(translate_v2(with_memory(-1, 1 << 30)), "memory.swap.max") == "1073741824");
  CHECK(error_kind([] { translate_v2(with_memory(std::nullopt, 1 << 30)); }) == ErrorKind::InvalidSpec);
  CHECK(error_kind([] { translate_v2(with_memory(128 << 20, 64 << 20)); }) == ErrorKind::InvalidSpec);

  spec::Resources r = with_memory(std::nullopt, std::nullopt);
  r.memory->reservation = 1 << 20;
  r.memory->swappiness = 60;          // no v2 file
  r.memory->disable_oom_killer = true;  // no v2 file
  CHECK(translate_v2(r) == std::vector<FileWrite>{{"memory", "memory.low", "1048576"}});
}

TEST_CASE("cpu on v1: CFS, realtime, idle, cpuset", "[cgroups][translate]") {
  spec::Resources r = with_cpu(50000, 100000);
  r.cpu->shares = 512;
  r.cpu->burst = 10000;
  r.cpu->realtime_period = 1000000;
  r.cpu->realtime_runtime = 950000;
  r.cpu->idle = 0;
  r.cpu->cpus = "0-1";
  r.cpu->mems = "0";
  CHECK(translate_v1(r) == std::vector<FileWrite>{
                               {"cpu", "cpu.shares", "512"},
                               {"cpu", "cpu.cfs_period_us", "100000"},
                               {"cpu", "cpu.cfs_quota_us", "50000"},
                               {"cpu", "cpu.cfs_burst_us", "10000"},
                               {"cpu", "cpu.rt_period_us", "1000000"},
                               {"cpu", "cpu.rt_runtime_us", "950000"},
                               {"cpu", "cpu.idle", "0"},
                               {"cpuset", "cpuset.cpus", "0-1"},
                               {"cpuset", "cpuset.mems", "0"},
                           });
  CHECK(value_of(translate_v1(with_cpu(-1, std::nullopt)), "cpu.cfs_quota_us") == "-1");
}

TEST_CASE("cpu on v2: cpu.max strings, burst, idle, cpuset, no realtime", "[cgroups][translate]") {
  CHECK(value_of(translate_v2(with_cpu(50000, 100000)), "cpu.max") == "50000 100000");
  CHECK(value_of(translate_v2(with_cpu(20000, std::nullopt)), "cpu.max") == "20000 100000");
  CHECK(value_of(translate_v2(with_cpu(-1, std::nullopt)), "cpu.max") == "max 100000");
  CHECK(value_of(translate_v2(with_cpu(std::nullopt, 50000)), "cpu.max") == "max 50000");
  CHECK(value_of(translate_v2(with_cpu(-1, 250000)), "cpu.max") == "max 250000");
  CHECK(translate_v2(with_cpu(std::nullopt, std::nullopt)).empty());

  spec::Resources r = with_cpu(std::nullopt, std::nullopt);
  r.cpu->burst = 5000;
  r.cpu->idle = 1;
  r.cpu->cpus = "1";
  r.cpu->mems = "0";
  CHECK(translate_v2(r) == std::vector<FileWrite>{
                               {"cpu", "cpu.max.burst", "5000"},
                               {"cpu", "cpu.idle", "1"},
                               {"cpuset", "cpuset.cpus", "1"},
                               {"cpuset", "cpuset.mems", "0"},
                           });
  spec::Resources rt = with_cpu(std::nullopt, std::nullopt);
  rt.cpu->realtime_runtime = 950000;
  CHECK(error_kind([&] { translate_v2(rt); }) == ErrorKind::Unsupported);
}

TEST_CASE("blockIO: blkio.* lines on v1, io.weight / io.max on v2", "[cgroups][translate]") {
  spec::Resources r;
  r.block_io.emplace();
  r.block_io->weight = 500;
  r.block_io->weight_device.push_back({8, 0, 300, std::nullopt});
  r.block_io->throttle_read_bps.push_back({8, 0, 1048576});
  r.block_io->throttle_write_bps.push_back({8, 16, 2097152});
  r.block_io->throttle_read_iops.push_back({8, 0, 100});
  r.block_io->throttle_write_iops.push_back({8, 0, 0});
  CHECK(translate_v1(r) == std::vector<FileWrite>{
                               {"blkio", "blkio.weight", "500"},
                               {"blkio", "blkio.weight_device", "8:0 300"},
                               {"blkio", "blkio.throttle.read_bps_device", "8:0 1048576"},
                               {"blkio", "blkio.throttle.write_bps_device", "8:16 2097152"},
                               {"blkio", "blkio.throttle.read_iops_device", "8:0 100"},
                               {"blkio", "blkio.throttle.write_iops_device", "8:0 0"},
                           });
  CHECK(translate_v2(r) == std::vector<FileWrite>{
                               {"io", "io.weight", "4950"},
                               {"io", "io.weight", "8:0 2930"},
                               {"io", "io.max", "8:0 rbps=1048576"},
                               {"io", "io.max", "8:16 wbps=2097152"},
                               {"io", "io.max", "8:0 riops=100"},
                               {"io", "io.max", "8:0 wiops=max"},
                           });
  r.block_io->leaf_weight = 200;
  CHECK(value_of(translate_v1(r), "blkio.leaf_weight") == "200");
  std::vector<std::string> warnings;
  translate_v2(r, &warnings);
  CHECK(warnings.size() == 1);
}

TEST_CASE("hugepageLimits, network, rdma", "[cgroups][translate]") {
  spec::Resources r;
  r.hugepage_limits.push_back({"2MB", 209715200});
  r.hugepage_limits.push_back({"1GB", 0});
  CHECK(translate_v1(r) == std::vector<FileWrite>{
                               {"hugetlb", "hugetlb.2MB.limit_in_bytes", "209715200"},
                               {"hugetlb", "hugetlb.1GB.limit_in_bytes", "0"},
                           });
  CHECK(translate_v2(r) == std::vector<FileWrite>{
                               {"hugetlb", "hugetlb.2MB.max", "209715200"},
                               {"hugetlb", "hugetlb.1GB.max", "0"},
                           });
  spec::Resources bad;
  bad.hugepage_limits.push_back({"../2MB", 1});
  CHECK(error_kind([&] { translate_v1(bad); }) == ErrorKind::InvalidSpec);

  spec::Resources net;
  net.network.emplace();
  net.network->class_id = 1048577;
  net.network->priorities = {{"eth0", 500}, {"eth1", 1000}};
  CHECK(translate_v1(net) == std::vector<FileWrite>{
                                 {"net_cls", "net_cls.classid", "1048577"},
                                 {"net_prio", "net_prio.ifpriomap", "eth0 500"},
                                 {"net_prio", "net_prio.ifpriomap", "eth1 1000"},
                             });
  CHECK(error_kind([&] { translate_v2(net); }) == ErrorKind::Unsupported);
  spec::Resources empty_net;
  empty_net.network.emplace();  // present but unset: nothing to refuse
  CHECK(translate_v2(empty_net).empty());

  spec::Resources rdma;
  rdma.rdma["mlx5_1"] = {3, 10000};
  rdma.rdma["mlx4_0"] = {std::nullopt, 1000};
  rdma.rdma["none"] = {};
  std::vector<FileWrite> want = {{"rdma", "rdma.max", "mlx4_0 hca_object=1000"},
                                 {"rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"}};
  CHECK(translate_v1(rdma) == want);
  CHECK(translate_v2(rdma) == want);
}

TEST_CASE("devices: v1 allow/deny lines, v2 has no file for them (a BPF program instead)", "[cgroups][translate]") {
  spec::Resources r;
  r.devices.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.devices.push_back({true, "c", 136, std::nullopt, "rw"});
  r.devices.push_back({false, "b", 8, 0, "m"});
  r.devices.push_back({true, "a", std::nullopt, std::nullopt, ""});
  CHECK(translate_v1(r) == std::vector<FileWrite>{
                               {"devices", "devices.deny", "a *:* rwm"},
                               {"devices", "devices.allow", "c 1:3 rwm"},
                               {"devices", "devices.allow", "c 136:* rw"},
                               {"devices", "devices.deny", "b 8:0 m"},
                               {"devices", "devices.allow", "a *:* rwm"},
                           });
  CHECK(translate_v2(r).empty());  // the v2 driver attaches device_filter(r.devices)

  spec::Resources bad_type;
  bad_type.devices.push_back({true, "x", 1, 3, "rwm"});
  CHECK(error_kind([&] { translate_v1(bad_type); }) == ErrorKind::InvalidSpec);
  spec::Resources bad_access;
  bad_access.devices.push_back({true, "c", 1, 3, "rwx"});
  CHECK(error_kind([&] { translate_v1(bad_access); }) == ErrorKind::InvalidSpec);
}

TEST_CASE("unified: refused on v1, written last on v2", "[cgroups][translate]") {
  spec::Resources r = with_memory(64 << 20, std::nullopt);
  r.unified["memory.max"] = "max";
  r.unified["memory.high"] = "50000000";
  r.unified["cgroup.max.descendants"] = "10";
  std::string message;
  CHECK(error_kind([&] { translate_v1(r); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("unified"));
  CHECK_THAT(message, Catch::Contains("invalid configuration: cannot use unified on cgroup v1"));  // runc's words
  CHECK(translate_v2(r) == std::vector<FileWrite>{
                               {"memory", "memory.max", "67108864"},
                               {"", "cgroup.max.descendants", "10"},
                               {"memory", "memory.high", "50000000"},
                               {"memory", "memory.max", "max"},  // the explicit unified value wins
                           });
  for (const char* key : {"../memory.max", "memory", ".hidden", ""}) {
    spec::Resources bad;
    bad.unified[key] = "1";
    CHECK(error_kind([&] { translate_v2(bad); }) == ErrorKind::InvalidSpec);
  }
}

TEST_CASE("resource_field names the spec field", "[cgroups][translate]") {
  CHECK(resource_field("memory") == "linux.resources.memory");
  CHECK(resource_field("cpuset") == "linux.resources.cpu");
  CHECK(resource_field("blkio") == "linux.resources.blockIO");
  CHECK(resource_field("io") == "linux.resources.blockIO");
  CHECK(resource_field("hugetlb") == "linux.resources.hugepageLimits");
  CHECK(resource_field("net_prio") == "linux.resources.network");
}

// ============================================================================
// cgroupsPath and host parsing
// ============================================================================

TEST_CASE("resolve_path: absolute, relative, empty, systemd form", "[cgroups][path]") {
  CHECK(resolve_path("", "c1") == "/ocirun/c1");
  CHECK(resolve_path("/a/b", "c1", "/user.slice") == "/a/b");
  CHECK(resolve_path("//a/./b/", "c1") == "/a/b");
  CHECK(resolve_path("a/b", "c1", "/user.slice/x") == "/user.slice/x/a/b");
  CHECK(resolve_path("a", "c1", "/") == "/a");
  std::string message;
  CHECK(error_kind([&] { resolve_path("system.slice:ocirun:c1", "c1"); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("systemd"));
  CHECK(error_kind([] { resolve_path("/a/../../etc", "c1"); }) == ErrorKind::InvalidSpec);
  CHECK(error_kind([] { resolve_path("/", "c1"); }) == ErrorKind::InvalidSpec);
  CHECK(error_kind([] { resolve_path("", "a/b"); }) == ErrorKind::InvalidArgument);
}

TEST_CASE("parse_host: cgroup v1 with co-mounted controllers", "[cgroups][host]") {
  const char* mountinfo =
      "22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw\n"
      "25 22 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
      "26 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd\n"
      "28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "29 25 0:27 / /sys/fs/cgroup/memory rw shared:10 - cgroup cgroup rw,memory\n"
      "30 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
      "31 25 0:29 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n"
      "40 1 0:29 / /mnt/elsewhere rw - cgroup cgroup rw,cpuset\n";
  const char* self = "5:cpu,cpuacct:/user.slice\n4:memory:/user.slice/m\n1:name=systemd:/init.scope\n0::/\n";
  Host h = parse_host(mountinfo, self, "/sys/fs/cgroup/");
  CHECK(h.layout == Layout::V1);
  CHECK(h.root == "/sys/fs/cgroup");
  CHECK(h.v2.empty());
  CHECK(h.v1 == std::map<std::string, std::string>{
                    {"cpu", "/sys/fs/cgroup/cpu,cpuacct"},
                    {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
                    {"memory", "/sys/fs/cgroup/memory"},
                    {"net_cls", "/sys/fs/cgroup/net_cls,net_prio"},
                    {"net_prio", "/sys/fs/cgroup/net_cls,net_prio"},
                    {"cpuset", "/sys/fs/cgroup/cpuset"},
                    {"name=systemd", "/sys/fs/cgroup/systemd"},
                });
  CHECK(h.self_path("cpu") == "/user.slice");
  CHECK(h.self_path("cpuacct") == "/user.slice");
  CHECK(h.self_path("memory") == "/user.slice/m");
  CHECK(h.self_path("name=systemd") == "/init.scope");
  CHECK(h.self_path("pids") == "/");
  // What a container's "cgroup" mount passes to mount(2): one entry per mount point under
  // the root, rw/ro dropped, the rest kept as the host mounted it.
  CHECK(h.mount_options == std::map<std::string, std::string>{
                               {"/sys/fs/cgroup/systemd", "xattr,release_agent=/x,name=systemd"},
                               {"/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"},
                               {"/sys/fs/cgroup/memory", "memory"},
                               {"/sys/fs/cgroup/net_cls,net_prio", "net_cls,net_prio"},
                               {"/sys/fs/cgroup/cpuset", "cpuset,clone_children"},
                           });
}

TEST_CASE("parse_host: cgroup v2", "[cgroups][host]") {
  const char* mountinfo =
      "24 31 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
      "28 24 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n";
  Host h = parse_host(mountinfo, "0::/user.slice/user-1000.slice/session-2.scope\n", "/sys/fs/cgroup");
  CHECK(h.layout == Layout::V2);
  CHECK(h.v2 == "/sys/fs/cgroup");
  CHECK(h.v1.empty());
  CHECK(h.self_path("") == "/user.slice/user-1000.slice/session-2.scope");
  CHECK(h.mount_options == std::map<std::string, std::string>{{"/sys/fs/cgroup", "nsdelegate,memory_recursiveprot"}});
}

TEST_CASE("parse_host: hybrid, as on this machine", "[cgroups][host]") {
  const char* mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  Host h = parse_host(mountinfo, "4:memory:/process_api/x\n1:cpu:/\n0::/\n", "/sys/fs/cgroup");
  CHECK(h.layout == Layout::Hybrid);
  CHECK(h.v2 == "/sys/fs/cgroup/unified");
  CHECK(h.v1.at("cpu") == "/sys/fs/cgroup/cpu");
  CHECK(h.v1.at("cpuacct") == "/sys/fs/cgroup/cpuacct");
  CHECK(h.v1.size() == 5);
  CHECK(h.mount_options.size() == 6);
  CHECK(h.mount_options.at("/sys/fs/cgroup/unified") == "");
  CHECK(h.self_path("memory") == "/process_api/x");
  CHECK(h.self_path("") == "/");
}

TEST_CASE("parse_host: a cgroup mount covered by a later mount does not count", "[cgroups][host]") {
  const char* hybrid =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  // A tmpfs over the cgroup2 mount (container-in-container setups leave one): v1 only.
  std::string covered_v2 = std::string(hybrid) + "90 41 0:90 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw\n";
  Host h = parse_host(covered_v2, "", "/sys/fs/cgroup");
  CHECK(h.layout == Layout::V1);
  CHECK(h.v2.empty());
  CHECK(h.v1.size() == 2);
  CHECK(h.mount_options.count("/sys/fs/cgroup/unified") == 0);

  // A new tmpfs over the whole root, with a cgroup2 mounted on it afterwards: only that one is seen.
  std::string remounted = std::string(hybrid) + "91 31 0:91 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                                                "92 91 0:92 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n";
  h = parse_host(remounted, "", "/sys/fs/cgroup");
  CHECK(h.layout == Layout::Hybrid);
  CHECK(h.v1.empty());
  CHECK(h.mount_options == std::map<std::string, std::string>{{"/sys/fs/cgroup/unified", "nsdelegate"}});

  // A mount on an unrelated path with a common prefix hides nothing.
  h = parse_host(std::string(hybrid) + "93 1 0:93 / /sys/fs/cgroupx rw - tmpfs tmpfs rw\n", "", "/sys/fs/cgroup");
  CHECK(h.layout == Layout::Hybrid);
  CHECK(h.v1.size() == 2);
}

TEST_CASE("parse_host: escapes, and no cgroups at all", "[cgroups][host]") {
  const char* mountinfo = "50 1 0:40 / /tmp/cg\\040root/mem rw - cgroup none rw,memory\n";
  Host h = parse_host(mountinfo, "", "/tmp/cg root");
  CHECK(h.v1.at("memory") == "/tmp/cg root/mem");
  CHECK(error_kind([] { parse_host("22 1 0:20 / /sys rw - sysfs sysfs rw\n", "", "/sys/fs/cgroup"); }) ==
        ErrorKind::Unsupported);
}

// ============================================================================
// Drivers against a temp directory
// ============================================================================

TEST_CASE("v1 driver: create, apply, add_process, freeze, destroy on a fake tree", "[cgroups][driver]") {
  TempDir tmp;
  Host host = fake_v1(tmp.path);
  // An existing, uninitialised parent (someone else's): cpuset values get copied into it,
  // and destroy() must leave it.
  mkdirs(tmp.path + "/cpuset/pre");
  populate(tmp.path + "/cpuset/pre", {"cpuset.cpus", "cpuset.mems"});

  auto m = open(host, "/pre/made/c1", "c1");
  CHECK(m->path() == "/pre/made/c1");
  m->create();
  for (const char* h : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"})
    CHECK(is_dir(tmp.path + "/" + h + "/pre/made/c1"));
  CHECK(trimmed(tmp.path + "/cpuset/pre/cpuset.cpus") == "0-3");
  CHECK(trimmed(tmp.path + "/cpuset/pre/cpuset.mems") == "0");

  Saved saved = m->saved();
  CHECK(saved.dirs.at("cpu") == saved.dirs.at("cpuacct"));
  CHECK(saved.dirs.at("memory") == tmp.path + "/memory/pre/made/c1");
  // made and c1 in 7 directories, plus pre in the 6 hierarchies where it did not exist.
  CHECK(saved.created.size() == 7 * 2 + 6);

  // The kernel's files in the new cgroups.
  auto leaf = [&](const std::string& h) { return tmp.path + "/" + h + "/pre/made/c1"; };
  populate(leaf("memory"), {"cgroup.procs", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                            "memory.swappiness", "memory.oom_control"});
  populate(leaf("cpu,cpuacct"), {"cgroup.procs", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"});
  populate(leaf("cpuset"), {"cgroup.procs", "cpuset.cpus", "cpuset.mems"});
  populate(leaf("pids"), {"cgroup.procs", "pids.max"});
  populate(leaf("freezer"), {"cgroup.procs", "freezer.state"});
  populate(leaf("devices"), {"cgroup.procs", "devices.allow", "devices.deny"});
  populate(leaf("blkio"), {"cgroup.procs", "blkio.bfq.weight"});  // no CFQ: BFQ's file only

  spec::Resources r = with_memory(64 << 20, 128 << 20);
  r.memory->swappiness = 0;
  r.memory->disable_oom_killer = true;
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "1";
  r.pids.emplace();
  r.pids->limit = 42;
  r.block_io.emplace();
  r.block_io->weight = 300;
  r.devices.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  m->apply(r);
  CHECK(trimmed(leaf("memory") + "/memory.limit_in_bytes") == "67108864");
  CHECK(trimmed(leaf("memory") + "/memory.memsw.limit_in_bytes") == "134217728");
  CHECK(trimmed(leaf("memory") + "/memory.swappiness") == "0");
  CHECK(trimmed(leaf("memory") + "/memory.oom_control") == "1");
  CHECK(trimmed(leaf("cpu,cpuacct") + "/cpu.shares") == "512");
  CHECK(trimmed(leaf("cpu,cpuacct") + "/cpu.cfs_quota_us") == "50000");
  CHECK(trimmed(leaf("cpu,cpuacct") + "/cpu.cfs_period_us") == "100000");
  CHECK(trimmed(leaf("cpuset") + "/cpuset.cpus") == "1");
  CHECK(trimmed(leaf("pids") + "/pids.max") == "42");
  CHECK(trimmed(leaf("blkio") + "/blkio.bfq.weight") == "300");
  CHECK(trimmed(leaf("devices") + "/devices.deny") == "a *:* rwm");
  CHECK(trimmed(leaf("devices") + "/devices.allow") == "c 1:3 rwm");

  m->add_process(4242);
  for (const char* h : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"})
    CHECK(trimmed(leaf(h) + "/cgroup.procs") == "4242");
  mkdirs(leaf("pids") + "/nested");  // a sub-cgroup the container made
  put(leaf("pids") + "/nested/cgroup.procs", "77\n78\n");
  CHECK(m->pids() == std::vector<pid_t>{77, 78, 4242});

  m->freeze(true);
  CHECK(trimmed(leaf("freezer") + "/freezer.state") == "FROZEN");
  CHECK(m->frozen());
  m->freeze(false);
  CHECK(!m->frozen());

  strip_files(tmp.path + "/memory/pre");
  for (const char* h : {"cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"})
    strip_files(tmp.path + "/" + h + "/pre");
  m->destroy();
  for (const char* h : {"memory", "cpu,cpuacct", "pids", "freezer", "devices", "blkio"}) {
    CHECK(!is_dir(tmp.path + "/" + h + "/pre"));  // made by create(): gone
    CHECK(is_dir(tmp.path + "/" + h));
  }
  CHECK(!is_dir(tmp.path + "/cpuset/pre/made"));
  CHECK(is_dir(tmp.path + "/cpuset/pre"));  // existed before: kept
  m->destroy();                             // nothing left to do
}

TEST_CASE("v1 driver: a missing controller is refused before any write", "[cgroups][driver]") {
  TempDir tmp;
  Host host = fake_v1(tmp.path);
  auto m = open(host, "/c2", "c2");
  m->create();
  populate(tmp.path + "/memory/c2", {"memory.limit_in_bytes"});

  spec::Resources r = with_memory(1 << 20, std::nullopt);
  r.hugepage_limits.push_back({"2MB", 1 << 21});
  std::string message;
  CHECK(error_kind([&] { m->apply(r); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("linux.resources.hugepageLimits") && Catch::Contains("hugetlb"));
  CHECK(trimmed(tmp.path + "/memory/c2/memory.limit_in_bytes").empty());

  spec::Resources unified;
  unified.unified["memory.high"] = "1";
  CHECK(error_kind([&] { m->apply(unified); }) == ErrorKind::Unsupported);

  spec::Resources no_hugetlb_is_fine;  // unset values need no controller
  no_hugetlb_is_fine.memory.emplace();
  m->apply(no_hugetlb_is_fine);

  // A write the kernel refuses names the field and the file.
  spec::Resources idle = with_cpu(std::nullopt, std::nullopt);
  idle.cpu->idle = 1;
  CHECK(error_kind([&] { m->apply(idle); }, &message) == ErrorKind::Syscall);
  CHECK_THAT(message, Catch::Contains("linux.resources.cpu") && Catch::Contains("cpu.idle"));

  for (const char* h : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"})
    strip_files(tmp.path + "/" + h + "/c2");
  m->destroy();
  CHECK(!is_dir(tmp.path + "/memory/c2"));
}

TEST_CASE("hybrid driver: v2-only controllers and unified keys go to the cgroup2 mount", "[cgroups][driver]") {
  TempDir tmp;
  Host host = fake_hybrid(tmp.path, {"hugetlb"});

  auto m = open(host, "", "c3");
  CHECK(m->path() == "/ocirun/c3");
  m->create();
  std::string leaf = host.v2 + "/ocirun/c3";
  CHECK(is_dir(leaf));
  populate(host.v2 + "/ocirun", {"cgroup.subtree_control"});
  populate(leaf, {"cgroup.procs", "cgroup.subtree_control", "hugetlb.2MB.max", "cgroup.max.depth"});
  populate(tmp.path + "/pids/ocirun/c3", {"pids.max"});
  for (const char* h : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"})
    populate(tmp.path + "/" + h + "/ocirun/c3", {"cgroup.procs"});

  spec::Resources r = with_pids(10);
  r.hugepage_limits.push_back({"2MB", 4194304});
  r.unified["cgroup.max.depth"] = "2";
  m->apply(r);
  CHECK(trimmed(tmp.path + "/pids/ocirun/c3/pids.max") == "10");
  CHECK(trimmed(leaf + "/hugetlb.2MB.max") == "4194304");
  CHECK(trimmed(leaf + "/cgroup.max.depth") == "2");
  CHECK(trimmed(host.v2 + "/cgroup.subtree_control") == "+hugetlb");
  CHECK(trimmed(host.v2 + "/ocirun/cgroup.subtree_control") == "+hugetlb");
  CHECK(trimmed(leaf + "/cgroup.subtree_control").empty());  // the leaf keeps its processes

  spec::Resources bad;
  bad.unified["memory.high"] = "1";  // no memory controller in this cgroup2 mount
  std::string message;
  CHECK(error_kind([&] { m->apply(bad); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("memory.high"));

  m->add_process(99);
  CHECK(trimmed(leaf + "/cgroup.procs") == "99");
  CHECK(trimmed(tmp.path + "/memory/ocirun/c3/cgroup.procs") == "99");

  strip_files(tmp.path);
  m->destroy();
  CHECK(!is_dir(host.v2 + "/ocirun"));
  CHECK(!is_dir(tmp.path + "/memory/ocirun"));
}

TEST_CASE("default path: the last container out removes the shared /ocirun parent", "[cgroups][driver]") {
  TempDir tmp;
  Host host = fake_hybrid(tmp.path);
  const std::vector<std::string> mounts = {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio",
                                           "unified"};

  // a makes /ocirun, b finds it there; a leaves first, while b still lives in it.
  auto a = open(host, "", "a");
  auto b = open(host, "", "b");
  a->create();
  b->create();
  // b names the parent it did not make: whoever is last removes it.
  CHECK(b->saved().created.size() == mounts.size() * 2);
  a->destroy();
  for (const auto& h : mounts) {
    CHECK(!is_dir(tmp.path + "/" + h + "/ocirun/a"));
    CHECK(is_dir(tmp.path + "/" + h + "/ocirun/b"));
  }
  // Reopened from the state, as `delete` does.
  auto b_again = reopen(host, b->saved());
  b_again->destroy();
  for (const auto& h : mounts) CHECK(!is_dir(tmp.path + "/" + h + "/ocirun"));

  // An explicit path's existing parent stays someone else's: never removed.
  mkdirs(tmp.path + "/memory/mine");
  auto c = open(host, "/mine/c", "c");
  c->create();
  c->destroy();
  CHECK(is_dir(tmp.path + "/memory/mine"));
  CHECK(!is_dir(tmp.path + "/memory/mine/c"));
}

TEST_CASE("join_self: v1 writes 0 to tasks, the cgroup2 directory cgroup.procs unless cloned into it",
          "[cgroups][driver]") {
  TempDir tmp;
  Host host = fake_hybrid(tmp.path);
  auto m = open(host, "/j/c", "c");
  m->create();
  CHECK(m->v2_dir() == host.v2 + "/j/c");
  const std::vector<std::string> v1 = {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"};
  for (const auto& h : v1) populate(tmp.path + "/" + h + "/j/c", {"tasks", "cgroup.procs"});
  populate(host.v2 + "/j/c", {"cgroup.procs"});

  m->join_self(/*v2_done=*/true);
  for (const auto& h : v1) {
    CHECK(trimmed(tmp.path + "/" + h + "/j/c/tasks") == "0");
    CHECK(trimmed(tmp.path + "/" + h + "/j/c/cgroup.procs").empty());
  }
  CHECK(trimmed(host.v2 + "/j/c/cgroup.procs").empty());
  m->join_self(/*v2_done=*/false);
  CHECK(trimmed(host.v2 + "/j/c/cgroup.procs") == "0");

  // A hierarchy whose directory lacks the file: the error names it.
  ::unlink((tmp.path + "/pids/j/c/tasks").c_str());
  std::string message;
  CHECK(error_kind([&] { m->join_self(true); }, &message) == ErrorKind::Syscall);
  CHECK_THAT(message, Catch::Contains("pids/j/c/tasks"));

  strip_files(tmp.path);
  m->destroy();
  CHECK(!is_dir(tmp.path + "/memory/j"));

  Host v2 = fake_v2(tmp.path + "/cg2", {});
  auto n = open(v2, "/k", "k");
  n->create();
  CHECK(n->v2_dir() == v2.v2 + "/k");
  populate(v2.v2 + "/k", {"cgroup.procs"});
  n->join_self(true);
  CHECK(trimmed(v2.v2 + "/k/cgroup.procs").empty());
  n->join_self(false);
  CHECK(trimmed(v2.v2 + "/k/cgroup.procs") == "0");
  strip_files(v2.v2 + "/k");
  n->destroy();
}

TEST_CASE("v2 driver under systemd: no subtree_control above the unit's cgroup is written", "[cgroups][driver][systemd]") {
  TempDir tmp;
  // The state that broke the systemd tests: hugetlb enabled at the root by someone else.
  Host host = fake_v2(tmp.path + "/cg", {"hugetlb", "pids"});
  put(host.v2 + "/cgroup.subtree_control", "hugetlb pids\n");
  const std::string slice = host.v2 + "/system.slice", scope = slice + "/ocirun-c1.scope";
  mkdirs(scope);
  populate(slice, {"cgroup.subtree_control"});
  populate(scope, {"cgroup.procs", "cgroup.subtree_control", "pids.max", "hugetlb.2MB.max"});
  put(slice + "/cgroup.subtree_control", "pids\n");  // what systemd enabled for a unit with TasksMax
  host.v2_delegated = scope;
  auto m = open(host, "/system.slice/ocirun-c1.scope", "c1");

  spec::Resources huge;
  huge.hugepage_limits.push_back({"2MB", 4 << 20});
  std::string message;
  CHECK(error_kind([&] { m->apply(huge); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("hugetlb controller is not enabled in " + slice + "/cgroup.subtree_control"));
  CHECK_THAT(message, Catch::Contains("systemd owns that cgroup"));
  CHECK(trimmed(slice + "/cgroup.subtree_control") == "pids");  // untouched
  CHECK(trimmed(host.v2 + "/cgroup.subtree_control") == "hugetlb pids");

  spec::Resources pids;
  pids.pids.emplace();
  pids.pids->limit = 42;
  m->apply(pids);  // enabled by systemd on the way down: nothing to write but the limit
  CHECK(trimmed(scope + "/pids.max") == "42");
  CHECK(trimmed(slice + "/cgroup.subtree_control") == "pids");

  // The cgroupfs driver (nothing delegated) enables what it needs, as before.
  host.v2_delegated.clear();
  open(host, "/system.slice/ocirun-c1.scope", "c1")->apply(huge);
  CHECK(trimmed(slice + "/cgroup.subtree_control") == "+hugetlb");
  CHECK(trimmed(scope + "/hugetlb.2MB.max") == "4194304");
}

TEST_CASE("v2 driver: apply enables only needed controllers, reopen and destroy", "[cgroups][driver]") {
  TempDir tmp;
  Host host = fake_v2(tmp.path + "/cg", {"cpu", "cpuset", "io", "memory", "pids"});
  put(host.v2 + "/cgroup.subtree_control", "cpu memory pids\n");
  // A sibling container already lives under the shared parent.
  mkdirs(host.v2 + "/ocirun/other");

  auto m = open(host, "/ocirun/c4", "c4");
  m->create();
  std::string leaf = host.v2 + "/ocirun/c4";
  REQUIRE(is_dir(leaf));
  populate(host.v2 + "/ocirun", {"cgroup.subtree_control"});
  populate(leaf, {"cgroup.procs", "cgroup.subtree_control", "memory.max", "memory.swap.max", "cpu.max",
                  "cpu.weight", "pids.max", "io.max"});

  spec::Resources r = with_memory(64 << 20, 96 << 20);
  r.cpu.emplace();
  r.cpu->shares = 2048;
  r.cpu->quota = 25000;
  r.pids.emplace();
  r.pids->limit = -1;
  r.block_io.emplace();
  r.block_io->throttle_read_bps.push_back({259, 0, 1000});
  m->apply(r);  // no devices: a temp dir cannot take a BPF program (see the [root] tests)
  CHECK(trimmed(leaf + "/memory.max") == "67108864");
  CHECK(trimmed(leaf + "/memory.swap.max") == "33554432");
  CHECK(trimmed(leaf + "/cpu.weight") == "174");
  CHECK(trimmed(leaf + "/cpu.max") == "25000 100000");
  CHECK(trimmed(leaf + "/pids.max") == "max");
  CHECK(trimmed(leaf + "/io.max") == "259:0 rbps=1000");
  CHECK(trimmed(host.v2 + "/cgroup.subtree_control") == "+io");  // only io was missing at the root
  CHECK(trimmed(host.v2 + "/ocirun/cgroup.subtree_control") == "+pids");  // last of +cpu +io +memory +pids
  CHECK(trimmed(leaf + "/cgroup.subtree_control").empty());

  spec::Resources huge;
  huge.hugepage_limits.push_back({"2MB", 1});
  std::string message;
  CHECK(error_kind([&] { m->apply(huge); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("linux.resources.hugepageLimits") && Catch::Contains("hugetlb"));

  m->add_process(1234);
  CHECK(trimmed(leaf + "/cgroup.procs") == "1234");

  // A later command reopens from the saved state and deletes.
  Saved saved = m->saved();
  CHECK(saved.path == "/ocirun/c4");
  CHECK(saved.dirs == std::map<std::string, std::string>{{"", leaf}});
  CHECK(saved.created == std::vector<std::string>{leaf});  // /ocirun existed already
  m.reset();
  auto again = reopen(host, saved);
  CHECK(again->path() == "/ocirun/c4");
  strip_files(leaf);
  again->destroy();
  CHECK(!is_dir(leaf));
  CHECK(is_dir(host.v2 + "/ocirun/other"));

  // open() without create() made nothing, so it removes nothing.
  auto other = open(host, "/ocirun/other", "other");
  other->destroy();
  CHECK(is_dir(host.v2 + "/ocirun/other"));
}

TEST_CASE("destroy leaves a parent it made when another container moved in", "[cgroups][driver]") {
  TempDir tmp;
  Host host = fake_v2(tmp.path + "/cg", {});
  auto a = open(host, "/shared/a", "a");
  a->create();
  CHECK(a->saved().created.size() == 2);
  auto b = open(host, "/shared/b", "b");
  b->create();
  CHECK(b->saved().created.size() == 1);
  a->destroy();
  CHECK(!is_dir(host.v2 + "/shared/a"));
  CHECK(is_dir(host.v2 + "/shared/b"));
  b->destroy();
  CHECK(is_dir(host.v2 + "/shared"));  // b did not make it; a gave up on it
}

// ============================================================================
// [root]: this host's real cgroupfs
// ============================================================================

namespace {

pid_t spawn_sleeper() {
  int ready[2];
  REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Catch's handlers came with the fork: the child must die of its signals, not report them.
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::close(ready[0]);
    ::close(ready[1]);  // EOF: the handlers are reset
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c;
  while (::read(ready[0], &c, 1) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  REQUIRE(pid > 0);
  return pid;
}

// The wait status, or nullopt if the child did not end within 5 s.
std::optional<int> wait_for(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

// Kills the children and removes the cgroup even when a REQUIRE fails half way.
struct RealCgroup {
  std::unique_ptr<Manager> m;
  std::vector<pid_t> children;
  ~RealCgroup() {
    for (pid_t pid : children) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (m) {
      try {
        m->freeze(false);
      } catch (...) {
      }
      try {
        m->destroy();
      } catch (const std::exception& e) {
        WARN("cleanup: " << e.what());
      }
    }
  }
  pid_t child() {
    pid_t pid = spawn_sleeper();
    children.push_back(pid);
    return pid;
  }
  void reaped(pid_t pid) { std::erase(children, pid); }
};

bool can_run_root_tests() {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return false;
  }
  return true;
}

std::string proc_cgroup(pid_t pid) { return slurp("/proc/" + std::to_string(pid) + "/cgroup"); }

// This host's cgroup2 mount, to be driven by the v2 driver as on a pure v2 host; nullopt (with
// a warning: the test is skipped) when there is none.
std::optional<Host> cgroup2_as_v2_root() {
  Host host = detect_host();
  if (host.v2.empty()) {
    WARN("skipped: no cgroup2 mount");
    return std::nullopt;
  }
  host.layout = Layout::V2;
  host.root = host.v2;
  host.v1.clear();
  return host;
}

}  // namespace

TEST_CASE("detect_host on this machine", "[cgroups][root]") {
  Host h = detect_host();
  CHECK(h.root == "/sys/fs/cgroup");
  if (h.layout == Layout::Hybrid) {
    CHECK(h.v2 == "/sys/fs/cgroup/unified");
    CHECK(h.has_v1("memory"));
    CHECK(h.has_v1("pids"));
    CHECK(h.has_v1("freezer"));
    CHECK(h.v2_controllers.count("hugetlb"));
  }
  CHECK(!h.self.empty());
}

TEST_CASE("real v1/hybrid cgroup: limits, a child, freeze, kill, destroy", "[cgroups][root]") {
  if (!can_run_root_tests()) return;
  Host host = detect_host();
  if (host.layout == Layout::V2) {
    WARN("skipped: host is cgroup v2");
    return;
  }
  REQUIRE(host.has_v1("memory"));
  REQUIRE(host.has_v1("pids"));
  REQUIRE(host.has_v1("freezer"));
  const std::string name = "ocirun-test-" + std::to_string(::getpid());

  RealCgroup cg;
  cg.m = open(host, "/" + name, name);  // absolute: nothing under this process's own cgroups
  for (const auto& [h, dir] : cg.m->saved().dirs) REQUIRE(dir.find("process_api") == std::string::npos);
  cg.m->create();
  const Saved saved = cg.m->saved();
  const std::string mem = host.v1.at("memory") + "/" + name;
  CHECK(saved.dirs.at("memory") == mem);
  CHECK(is_dir(mem));
  if (host.has_v1("cpuset")) CHECK(!trimmed(host.v1.at("cpuset") + "/" + name + "/cpuset.cpus").empty());

  spec::Resources r = with_memory(64 << 20, std::nullopt);
  if (::access((mem + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0) r.memory->swap = 128 << 20;
  r.pids.emplace();
  r.pids->limit = 42;
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.devices.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  cg.m->apply(r);
  CHECK(trimmed(mem + "/memory.limit_in_bytes") == "67108864");
  if (r.memory->swap) CHECK(trimmed(mem + "/memory.memsw.limit_in_bytes") == "134217728");
  CHECK(trimmed(host.v1.at("pids") + "/" + name + "/pids.max") == "42");
  CHECK(trimmed(host.v1.at("cpu") + "/" + name + "/cpu.shares") == "512");
  CHECK(trimmed(host.v1.at("cpu") + "/" + name + "/cpu.cfs_quota_us") == "50000");
  CHECK(trimmed(host.v1.at("devices") + "/" + name + "/devices.list") == "c 1:3 rwm");

  // Raising the limit above the current memsw needs memsw first: the driver reorders.
  if (r.memory->swap) {
    cg.m->apply(with_memory(256 << 20, 512 << 20));
    CHECK(trimmed(mem + "/memory.limit_in_bytes") == "268435456");
    CHECK(trimmed(mem + "/memory.memsw.limit_in_bytes") == "536870912");
    // -1 lifts both: memsw has to grow first, then the limit.
    cg.m->apply(with_memory(-1, std::nullopt));
    CHECK(trimmed(mem + "/memory.limit_in_bytes") == trimmed(host.v1.at("memory") + "/memory.limit_in_bytes"));
    CHECK(trimmed(mem + "/memory.memsw.limit_in_bytes") == trimmed(host.v1.at("memory") + "/memory.memsw.limit_in_bytes"));
  }

  pid_t child = cg.child();
  cg.m->add_process(child);
  std::string in = proc_cgroup(child);
  CHECK_THAT(in, Catch::Contains(":memory:/" + name + "\n"));
  CHECK_THAT(in, Catch::Contains(":pids:/" + name + "\n"));
  if (host.layout == Layout::Hybrid) CHECK_THAT(in, Catch::Contains("0::/" + name + "\n"));
  CHECK(cg.m->pids() == std::vector<pid_t>{child});

  cg.m->freeze(true);
  CHECK(cg.m->frozen());
  CHECK(trimmed(host.v1.at("freezer") + "/" + name + "/freezer.state") == "FROZEN");
  cg.m->freeze(false);
  CHECK(!cg.m->frozen());
  CHECK(trimmed(host.v1.at("freezer") + "/" + name + "/freezer.state") == "THAWED");

  // SIGTERM: signalled one by one (frozen around it).
  cg.m->kill_all(SIGTERM);
  auto status = wait_for(child);
  REQUIRE(status);
  cg.reaped(child);
  CHECK(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGTERM);
  CHECK(!cg.m->frozen());

  // SIGKILL on a paused container: cgroup.kill on hybrid, then a thaw so it can die.
  pid_t second = cg.child();
  cg.m->add_process(second);
  cg.m->freeze(true);
  cg.m->kill_all(SIGKILL);
  status = wait_for(second);
  REQUIRE(status);
  cg.reaped(second);
  CHECK(WIFSIGNALED(*status));
  CHECK(WTERMSIG(*status) == SIGKILL);
  CHECK(cg.m->pids().empty());

  cg.m->destroy();
  for (const auto& [h, dir] : saved.dirs) CHECK(!is_dir(dir));
  CHECK(is_dir(host.v1.at("memory")));
}

TEST_CASE("real cgroup v2 (the cgroup2 mount as a v2 root): child, freeze, kill, destroy", "[cgroups][root]") {
  if (!can_run_root_tests()) return;
  std::optional<Host> v2_root = cgroup2_as_v2_root();
  if (!v2_root) return;
  const Host& host = *v2_root;
  const std::string name = "ocirun-test-v2-" + std::to_string(::getpid());

  RealCgroup cg;
  cg.m = open(host, "/" + name, name);
  cg.m->create();
  const std::string dir = host.v2 + "/" + name;
  REQUIRE(is_dir(dir));

  if (!host.has_v2("pids")) {
    // A limit whose controller this mount lacks: refused, naming both.
    std::string message;
    CHECK(error_kind([&] { cg.m->apply(with_pids(5)); }, &message) == ErrorKind::Unsupported);
    CHECK_THAT(message, Catch::Contains("linux.resources.pids") && Catch::Contains("\"pids\""));
  }

  pid_t child = cg.child();
  cg.m->add_process(child);
  CHECK_THAT(proc_cgroup(child), Catch::Contains("0::/" + name + "\n"));
  CHECK(cg.m->pids() == std::vector<pid_t>{child});

  cg.m->freeze(true);
  CHECK(cg.m->frozen());
  CHECK_THAT(slurp(dir + "/cgroup.events"), Catch::Contains("frozen 1"));
  cg.m->freeze(false);
  CHECK(!cg.m->frozen());

  cg.m->kill_all(SIGTERM);  // no cgroup.kill for SIGTERM: freeze, signal each, thaw
  auto status = wait_for(child);
  REQUIRE(status);
  cg.reaped(child);
  CHECK(WTERMSIG(*status) == SIGTERM);

  pid_t second = cg.child();
  cg.m->add_process(second);
  cg.m->kill_all(SIGKILL);  // cgroup.kill
  status = wait_for(second);
  REQUIRE(status);
  cg.reaped(second);
  CHECK(WTERMSIG(*status) == SIGKILL);

  cg.m->destroy();
  CHECK(!is_dir(dir));
}

// ============================================================================
// cgroup v2 devices: the BPF_CGROUP_DEVICE program
// ============================================================================

namespace {

constexpr uint32_t kBlock = 1, kChar = 2;               // BPF_DEVCG_DEV_*
constexpr uint32_t kMknod = 1, kRead = 2, kWrite = 4;   // BPF_DEVCG_ACC_*

spec::DeviceCgroupRule rule(bool allow, std::string type, std::optional<int64_t> major, std::optional<int64_t> minor,
                            std::string access) {
  return {allow, std::move(type), major, minor, std::move(access)};
}

// Runs a device program the way the kernel would for one access, on the few instructions
// device_filter emits (32-bit loads from the context, 32-bit ALU, jumps on constants, exit).
// An empty program allows everything (nothing is attached).
int run_filter(const std::vector<BpfInsn>& prog, uint32_t type, uint32_t access, uint32_t major, uint32_t minor) {
  if (prog.empty()) return 1;
  const uint32_t ctx[3] = {(access << 16) | type, major, minor};
  uint64_t r[11] = {};
  for (size_t pc = 0, steps = 0; pc < prog.size() && steps < 100000; ++pc, ++steps) {
    const BpfInsn& i = prog[pc];
    uint8_t cls = i.code & 0x07, op = i.code & 0xf0, src_is_reg = i.code & 0x08;
    if (cls == 0x01) {  // BPF_LDX
      REQUIRE((i.code & 0x18) == 0x00);  // BPF_W
      REQUIRE(i.src == 1);
      REQUIRE(i.off % 4 == 0);
      REQUIRE(i.off / 4 < 3);
      r[i.dst] = ctx[i.off / 4];
    } else if (cls == 0x04) {  // BPF_ALU (32-bit, zero-extends)
      uint32_t a = static_cast<uint32_t>(r[i.dst]);
      uint32_t b = src_is_reg ? static_cast<uint32_t>(r[i.src]) : static_cast<uint32_t>(i.imm);
      switch (op) {
        case 0xb0: a = b; break;       // MOV
        case 0x50: a &= b; break;      // AND
        case 0x70: a >>= b; break;     // RSH
        default: FAIL("unexpected ALU op " << int(op));
      }
      r[i.dst] = a;
    } else if (cls == 0x05) {  // BPF_JMP
      if (op == 0x90) return static_cast<int>(r[0]);  // EXIT
      REQUIRE(!src_is_reg);
      uint64_t b = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
      bool taken = op == 0x10 ? r[i.dst] == b : op == 0x50 ? r[i.dst] != b : false;
      REQUIRE((op == 0x10 || op == 0x50));
      if (taken) pc += i.off;
    } else {
      FAIL("unexpected instruction class " << int(cls));
    }
  }
  FAIL("the program ran off its end");
  return -1;
}

// The rules create() applies for a spec with linux.resources: the spec's, then the default
// devices (runtime/create.cc), here with the spec denying everything first.
std::vector<spec::DeviceCgroupRule> default_rules() {
  std::vector<spec::DeviceCgroupRule> r = {rule(false, "", std::nullopt, std::nullopt, "rwm")};
  for (auto [major, minor] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}})
    r.push_back(rule(true, "c", major, minor, "rwm"));
  r.push_back(rule(true, "c", 136, std::nullopt, "rwm"));
  r.push_back(rule(true, "c", 10, 200, "rwm"));
  return r;
}

}  // namespace

TEST_CASE("device_filter: the instruction sequence for a small rule set", "[cgroups][devices]") {
  auto prog = device_filter({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm"),
                             rule(true, "c", 136, std::nullopt, "rw"), rule(false, "b", 8, 0, "m")});
  // Last rule first; "+N" skips to the next rule's block.
  CHECK(disassemble(prog) ==
        "r2 = *(u32 *)(r1 + 0)\n"
        "w2 &= 0xffff\n"
        "r3 = *(u32 *)(r1 + 0)\n"
        "w3 >>= 16\n"
        "r4 = *(u32 *)(r1 + 4)\n"
        "r5 = *(u32 *)(r1 + 8)\n"
        // deny b 8:0 m
        "if r2 != 1 goto +7\n"
        "if r4 != 8 goto +6\n"
        "if r5 != 0 goto +5\n"
        "w1 = w3\n"
        "w1 &= 0x1\n"
        "if r1 == 0 goto +2\n"
        "w0 = 0\n"
        "exit\n"
        // allow c 136:* rw
        "if r2 != 2 goto +5\n"
        "if r4 != 136 goto +4\n"
        "w3 &= 0x1\n"
        "if r3 != 0 goto +2\n"
        "w0 = 1\n"
        "exit\n"
        // allow c 1:3 rwm
        "if r2 != 2 goto +4\n"
        "if r4 != 1 goto +3\n"
        "if r5 != 3 goto +2\n"
        "w0 = 1\n"
        "exit\n"
        // default: deny
        "w0 = 0\n"
        "exit\n");
  CHECK(prog[0].code == 0x61);  // BPF_LDX | BPF_W | BPF_MEM
  CHECK(prog[6].code == 0x55);  // BPF_JMP | BPF_JNE | BPF_K
  CHECK(prog.back().code == 0x95);  // BPF_JMP | BPF_EXIT
}

TEST_CASE("device_filter: nothing to attach when everything stays allowed", "[cgroups][devices]") {
  CHECK(device_filter({}).empty());
  CHECK(device_filter({rule(true, "c", 1, 3, "rwm"), rule(true, "b", 8, std::nullopt, "r")}).empty());
  CHECK(device_filter({rule(false, "", std::nullopt, std::nullopt, "rwm"),
                       rule(true, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm")})
            .empty());
  // Deny everything: only the default remains.
  auto deny_all = device_filter({rule(true, "c", 1, 3, "rwm"), rule(false, "a", std::nullopt, std::nullopt, "")});
  CHECK(deny_all.size() == 8);
  CHECK(run_filter(deny_all, kChar, kRead, 1, 3) == 0);
}

TEST_CASE("device_filter: v1 list semantics, last matching rule wins", "[cgroups][devices]") {
  SECTION("the default devices with /dev/full denied afterwards") {
    auto rules = default_rules();
    rules.push_back(rule(false, "c", 1, 7, "rwm"));
    auto p = device_filter(rules);
    CHECK(run_filter(p, kChar, kRead | kWrite, 1, 3) == 1);  // /dev/null
    CHECK(run_filter(p, kChar, kRead, 1, 7) == 0);           // /dev/full
    CHECK(run_filter(p, kChar, kWrite, 1, 7) == 0);
    CHECK(run_filter(p, kChar, kRead, 136, 4) == 1);         // /dev/pts/4
    CHECK(run_filter(p, kChar, kRead, 1, 11) == 0);          // /dev/kmsg: not listed
    CHECK(run_filter(p, kBlock, kRead, 1, 3) == 0);          // same numbers, block device
    CHECK(run_filter(p, kBlock, kMknod, 8, 0) == 0);
  }
  SECTION("a deny before an allow of the same device loses") {
    auto p = device_filter({rule(false, "", std::nullopt, std::nullopt, "rwm"), rule(false, "c", 1, 7, "rwm"),
                            rule(true, "c", 1, 7, "rwm")});
    CHECK(run_filter(p, kChar, kRead, 1, 7) == 1);
  }
  SECTION("per access bit") {
    auto p = device_filter({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 7, "r"),
                            rule(true, "c", 1, std::nullopt, "w"), rule(true, "c", 5, std::nullopt, "rwm"),
                            rule(false, "c", 5, 1, "w")});
    CHECK(run_filter(p, kChar, kRead, 1, 7) == 1);
    CHECK(run_filter(p, kChar, kWrite, 1, 7) == 1);
    CHECK(run_filter(p, kChar, kRead | kWrite, 1, 7) == 1);  // r from one rule, w from another
    CHECK(run_filter(p, kChar, kMknod, 1, 7) == 0);
    CHECK(run_filter(p, kChar, kRead | kMknod, 1, 7) == 0);  // m is asked and nobody allows it
    CHECK(run_filter(p, kChar, kRead, 1, 8) == 0);           // only w for 1:*
    CHECK(run_filter(p, kChar, kWrite, 1, 8) == 1);
    CHECK(run_filter(p, kChar, kRead, 5, 1) == 1);           // the deny names w only
    CHECK(run_filter(p, kChar, kWrite, 5, 1) == 0);
    CHECK(run_filter(p, kChar, kRead | kWrite, 5, 1) == 0);
    CHECK(run_filter(p, kChar, kWrite, 5, 2) == 1);
  }
  SECTION("without a reset the default is allow: denies narrow it") {
    auto p = device_filter({rule(false, "c", 1, 7, "rwm"), rule(false, "b", std::nullopt, std::nullopt, "m")});
    CHECK(run_filter(p, kChar, kRead, 1, 7) == 0);
    CHECK(run_filter(p, kChar, kRead, 1, 3) == 1);
    CHECK(run_filter(p, kBlock, kMknod, 8, 0) == 0);
    CHECK(run_filter(p, kBlock, kRead, 8, 0) == 1);
  }
  SECTION("a reset in the middle forgets the rules before it") {
    auto p = device_filter({rule(false, "", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm"),
                            rule(true, "a", std::nullopt, std::nullopt, "rwm"), rule(false, "c", 1, 5, "rwm")});
    CHECK(run_filter(p, kChar, kRead, 1, 5) == 0);
    CHECK(run_filter(p, kChar, kRead, 1, 9) == 1);
    CHECK(run_filter(p, kBlock, kRead, 8, 0) == 1);
  }
  SECTION("negative numbers are wildcards; numbers no device has never match") {
    auto p = device_filter({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", -1, -1, "r"),
                            rule(true, "b", int64_t{1} << 40, 0, "rwm")});
    CHECK(run_filter(p, kChar, kRead, 4000, 17) == 1);
    CHECK(run_filter(p, kChar, kWrite, 4000, 17) == 0);
    CHECK(run_filter(p, kBlock, kRead, 0, 0) == 0);
  }
}

TEST_CASE("device_filter: bad rules, device_rules_reset", "[cgroups][devices]") {
  std::string message;
  CHECK(error_kind([&] { device_filter({rule(true, "x", 1, 3, "rwm")}); }, &message) == ErrorKind::InvalidSpec);
  CHECK_THAT(message, Catch::Contains("linux.resources.devices") && Catch::Contains("\"x\""));
  CHECK(error_kind([&] { device_filter({rule(true, "c", 1, 3, "rwx")}); }) == ErrorKind::InvalidSpec);
  CHECK(device_rules_reset(default_rules()));
  CHECK(!device_rules_reset({rule(false, "c", 1, 7, "rwm")}));
  CHECK(device_rules_reset({rule(true, "a", 1, 7, "r")}));
}

TEST_CASE("v2 driver: device rules are checked before any write and need a real cgroup", "[cgroups][devices][driver]") {
  TempDir tmp;
  Host host = fake_v2(tmp.path + "/cg", {"pids"});
  auto m = open(host, "/ocirun/d1", "d1");
  m->create();
  std::string leaf = host.v2 + "/ocirun/d1";
  populate(host.v2 + "/ocirun", {"cgroup.subtree_control"});
  populate(leaf, {"cgroup.procs", "pids.max"});

  spec::Resources bad = with_pids(7);
  bad.devices.push_back(rule(true, "q", 1, 3, "rwm"));
  CHECK(error_kind([&] { m->apply(bad); }) == ErrorKind::InvalidSpec);
  CHECK(trimmed(leaf + "/pids.max").empty());  // nothing written

  // A plain directory is no cgroup: the attach fails, naming the field.
  spec::Resources r = with_pids(7);
  r.devices = default_rules();
  std::string message;
  CHECK(error_kind([&] { m->apply(r); }, &message) == ErrorKind::Syscall);
  CHECK_THAT(message, Catch::Contains("linux.resources.devices"));
  strip_files(tmp.path);
  m->destroy();
}

TEST_CASE("hybrid driver without a v1 devices hierarchy: device rules go to the unified cgroup",
          "[cgroups][devices][driver]") {
  TempDir tmp;
  Host host = fake_hybrid(tmp.path);
  host.v1.erase("devices");
  auto m = open(host, "/ocirun/d2", "d2");
  m->create();
  spec::Resources r;
  r.devices = default_rules();
  // Not Unsupported: the program is built and the attach tried (a temp dir is no cgroup).
  std::string message;
  CHECK(error_kind([&] { m->apply(r); }, &message) == ErrorKind::Syscall);
  CHECK_THAT(message, Catch::Contains("linux.resources.devices") && Catch::Contains(host.v2 + "/ocirun/d2"));
  // Without a cgroup2 mount either, the rules cannot be enforced.
  host.v2.clear();
  host.layout = Layout::V1;
  auto v1_only = open(host, "/ocirun/d3", "d3");
  CHECK(error_kind([&] { v1_only->apply(r); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("\"devices\""));
  strip_files(tmp.path);
  m->destroy();
}

// ============================================================================
// Statistics
// ============================================================================

TEST_CASE("stat parsers: flat keyed, blkio v1, io.stat, limits", "[cgroups][stats]") {
  auto m = parse_flat_keyed("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nbad line here\nempty\n");
  CHECK(m == std::map<std::string, uint64_t>{{"usage_usec", 1500}, {"user_usec", 1000}, {"system_usec", 500}});

  auto b = parse_blkio_v1("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n253:1 Read 7\nTotal 12295\n");
  CHECK(b == std::vector<BlkioEntry>{{8, 0, "Read", 4096}, {8, 0, "Write", 8192}, {8, 0, "Sync", 0}, {253, 1, "Read", 7}});
  CHECK(parse_blkio_v1("8:0 1234\n") == std::vector<BlkioEntry>{{8, 0, "", 1234}});  // sectors
  CHECK(parse_blkio_v1("Total 0\n").empty());

  Stats::Blkio io;
  parse_io_stat("259:0 rbytes=1048576 wbytes=4096 rios=256 wios=1 dbytes=0 dios=0\n7:3 rbytes=5 wbytes=0 rios=1 wios=0\n",
                io);
  CHECK(io.io_service_bytes_recursive ==
        std::vector<BlkioEntry>{{259, 0, "Read", 1048576}, {259, 0, "Write", 4096}, {259, 0, "Discard", 0},
                                {7, 3, "Read", 5}, {7, 3, "Write", 0}});
  CHECK(io.io_serviced_recursive ==
        std::vector<BlkioEntry>{{259, 0, "Read", 256}, {259, 0, "Write", 1}, {259, 0, "Discard", 0},
                                {7, 3, "Read", 1}, {7, 3, "Write", 0}});

  CHECK(parse_limit("max\n") == UINT64_MAX);
  CHECK(parse_limit("-1") == UINT64_MAX);
  CHECK(parse_limit("9223372036854771712\n") == 9223372036854771712ull);
  CHECK(parse_limit("16777216") == 16777216);
  CHECK(parse_limit("junk") == 0);
}

TEST_CASE("v1 driver: stats and oom_kills from a fake tree", "[cgroups][stats][driver]") {
  TempDir tmp;
  Host host = fake_v1(tmp.path);
  auto m = open(host, "/ocirun/s1", "s1");
  m->create();
  const std::string cpu = tmp.path + "/cpu,cpuacct/ocirun/s1", mem = tmp.path + "/memory/ocirun/s1",
                    pids = tmp.path + "/pids/ocirun/s1", blkio = tmp.path + "/blkio/ocirun/s1";
  long hz = ::sysconf(_SC_CLK_TCK);
  put(cpu + "/cpuacct.usage", "3000000000\n");
  put(cpu + "/cpuacct.usage_percpu", "1000000000 2000000000 \n");
  put(cpu + "/cpuacct.stat", "user " + std::to_string(hz * 2) + "\nsystem " + std::to_string(hz) + "\n");
  put(cpu + "/cpuacct.usage_all", "cpu user system\n0 600 400\n1 1500 500\n");
  put(cpu + "/cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 777\n");
  put(mem + "/memory.usage_in_bytes", "1048576\n");
  put(mem + "/memory.max_usage_in_bytes", "2097152\n");
  put(mem + "/memory.failcnt", "4\n");
  put(mem + "/memory.limit_in_bytes", "16777216\n");
  put(mem + "/memory.memsw.usage_in_bytes", "1052672\n");
  put(mem + "/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  put(mem + "/memory.stat", "cache 8192\nrss 4096\ntotal_inactive_file 100\n");
  put(mem + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  put(pids + "/pids.current", "3\n");
  put(pids + "/pids.max", "10\n");
  put(blkio + "/blkio.io_serviced_recursive", "Total 0\n");  // CFQ files empty: the throttle ones count
  put(blkio + "/blkio.throttle.io_service_bytes_recursive", "8:0 Read 512\n8:0 Write 1024\nTotal 1536\n");
  put(blkio + "/blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\nTotal 3\n");

  Stats s = m->stats();
  CHECK(s.cpu.total == 3000000000);
  CHECK(s.cpu.percpu == std::vector<uint64_t>{1000000000, 2000000000});
  CHECK(s.cpu.user == 2000000000);
  CHECK(s.cpu.kernel == 1000000000);
  CHECK(s.cpu.percpu_user == std::vector<uint64_t>{600, 1500});
  CHECK(s.cpu.percpu_kernel == std::vector<uint64_t>{400, 500});
  CHECK(s.cpu.periods == 10);
  CHECK(s.cpu.throttled_periods == 3);
  CHECK(s.cpu.throttled_time == 777);
  CHECK(s.memory.usage.usage == 1048576);
  CHECK(s.memory.usage.max == 2097152);
  CHECK(s.memory.usage.failcnt == 4);
  CHECK(s.memory.usage.limit == 16777216);
  CHECK(s.memory.swap.usage == 1052672);
  CHECK(s.memory.swap.limit == 9223372036854771712ull);
  CHECK(s.memory.kernel.usage == 0);  // no kmem files: zeros
  CHECK(s.memory.cache == 8192);
  CHECK(s.memory.raw.at("rss") == 4096);
  CHECK(s.memory.oom_kill == 2);
  CHECK(!s.memory.under_oom);
  CHECK(s.pids.current == 3);
  CHECK(s.pids.limit == 10);
  CHECK(s.blkio.io_service_bytes_recursive == std::vector<BlkioEntry>{{8, 0, "Read", 512}, {8, 0, "Write", 1024}});
  CHECK(s.blkio.io_serviced_recursive == std::vector<BlkioEntry>{{8, 0, "Read", 1}, {8, 0, "Write", 2}});
  CHECK(s.hugetlb.empty());
  CHECK(m->oom_kills() == 2);

  // CFQ numbers, when there are any, win.
  put(blkio + "/blkio.io_serviced_recursive", "8:16 Read 9\nTotal 9\n");
  put(blkio + "/blkio.io_service_bytes_recursive", "8:16 Read 4608\nTotal 4608\n");
  put(blkio + "/blkio.sectors_recursive", "8:16 9\n");
  s = m->stats();
  CHECK(s.blkio.io_serviced_recursive == std::vector<BlkioEntry>{{8, 16, "Read", 9}});
  CHECK(s.blkio.io_service_bytes_recursive == std::vector<BlkioEntry>{{8, 16, "Read", 4608}});
  CHECK(s.blkio.sectors_recursive == std::vector<BlkioEntry>{{8, 16, "", 9}});

  put(pids + "/pids.max", "max\n");
  CHECK(m->stats().pids.limit == 0);

  strip_files(tmp.path);
  m->destroy();
  // Gone: stats() fails instead of reporting zeros.
  CHECK(error_kind([&] { m->stats(); }) == ErrorKind::Syscall);
}

TEST_CASE("v2 driver: stats and oom_kills from a fake tree", "[cgroups][stats][driver]") {
  TempDir tmp;
  Host host = fake_v2(tmp.path + "/cg", {"cpu", "memory", "pids", "io", "hugetlb"});
  auto m = open(host, "/ocirun/s2", "s2");
  m->create();
  const std::string d = host.v2 + "/ocirun/s2";
  put(d + "/cpu.stat",
      "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n");
  put(d + "/memory.current", "4194304\n");
  put(d + "/memory.max", "16777216\n");
  put(d + "/memory.peak", "5000000\n");
  put(d + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  put(d + "/memory.stat", "anon 1000\nfile 2000\ninactive_file 50\n");
  put(d + "/memory.swap.current", "1024\n");
  put(d + "/memory.swap.max", "0\n");
  put(d + "/pids.current", "2\n");
  put(d + "/pids.max", "max\n");
  put(d + "/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
  put(d + "/hugetlb.2MB.current", "2097152\n");
  put(d + "/hugetlb.2MB.events", "max 3\n");
  put(d + "/hugetlb.2MB.rsvd.current", "0\n");  // not a page size of its own
  put(d + "/hugetlb.1GB.current", "0\n");

  Stats s = m->stats();
  CHECK(s.cpu.total == 2500000);
  CHECK(s.cpu.user == 2000000);
  CHECK(s.cpu.kernel == 500000);
  CHECK(s.cpu.percpu.empty());
  CHECK(s.cpu.periods == 7);
  CHECK(s.cpu.throttled_periods == 2);
  CHECK(s.cpu.throttled_time == 30000);
  CHECK(s.memory.usage.usage == 4194304);
  CHECK(s.memory.usage.limit == 16777216);
  CHECK(s.memory.usage.max == 5000000);
  CHECK(s.memory.usage.failcnt == 12);
  CHECK(s.memory.cache == 2000);
  CHECK(s.memory.swap.usage == 4194304 + 1024);  // memory+swap, as on v1
  CHECK(s.memory.swap.limit == 16777216);        // swap.max 0 + memory.max
  CHECK(s.memory.oom == 1);
  CHECK(s.memory.oom_kill == 1);
  CHECK(s.pids.current == 2);
  CHECK(s.pids.limit == 0);
  CHECK(s.blkio.io_service_bytes_recursive.size() == 3);
  CHECK(s.blkio.io_service_bytes_recursive[1] == BlkioEntry{8, 0, "Write", 200});
  REQUIRE(s.hugetlb.size() == 2);
  CHECK(s.hugetlb.at("2MB").usage == 2097152);
  CHECK(s.hugetlb.at("2MB").failcnt == 3);
  CHECK(s.hugetlb.at("1GB").usage == 0);
  CHECK(m->oom_kills() == 1);

  put(d + "/memory.max", "max\n");
  put(d + "/memory.swap.max", "max\n");
  s = m->stats();
  CHECK(s.memory.usage.limit == UINT64_MAX);
  CHECK(s.memory.swap.limit == UINT64_MAX);

  strip_files(tmp.path);
  m->destroy();
}

TEST_CASE("hybrid driver: stats of controllers only the cgroup2 mount has", "[cgroups][stats][driver]") {
  TempDir tmp;
  Host host = fake_hybrid(tmp.path, {"hugetlb"});
  auto m = open(host, "/ocirun/s3", "s3");
  m->create();
  put(host.v2 + "/ocirun/s3/hugetlb.2MB.current", "4194304\n");
  put(tmp.path + "/memory/ocirun/s3/memory.usage_in_bytes", "77\n");
  Stats s = m->stats();
  CHECK(s.hugetlb.at("2MB").usage == 4194304);
  CHECK(s.memory.usage.usage == 77);
  strip_files(tmp.path);
  m->destroy();
}

// ============================================================================
// [root]: a device program on this host's cgroup2 mount
// ============================================================================

namespace {

// A child that waits for a byte on `go`, then opens /dev/full and /dev/null for reading and
// exits with bit 0 set if /dev/full failed with EPERM and bit 1 set if /dev/null opened.
struct DeviceProbe {
  pid_t pid = -1;
  int go = -1;
  DeviceProbe() {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(p[1]);
      char c;
      if (::read(p[0], &c, 1) != 1) ::_exit(100);
      int code = 0;
      int full = ::open("/dev/full", O_RDONLY);
      if (full < 0 && errno == EPERM) code |= 1;
      int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) code |= 2;
      ::_exit(code);
    }
    ::close(p[0]);
    go = p[1];
  }
  // Lets the child probe; its exit code.
  int result() {
    REQUIRE(::write(go, "x", 1) == 1);
    ::close(go);
    auto status = wait_for(pid);
    pid = -1;
    REQUIRE(status);
    REQUIRE(WIFEXITED(*status));
    return WEXITSTATUS(*status);
  }
  ~DeviceProbe() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace

TEST_CASE("real cgroup2: a device program denies /dev/full, allows /dev/null, update and replace",
          "[cgroups][root][devices]") {
  if (!can_run_root_tests()) return;
  std::optional<Host> v2_root = cgroup2_as_v2_root();
  if (!v2_root) return;
  const Host& host = *v2_root;
  const std::string name = "ocirun-test-bpf-" + std::to_string(::getpid());
  RealCgroup cg;
  cg.m = open(host, "/" + name, name);
  cg.m->create();
  const std::string dir = host.v2 + "/" + name;

  // Before any program: both open.
  {
    DeviceProbe probe;
    cg.m->add_process(probe.pid);
    CHECK(probe.result() == 2);
  }

  spec::Resources r;
  r.devices = default_rules();
  r.devices.push_back(rule(false, "c", 1, 7, "rwm"));  // deny c 1:7, after the default allow
  cg.m->apply(r);
  CHECK(attached_device_programs(dir).size() == 1);
  {
    DeviceProbe probe;
    cg.m->add_process(probe.pid);
    CHECK(probe.result() == (1 | 2));  // /dev/full: EPERM; /dev/null: opens
  }

  // An update without a reset narrows: a second program, both in force.
  spec::Resources narrow;
  narrow.devices.push_back(rule(false, "c", 1, 3, "r"));
  cg.m->apply(narrow);
  CHECK(attached_device_programs(dir).size() == 2);
  {
    DeviceProbe probe;
    cg.m->add_process(probe.pid);
    CHECK(probe.result() == 1);  // /dev/null now refused too
  }

  // A full list (with a reset) replaces both.
  spec::Resources full;
  full.devices = default_rules();
  cg.m->apply(full);
  CHECK(attached_device_programs(dir).size() == 1);
  {
    DeviceProbe probe;
    cg.m->add_process(probe.pid);
    CHECK(probe.result() == 2);  // /dev/full allowed again, /dev/null too
  }

  cg.m->destroy();
  CHECK(!is_dir(dir));
}


// ============================================================================
// The systemd driver: cgroupsPath expansion, unit properties, D-Bus marshalling
// ============================================================================

TEST_CASE("expand_slice: runc's nesting rules", "[cgroups][systemd]") {
  CHECK(expand_slice("system.slice") == "/system.slice");
  CHECK(expand_slice("-.slice") == "/");
  CHECK(expand_slice("a-b.slice") == "/a.slice/a-b.slice");
  CHECK(expand_slice("kubepods-besteffort-pod123.slice") ==
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice");
  for (const char* bad : {"", ".slice", "foo", "a.scope", "a/b.slice", "a--b.slice", "-a.slice", "a-.slice", "-"}) {
    INFO(bad);
    CHECK(error_kind([&] { expand_slice(bad); }) == ErrorKind::InvalidSpec);
  }
}

TEST_CASE("parse_systemd_path: slice:prefix:name -> unit and cgroup", "[cgroups][systemd]") {
  auto u = parse_systemd_path("system.slice:docker:abc", "id");
  CHECK(u.slice == "system.slice");
  CHECK(u.unit == "docker-abc.scope");
  CHECK(u.path == "/system.slice/docker-abc.scope");
  CHECK_FALSE(u.is_slice());

  u = parse_systemd_path("kubepods-besteffort-pod123.slice:cri-containerd:abc", "id");
  CHECK(u.unit == "cri-containerd-abc.scope");
  CHECK(u.path == "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice/cri-containerd-abc.scope");

  // An empty slice is system.slice (root); an empty cgroupsPath is :ocirun:<id>.
  CHECK(parse_systemd_path(":crio:x", "id").path == "/system.slice/crio-x.scope");
  u = parse_systemd_path("", "c1");
  CHECK(u.unit == "ocirun-c1.scope");
  CHECK(u.path == "/system.slice/ocirun-c1.scope");
  // No prefix: the name alone; the root slice.
  CHECK(parse_systemd_path("system.slice::abc", "id").unit == "abc.scope");
  CHECK(parse_systemd_path("-.slice:p:n", "id").path == "/p-n.scope");
  // A name ending in .slice is the unit itself (the prefix is ignored).
  u = parse_systemd_path("machine.slice:ignored:machine-vm1.slice", "id");
  CHECK(u.unit == "machine-vm1.slice");
  CHECK(u.is_slice());
  CHECK(u.path == "/machine.slice/machine-vm1.slice");

  std::string message;
  CHECK(error_kind([&] { parse_systemd_path("/ocirun/c1", "c1"); }, &message) == ErrorKind::InvalidSpec);
  CHECK_THAT(message, Catch::Contains("slice:prefix:name"));
  for (const char* bad : {"a:b", "a:b:c:d", "system.slice:p:", "bad:p:n", "a--b.slice:p:n", "system.slice:p/q:n",
                          "system.slice:p:../n", "system.slice:p:bad--x.slice"}) {
    INFO(bad);
    CHECK(error_kind([&] { parse_systemd_path(bad, "id"); }) == ErrorKind::InvalidSpec);
  }
}

TEST_CASE("cpuset_to_bitmask", "[cgroups][systemd]") {
  CHECK(cpuset_to_bitmask("0-2,7") == std::vector<uint8_t>{0x87});
  CHECK(cpuset_to_bitmask("8") == std::vector<uint8_t>{0x00, 0x01});
  CHECK(cpuset_to_bitmask("1, 3-4") == std::vector<uint8_t>{0x1a});
  CHECK(cpuset_to_bitmask("").empty());
  for (const char* bad : {"2-1", "x", "1-", "-1"}) {
    INFO(bad);
    CHECK(error_kind([&] { cpuset_to_bitmask(bad); }) == ErrorKind::InvalidSpec);
  }
}

namespace {

const UnitProperty* find_prop(const std::vector<UnitProperty>& props, const std::string& name) {
  for (const auto& p : props)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("systemd_properties: the unit and the resources systemd can say", "[cgroups][systemd]") {
  SystemdUnit u = parse_systemd_path("system.slice:ocirun:t", "t");
  spec::Resources r;
  r.memory = spec::MemoryResources{};
  r.memory->limit = 64 << 20;
  r.cpu = spec::CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 50001;
  r.cpu->period = 100000;
  r.cpu->cpus = "0-1";
  r.pids = spec::PidsResources{};
  r.pids->limit = 0;

  auto v2 = systemd_properties(u, 42, r, /*unified=*/true);
  REQUIRE(find_prop(v2, "Slice"));
  CHECK(find_prop(v2, "Slice")->s == "system.slice");
  CHECK(find_prop(v2, "Delegate")->b);
  CHECK_FALSE(find_prop(v2, "DefaultDependencies")->b);
  CHECK(find_prop(v2, "PIDs")->au == std::vector<uint32_t>{42});
  CHECK(find_prop(v2, "MemoryMax")->t == 64u << 20);
  CHECK(find_prop(v2, "CPUWeight")->t == 100);
  CHECK(find_prop(v2, "CPUQuotaPerSecUSec")->t == 510000);  // 500010us rounded up to 10ms
  CHECK(find_prop(v2, "CPUQuotaPeriodUSec")->t == 100000);
  CHECK(find_prop(v2, "AllowedCPUs")->ay == std::vector<uint8_t>{0x03});
  CHECK(find_prop(v2, "TasksMax")->t == 1);  // 0 is a real limit; systemd cannot say 0
  CHECK_FALSE(find_prop(v2, "MemoryLimit"));

  auto v1 = systemd_properties(u, 42, r, /*unified=*/false);
  CHECK(find_prop(v1, "MemoryLimit")->t == 64u << 20);
  CHECK(find_prop(v1, "CPUShares")->t == 1024);
  CHECK_FALSE(find_prop(v1, "MemoryMax"));
  CHECK_FALSE(find_prop(v1, "AllowedCPUs"));

  r.memory->limit = -1;
  r.cpu->quota = -1;
  r.pids->limit = -1;
  auto unlimited = systemd_properties(u, 42, r, true);
  CHECK(find_prop(unlimited, "MemoryMax")->t == UINT64_MAX);
  CHECK(find_prop(unlimited, "CPUQuotaPerSecUSec")->t == UINT64_MAX);
  CHECK(find_prop(unlimited, "TasksMax")->t == UINT64_MAX);

  // What an update sets: the resources alone, nothing systemd refuses to change at runtime.
  auto update = systemd_resource_properties(r, true);
  CHECK(find_prop(update, "MemoryMax"));
  CHECK_FALSE(find_prop(update, "PIDs"));
  CHECK_FALSE(find_prop(update, "Slice"));
  CHECK_FALSE(find_prop(update, "Delegate"));
  CHECK(systemd_resource_properties({}, true).empty());

  // A slice unit: its parent comes by Wants=, it holds no PIDs and is not delegated.
  auto slice = systemd_properties(parse_systemd_path("machine.slice:x:machine-a.slice", "id"), 42, {}, true);
  CHECK(find_prop(slice, "Wants")->s == "machine.slice");
  CHECK_FALSE(find_prop(slice, "PIDs"));
  CHECK_FALSE(find_prop(slice, "Slice"));
}

namespace {

std::vector<uint8_t> bytes_of(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

TEST_CASE("D-Bus: Hello marshals to the spec's bytes", "[cgroups][dbus]") {
  dbus::Message m = dbus::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello");
  m.serial = 1;
  // Header fields a(yv), each struct 8-aligned: PATH (o), INTERFACE (s), MEMBER (s),
  // DESTINATION (s); 109 bytes of fields, padded to 128.
  using namespace std::string_view_literals;
  auto golden = bytes_of(
      "l\x01\x00\x01" "\x00\x00\x00\x00" "\x01\x00\x00\x00" "\x6d\x00\x00\x00"
      "\x01\x01o\x00" "\x15\x00\x00\x00" "/org/freedesktop/DBus\x00" "\x00\x00"
      "\x02\x01s\x00" "\x14\x00\x00\x00" "org.freedesktop.DBus\x00" "\x00\x00\x00"
      "\x03\x01s\x00" "\x05\x00\x00\x00" "Hello\x00" "\x00\x00"
      "\x06\x01s\x00" "\x14\x00\x00\x00" "org.freedesktop.DBus\x00" "\x00\x00\x00"sv);
  REQUIRE(golden.size() == 128);
  CHECK(dbus::encode(m) == golden);

  dbus::Message back;
  std::string wire(golden.begin(), golden.end());
  CHECK(dbus::decode(std::string_view(wire).substr(0, 100), back) == 0);  // incomplete
  REQUIRE(dbus::decode(wire + "trailing", back) == 128);
  CHECK(back.type == dbus::Type::MethodCall);
  CHECK(back.serial == 1);
  CHECK(back.path == "/org/freedesktop/DBus");
  CHECK(back.member == "Hello");
  CHECK(back.destination == "org.freedesktop.DBus");
  CHECK(back.body.empty());
}

TEST_CASE("D-Bus: a(sv) properties with b, au and t values", "[cgroups][dbus]") {
  using namespace std::string_view_literals;
  auto encode_one = [](const char* name, char type, auto set) {
    dbus::Writer w;
    auto a = w.begin_array(8);
    w.begin_struct();
    w.string(name);
    w.signature(type == 'u' ? "au" : std::string(1, type));
    set(w);
    w.end_array(a);
    return w.bytes();
  };
  // Array length 20 counts from the first (8-aligned) element, not the 4 padding bytes.
  CHECK(encode_one("Delegate", 'b', [](dbus::Writer& w) { w.boolean(true); }) ==
        bytes_of("\x14\x00\x00\x00" "\x00\x00\x00\x00" "\x08\x00\x00\x00" "Delegate\x00" "\x01" "b\x00"
                 "\x01\x00\x00\x00"sv));
  CHECK(encode_one("PIDs", 'u', [](dbus::Writer& w) {
          auto a = w.begin_array(4);
          w.u32(42);
          w.end_array(a);
        }) == bytes_of("\x18\x00\x00\x00" "\x00\x00\x00\x00" "\x04\x00\x00\x00" "PIDs\x00" "\x02" "au\x00"
                       "\x00\x00\x00" "\x04\x00\x00\x00" "\x2a\x00\x00\x00"sv));
  // The uint64 is 8-aligned: 7 bytes of padding after the signature.
  CHECK(encode_one("MemoryMax", 't', [](dbus::Writer& w) { w.u64(1); }) ==
        bytes_of("\x20\x00\x00\x00" "\x00\x00\x00\x00" "\x09\x00\x00\x00" "MemoryMax\x00" "\x01" "t\x00"
                 "\x00\x00\x00\x00\x00\x00\x00" "\x01\x00\x00\x00\x00\x00\x00\x00"sv));

  // The reader walks the same bytes back by signature.
  auto bytes = encode_one("MemoryMax", 't', [](dbus::Writer& w) { w.u64(1); });
  std::string s(bytes.begin(), bytes.end());
  dbus::Reader r(s);
  r.skip("a(sv)");
  CHECK(r.at_end());
  dbus::Reader r2(s);
  size_t end = r2.begin_array(8);
  r2.begin_struct();
  CHECK(r2.string() == "MemoryMax");
  CHECK(r2.signature() == "t");
  CHECK(r2.u64() == 1);
  CHECK(r2.pos() == end);
  CHECK(dbus::type_end("a(sv)s", 0) == 5);
  CHECK(dbus::type_end("a{sa(sv)}", 0) == 9);
}

TEST_CASE("D-Bus: error replies and malformed input", "[cgroups][dbus]") {
  dbus::Message e;
  e.type = dbus::Type::Error;
  e.serial = 7;
  e.reply_serial = 3;
  e.error_name = "org.freedesktop.systemd1.NoSuchUnit";
  e.signature = "s";
  dbus::Writer w;
  w.string("Unit x.scope not loaded.");
  e.body = w.bytes();
  auto wire = dbus::encode(e);
  std::string s(wire.begin(), wire.end());
  dbus::Message back;
  REQUIRE(dbus::decode(s, back) == wire.size());
  CHECK(back.type == dbus::Type::Error);
  CHECK(back.reply_serial == 3);
  CHECK(back.error_name == "org.freedesktop.systemd1.NoSuchUnit");
  CHECK(back.signature == "s");
  dbus::Reader r(std::string_view(reinterpret_cast<const char*>(back.body.data()), back.body.size()));
  CHECK(r.string() == "Unit x.scope not loaded.");

  std::string big_endian = s;
  big_endian[0] = 'B';
  CHECK(error_kind([&] { dbus::decode(big_endian, back); }) == ErrorKind::InvalidArgument);
  std::string truncated_string("\x05\x00\x00\x00" "ab", 6);
  CHECK(error_kind([&] { dbus::Reader(truncated_string).string(); }) == ErrorKind::InvalidArgument);
}

TEST_CASE("systemd driver: refuses clearly when systemd is not running", "[cgroups][systemd]") {
  struct stat st;
  if (::stat("/run/systemd/system", &st) == 0) {
    WARN("skipped: systemd runs here");
    return;
  }
  Host h;
  h.layout = Layout::V2;
  auto m = open_systemd(h, "system.slice:ocirun:t", "t");
  std::string message;
  CHECK(error_kind([&] { m->create(); }, &message) == ErrorKind::Unsupported);
  CHECK_THAT(message, Catch::Contains("systemd not running on this host"));
}

// Live peers, run by tests/systemd/systemd_cgroup_test.sh inside its private namespaces
// (never against the host's own buses): a dbus-daemon (OCIRUN_TEST_DBUS_SOCKET, Hello and
// ListNames) and systemd's private socket (OCIRUN_TEST_SYSTEMD_SOCKET). Skipped when unset.
TEST_CASE("D-Bus live: a dbus-daemon's Hello, ListNames and errors", "[dbus-live]") {
  const char* socket = ::getenv("OCIRUN_TEST_DBUS_SOCKET");
  if (!socket) {
    WARN("skipped: OCIRUN_TEST_DBUS_SOCKET is not set");
    return;
  }
  auto bus = dbus::Connection::open(socket, /*hello=*/true);
  CHECK(bus.unique_name().rfind(":", 0) == 0);
  dbus::Message reply = bus.call(dbus::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                   "org.freedesktop.DBus", "ListNames"));
  CHECK(reply.signature == "as");
  std::string body(reply.body.begin(), reply.body.end());
  dbus::Reader r(body);
  std::vector<std::string> names;
  for (size_t end = r.begin_array(4); r.pos() < end;) names.push_back(r.string());
  CHECK(std::count(names.begin(), names.end(), "org.freedesktop.DBus") == 1);
  CHECK(std::count(names.begin(), names.end(), bus.unique_name()) == 1);
  try {
    bus.call(dbus::method_call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NoSuchMethod"));
    FAIL("NoSuchMethod returned");
  } catch (const dbus::CallError& e) {
    CHECK(e.name() == "org.freedesktop.DBus.Error.UnknownMethod");
  }
}

TEST_CASE("D-Bus live: systemd's private socket", "[dbus-live]") {
  const char* socket = ::getenv("OCIRUN_TEST_SYSTEMD_SOCKET");
  if (!socket) {
    WARN("skipped: OCIRUN_TEST_SYSTEMD_SOCKET is not set");
    return;
  }
  auto sd = dbus::Connection::open(socket, /*hello=*/false);
  auto get_unit = [&](const std::string& name) {
    dbus::Message m = dbus::method_call("org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "GetUnit");
    m.signature = "s";
    dbus::Writer w;
    w.string(name);
    m.body = w.bytes();
    dbus::Message reply = sd.call(std::move(m));
    std::string body(reply.body.begin(), reply.body.end());
    return dbus::Reader(body).string();
  };
  CHECK(get_unit("init.scope") == "/org/freedesktop/systemd1/unit/init_2escope");
  try {
    get_unit("ocirun-no-such.scope");
    FAIL("GetUnit of a missing unit returned");
  } catch (const dbus::CallError& e) {
    CHECK(e.name() == "org.freedesktop.systemd1.NoSuchUnit");
  }
  dbus::Message m = dbus::method_call("org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                      "org.freedesktop.DBus.Properties", "Get");
  m.signature = "ss";
  dbus::Writer w;
  w.string("org.freedesktop.systemd1.Manager");
  w.string("Version");
  m.body = w.bytes();
  dbus::Message reply = sd.call(std::move(m));
  std::string body(reply.body.begin(), reply.body.end());
  CHECK_FALSE(dbus::Reader(body).variant_string().empty());
}

// ---- the default device rules (runc's specconv AllowedDevices) ----------------------------------

namespace {

std::vector<std::string> rule_texts(const spec::Resources& r) {
  std::vector<std::string> out;
  auto number = [](const std::optional<int64_t>& n) { return n ? std::to_string(*n) : std::string("*"); };
  for (const auto& d : r.devices)
    out.push_back(fmt::format("{} {} {}:{} {}", d.allow ? "allow" : "deny", d.type.empty() ? "a" : d.type,
                              number(d.major), number(d.minor), d.access));
  return out;
}

spec::Device node(const std::string& path, int64_t major, int64_t minor) { return {"c", path, major, minor, 0666, 0, 0}; }

}  // namespace

TEST_CASE("default device rules: the config's rules as given, then runc's defaults in runc's order", "[devices]") {
  // docker run --device /dev/kvm:/dev/kvm:r
  spec::Linux linux_config;
  linux_config.devices = {node("/dev/kvm", 10, 232)};
  linux_config.resources = spec::Resources{};
  linux_config.resources->devices = {{false, "", std::nullopt, std::nullopt, "rwm"}, {true, "c", 10, 232, "r"}};
  CHECK(rule_texts(with_default_device_rules(linux_config)) ==
        std::vector<std::string>{"deny a *:* rwm", "allow c 10:232 r", "allow c *:* m", "allow b *:* m",
                                 "allow c 1:3 rwm", "allow c 1:8 rwm", "allow c 1:7 rwm", "allow c 5:0 rwm",
                                 "allow c 1:5 rwm", "allow c 1:9 rwm", "allow c 136:* rwm", "allow c 5:2 rwm",
                                 "allow c 10:200 rwm"});
}

TEST_CASE("default device rules: linux.devices gives no access, one at a default's path drops that default", "[devices]") {
  spec::Linux linux_config;
  linux_config.devices = {node("/dev/kmsg", 1, 11), node("/dev/null", 1, 3)};
  linux_config.resources = spec::Resources{};
  linux_config.resources->devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  auto rules = rule_texts(with_default_device_rules(linux_config));
  CHECK(std::find(rules.begin(), rules.end(), "allow c 1:11 rwm") == rules.end());
  CHECK(std::find(rules.begin(), rules.end(), "allow c 1:3 rwm") == rules.end());  // runc's dedup by path
  CHECK(rules.front() == "deny a *:* rwm");
  CHECK(rules.size() == 1 + 10);
}

TEST_CASE("default device rules: without linux.resources, deny-all then the defaults (as runc)", "[devices]") {
  spec::Linux linux_config;
  linux_config.devices = {node("/dev/kmsg", 1, 11)};
  auto rules = rule_texts(with_default_device_rules(linux_config));
  REQUIRE(rules.size() == 1 + 11);
  CHECK(rules.front() == "deny a *:* rwm");
  CHECK(std::find(rules.begin(), rules.end(), "allow c 1:11 rwm") == rules.end());
}

TEST_CASE("default device rules: rules that do not start with a reset start from deny-all", "[devices]") {
  spec::Linux linux_config;
  linux_config.resources = spec::Resources{};
  linux_config.resources->devices = {{true, "c", 10, 232, "r"}};
  auto rules = rule_texts(with_default_device_rules(linux_config));
  REQUIRE(rules.size() >= 2);
  CHECK(rules[0] == "deny a *:* rwm");
  CHECK(rules[1] == "allow c 10:232 r");
}
