// cgroup v1, and hybrid: v1 hierarchies for the controllers plus a cgroup in the cgroup2
// mount (as runc does), used for controllers only v2 offers (hugetlb on this host),
// `unified` keys, and cgroup.kill.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>

#include "cgroupfs.h"
#include "error.h"
#include "fs.h"

namespace ocirun::cgroups::detail {

namespace {

// The part of the resources a v2 controller reads, for hybrid fallbacks.
spec::Resources subset_for(const spec::Resources& r, const std::set<std::string>& v2_controllers) {
  spec::Resources sub;
  for (const auto& c : v2_controllers) {
    if (c == "memory") sub.memory = r.memory;
    if (c == "cpu" || c == "cpuset") sub.cpu = r.cpu;
    if (c == "pids") sub.pids = r.pids;
    if (c == "io") sub.block_io = r.block_io;
    if (c == "hugetlb") sub.hugepage_limits = r.hugepage_limits;
    if (c == "rdma") sub.rdma = r.rdma;
  }
  return sub;
}

class V1Manager final : public ManagerBase {
 public:
  V1Manager(const Host& host, const std::string& cgroups_path, const std::string& id)
      : host_(host), default_path_(cgroups_path.empty()) {
    for (const auto& [hierarchy, mount] : host.v1)
      dirs_[hierarchy] = mount + resolve_path(cgroups_path, id, host.self_path(hierarchy));
    if (host.layout == Layout::Hybrid && !host.v2.empty())
      dirs_[""] = host.v2 + resolve_path(cgroups_path, id, host.self_path(""));
    std::string primary = dirs_.count("") ? "" : dirs_.count("memory") ? "memory" : host.v1.begin()->first;
    path_ = resolve_path(cgroups_path, id, host.self_path(primary));
  }

  V1Manager(const Host& host, const Saved& saved)
      : host_(host), path_(saved.path), dirs_(saved.dirs), created_(saved.created) {}

  void create() override {
    std::vector<std::string> made;
    try {
      std::set<std::string> done;
      for (const auto& [hierarchy, dir] : dirs_) {
        if (!done.insert(dir).second) continue;  // co-mounted controllers share a directory
        std::string mount = mount_of(hierarchy);
        make_path(mount, dir.substr(mount.size()), made);
      }
      if (dirs_.count("cpuset")) init_cpuset(mount_of("cpuset"), dirs_.at("cpuset"));
    } catch (...) {
      for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
      throw;
    }
    if (default_path_) add_shared_parents(unique_dirs(), made);
    created_.insert(created_.end(), made.begin(), made.end());
  }

  Saved planned() const override {
    std::vector<std::string> made;
    std::set<std::string> done;
    for (const auto& [hierarchy, dir] : dirs_) {
      if (!done.insert(dir).second) continue;
      std::string mount = mount_of(hierarchy);
      missing_path(mount, dir.substr(mount.size()), made);
    }
    if (default_path_) add_shared_parents(unique_dirs(), made);
    std::vector<std::string> created = created_;
    created.insert(created.end(), made.begin(), made.end());
    return Saved{path_, dirs_, created};
  }

  void apply(const spec::Resources& r) override {
    spec::Resources without_unified = r;
    without_unified.unified.clear();
    std::vector<FileWrite> writes = translate_v1(without_unified);

    // Hybrid without a v1 devices hierarchy: the unified cgroup takes a BPF device program.
    bool devices_via_bpf = !r.devices.empty() && !dirs_.count("devices") && dirs_.count("");
    std::vector<BpfInsn> device_program;
    if (devices_via_bpf) {
      device_program = with_context("linux.resources.devices", [&] { return device_filter(r.devices); });
      std::erase_if(writes, [](const FileWrite& w) { return w.controller == "devices"; });
    }

    // Check every controller before the first write, so a refused spec changes nothing.
    std::set<std::string> via_v2;
    for (const auto& w : writes) {
      if (dirs_.count(w.controller)) continue;
      std::string v2 = v2_controller_for(w.controller);
      if (dirs_.count("") && !v2.empty() && host_.has_v2(v2)) {
        via_v2.insert(v2);
        continue;
      }
      fail(ErrorKind::Unsupported,
           fmt::format("{} is set, but this host has no cgroup v1 \"{}\" controller{}", resource_field(w.controller),
                       w.controller, dirs_.count("") ? " and its cgroup2 mount does not offer it either" : ""));
    }
    std::vector<FileWrite> unified_writes;
    if (!via_v2.empty()) {
      std::vector<std::string> repeated_warnings;
      for (auto& w : translate_v2(subset_for(r, via_v2), &repeated_warnings))
        if (via_v2.count(w.controller)) unified_writes.push_back(std::move(w));
      std::erase_if(writes, [&](const FileWrite& w) { return !dirs_.count(w.controller); });
    }
    if (!r.unified.empty()) {
      if (!dirs_.count(""))
        fail(ErrorKind::Unsupported, "linux.resources.unified (\"" + r.unified.begin()->first +
                                         "\"): invalid configuration: cannot use unified on cgroup v1 (this host has "
                                         "only cgroup v1)");
      spec::Resources only_unified;
      only_unified.unified = r.unified;
      for (auto& w : translate_v2(only_unified)) {
        if (!w.controller.empty() && !host_.has_v2(w.controller))
          fail(ErrorKind::Unsupported,
               fmt::format("linux.resources.unified[\"{}\"]: invalid configuration: cannot use unified on cgroup v1 "
                           "(the cgroup2 mount {} has no \"{}\" controller)",
                           w.file, host_.v2, w.controller));
        unified_writes.push_back(std::move(w));
      }
    }

    write_v1(writes);
    if (!unified_writes.empty()) {
      std::set<std::string> needed;
      for (const auto& w : unified_writes)
        if (!w.controller.empty()) needed.insert(w.controller);
      const std::string& dir = dirs_.at("");
      enable_controllers(host_.v2, dir.substr(host_.v2.size()), needed, host_.v2_delegated);
      Dir d = Dir::open(dir);
      for (const auto& w : unified_writes)
        with_context(w.controller.empty() ? "linux.resources.unified" : resource_field(w.controller),
                     [&] { d.write(w.file, w.value); });
    }
    if (devices_via_bpf)
      with_context("linux.resources.devices",
                   [&] { attach_device_filter(dirs_.at(""), device_program, device_rules_reset(r.devices)); });
  }

  Stats stats() const override {
    Stats s;
    auto dir = [&](const char* h) { return dirs_.count(h) ? dirs_.at(h) : std::string(); };
    const std::string unified = dir("");
    // A controller without a v1 hierarchy may live in the unified cgroup (hybrid); its
    // files are there only if the controller is enabled, and missing files read as 0.
    if (dirs_.count("cpu") || dirs_.count("cpuacct"))
      v1_cpu_stats(dir("cpu"), dir("cpuacct"), s);
    else if (!unified.empty())
      v2_cpu_stats(unified, s);
    if (dirs_.count("memory"))
      v1_memory_stats(dirs_.at("memory"), s);
    else if (!unified.empty())
      v2_memory_stats(unified, s);
    if (dirs_.count("pids"))
      pids_stats(dirs_.at("pids"), s);
    else if (!unified.empty())
      pids_stats(unified, s);
    if (dirs_.count("blkio"))
      v1_blkio_stats(dirs_.at("blkio"), s);
    else if (!unified.empty())
      v2_io_stats(unified, s);
    if (dirs_.count("hugetlb"))
      v1_hugetlb_stats(dirs_.at("hugetlb"), s);
    else if (!unified.empty())
      v2_hugetlb_stats(unified, s);
    return s;
  }

  uint64_t oom_kills() const override {
    if (dirs_.count("memory")) return v1_oom_kills(dirs_.at("memory"));
    if (dirs_.count("")) return v2_oom_kills(dirs_.at(""));
    return 0;
  }

  void add_process(pid_t pid) override {
    for (const auto& dir : unique_dirs()) add_pid(Dir::open(dir), pid);
  }

  void join_self(bool v2_done) override {
    for (const auto& dir : unique_dirs()) {
      bool unified = dirs_.count("") && dir == dirs_.at("");
      if (unified && v2_done) continue;
      add_self(dir, unified ? "cgroup.procs" : "tasks");
    }
  }

  std::string v2_dir() const override { return dirs_.count("") ? dirs_.at("") : std::string(); }

  void freeze(bool frozen) override {
    if (dirs_.count("freezer")) return v1_freeze(Dir::open(dirs_.at("freezer")), frozen);
    if (dirs_.count("")) return v2_freeze(Dir::open(dirs_.at("")), frozen);
    fail(ErrorKind::Unsupported, "cannot freeze: this host has no freezer cgroup");
  }

  bool frozen() const override {
    if (dirs_.count("freezer")) return fs::trim(Dir::open(dirs_.at("freezer")).read("freezer.state")) == "FROZEN";
    if (dirs_.count("")) return v2_frozen(Dir::open(dirs_.at("")));
    return false;
  }

  std::vector<pid_t> pids() const override {
    for (const char* h : {"pids", "freezer", "memory", "cpu", "devices", ""})
      if (dirs_.count(h)) return procs_recursive(dirs_.at(h));
    if (dirs_.empty()) return {};
    return procs_recursive(dirs_.begin()->second);
  }

  void kill_all(int sig) override {
    if (sig == SIGKILL && dirs_.count("")) {
      Dir unified = Dir::open(dirs_.at(""));
      if (unified.has("cgroup.kill")) {
        unified.write("cgroup.kill", "1");
        // A task stopped by the v1 freezer takes the SIGKILL only once thawed.
        if (dirs_.count("freezer") && frozen()) freeze(false);
        // Tasks placed in the v1 hierarchies only (by another runtime) are not in the
        // unified cgroup: signal what v1 still lists. Dying tasks ignore a second SIGKILL.
        signal_pids(pids(), SIGKILL);
        return;
      }
    }
    signal_each(sig);
  }

  void destroy() override {
    std::vector<std::string> dirs = unique_dirs();
    remove_created(created_, std::set<std::string>(dirs.begin(), dirs.end()));
    created_.clear();
  }

  std::string path() const override { return path_; }
  Saved saved() const override { return Saved{path_, dirs_, created_}; }

 protected:
  bool can_freeze() const override {
    return dirs_.count("freezer") || (dirs_.count("") && Dir::open(dirs_.at("")).has("cgroup.freeze"));
  }

 private:
  std::string mount_of(const std::string& hierarchy) const {
    if (hierarchy.empty()) return host_.v2;
    auto it = host_.v1.find(hierarchy);
    if (it == host_.v1.end())
      fail(ErrorKind::BadState, "cgroup hierarchy \"" + hierarchy + "\" is not mounted on this host");
    return it->second;
  }

  std::vector<std::string> unique_dirs() const {
    std::vector<std::string> out;
    for (const auto& [hierarchy, dir] : dirs_)
      if (std::find(out.begin(), out.end(), dir) == out.end()) out.push_back(dir);
    return out;
  }

  // A new cpuset cgroup starts with empty cpus and mems, and a task cannot join it until
  // both are set: copy each empty one from the parent, top down (runc does the same).
  static void init_cpuset(const std::string& mount, const std::string& leaf) {
    std::string path = mount;
    Dir parent = Dir::open(path);
    for (const auto& part : fs::split(leaf.substr(mount.size()), '/')) {
      if (part.empty()) continue;
      path += "/" + part;
      Dir d = Dir::open(path);
      for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        // A cgroup has the file if its parent does (a test tree may have neither).
        if (!d.has(file) || !fs::trim(d.read(file)).empty()) continue;
        std::string value = fs::trim(parent.read(file));
        if (!value.empty()) d.write(file, value);
      }
      parent = std::move(d);
    }
  }

  // Writes in order, with the orderings the kernel insists on handled where they bite.
  void write_v1(const std::vector<FileWrite>& writes) {
    std::map<std::string, Dir> open;
    auto dir = [&](const std::string& hierarchy) -> const Dir& {
      auto it = open.find(hierarchy);
      if (it == open.end()) it = open.emplace(hierarchy, Dir::open(dirs_.at(hierarchy))).first;
      return it->second;
    };
    auto find_later = [&](size_t i, const char* file) -> std::optional<size_t> {
      for (size_t j = i + 1; j < writes.size(); ++j)
        if (writes[j].file == file) return j;
      return std::nullopt;
    };
    std::vector<bool> done(writes.size());
    for (size_t i = 0; i < writes.size(); ++i) {
      if (done[i]) continue;
      const FileWrite& w = writes[i];
      const Dir& d = dir(w.controller);
      with_context(resource_field(w.controller), [&] {
        int err = d.try_write(w.file, w.value);
        if (err == 0) return;
        // Pairs the kernel checks against each other: when the first write does not fit the
        // old value of its partner, the partner goes first. Raising memory above the current
        // memory+swap limit: memsw first. A shorter period can exceed the parent's bandwidth
        // with the old quota, or fall below the old realtime runtime: the quota/runtime first.
        static const std::map<std::string, std::string> partner_first = {
            {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"},
            {"cpu.cfs_period_us", "cpu.cfs_quota_us"},
            {"cpu.rt_period_us", "cpu.rt_runtime_us"},
        };
        if (auto p = partner_first.find(w.file); err == EINVAL && p != partner_first.end()) {
          if (auto j = find_later(i, p->second.c_str())) {
            d.write(writes[*j].file, writes[*j].value);
            done[*j] = true;
            err = d.try_write(w.file, w.value);
          }
        }
        // No swap accounting (swapaccount=0): an unlimited memory+swap is already the case.
        if (err == ENOENT && w.file == "memory.memsw.limit_in_bytes" && w.value == "-1") return;
        // Kernels without CFQ keep the proportional weight in BFQ's file (runc does this too).
        if (err == ENOENT && (w.file == "blkio.weight" || w.file == "blkio.weight_device")) {
          std::string bfq = w.file == "blkio.weight" ? "blkio.bfq.weight" : "blkio.bfq.weight_device";
          if (d.has(bfq)) err = d.try_write(bfq, w.value);
        }
        if (err) throw_errno(err, fmt::format("write \"{}\" to {}/{}", w.value, d.path(), w.file));
      });
    }
  }

  static void v1_freeze(const Dir& d, bool frozen) {
    const std::string want = frozen ? "FROZEN" : "THAWED";
    // FREEZING can stall while tasks fork or sleep uninterruptibly; asking again moves it on.
    for (int i = 0; i < 2000; ++i) {
      if (i % 50 == 0) d.write("freezer.state", want);
      if (fs::trim(d.read("freezer.state")) == want) return;
      ::usleep(1000);
    }
    if (frozen) d.try_write("freezer.state", "THAWED");
    throw Error(ErrorKind::Syscall, d.path() + ": timed out waiting for freezer.state " + want, ETIMEDOUT);
  }

  Host host_;
  bool default_path_ = false;  // "/ocirun/<id>": the parent is shared (add_shared_parents)
  std::string path_;
  std::map<std::string, std::string> dirs_;  // hierarchy ("" = unified) -> directory
  std::vector<std::string> created_;
};

}  // namespace

std::unique_ptr<Manager> make_v1(const Host& host, const std::string& cgroups_path, const std::string& id) {
  if (host.v1.empty() && host.v2.empty()) fail(ErrorKind::Unsupported, "no cgroup hierarchy is mounted");
  if (host.v1.empty()) fail(ErrorKind::Unsupported, "no cgroup v1 hierarchy is mounted under " + host.root);
  return std::make_unique<V1Manager>(host, cgroups_path, id);
}

std::unique_ptr<Manager> make_v1(const Host& host, const Saved& saved) {
  return std::make_unique<V1Manager>(host, saved);
}

}  // namespace ocirun::cgroups::detail
