// cgroup v2: one directory in the unified hierarchy.
#include <fmt/format.h>
#include <signal.h>

#include "cgroupfs.h"
#include "error.h"

namespace ocirun::cgroups::detail {

namespace {

class V2Manager final : public ManagerBase {
 public:
  V2Manager(const Host& host, const std::string& cgroups_path, const std::string& id)
      : host_(host), default_path_(cgroups_path.empty()), path_(resolve_path(cgroups_path, id, host.self_path(""))),
        dir_(host.v2 + path_) {}

  V2Manager(const Host& host, const Saved& saved)
      : host_(host), path_(saved.path), dir_(saved.dirs.count("") ? saved.dirs.at("") : host.v2 + saved.path),
        created_(saved.created) {}

  void create() override {
    std::vector<std::string> made;
    try {
      make_path(host_.v2, relative(), made);
    } catch (...) {
      for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
      throw;
    }
    if (default_path_) add_shared_parents({dir_}, made);
    created_.insert(created_.end(), made.begin(), made.end());
  }

  Saved planned() const override {
    std::vector<std::string> made;
    missing_path(host_.v2, relative(), made);
    if (default_path_) add_shared_parents({dir_}, made);
    std::vector<std::string> created = created_;
    created.insert(created.end(), made.begin(), made.end());
    return Saved{path_, {{"", dir_}}, created};
  }

  void apply(const spec::Resources& r) override {
    std::vector<FileWrite> writes = translate_v2(r);
    // Check every controller before the first write, so a refused spec changes nothing.
    std::set<std::string> needed;
    for (const auto& w : writes) {
      if (w.controller.empty()) continue;
      if (!host_.has_v2(w.controller)) {
        std::string field = r.unified.count(w.file) ? fmt::format("linux.resources.unified[\"{}\"]", w.file)
                                                    : resource_field(w.controller);
        fail(ErrorKind::Unsupported, fmt::format("{} is set, but the cgroup2 hierarchy {} has no \"{}\" controller",
                                                 field, host_.v2, w.controller));
      }
      needed.insert(w.controller);
    }
    // Device rules have no file on v2: a BPF_CGROUP_DEVICE program enforces them. Built
    // first, so bad rules are refused before any write.
    std::vector<BpfInsn> device_program;
    if (!r.devices.empty())
      device_program = with_context("linux.resources.devices", [&] { return device_filter(r.devices); });
    // Only the controllers these limits need, so a plain container changes no ancestor.
    enable_controllers(host_.v2, relative(), needed, host_.v2_delegated);
    Dir d = Dir::open(dir_);
    for (const auto& w : writes)
      with_context(r.unified.count(w.file) ? "linux.resources.unified" : resource_field(w.controller),
                   [&] { d.write(w.file, w.value); });
    if (!r.devices.empty())
      with_context("linux.resources.devices",
                   [&] { attach_device_filter(dir_, device_program, device_rules_reset(r.devices)); });
  }

  Stats stats() const override {
    Stats s;
    v2_cpu_stats(dir_, s);
    v2_memory_stats(dir_, s);
    pids_stats(dir_, s);
    v2_io_stats(dir_, s);
    v2_hugetlb_stats(dir_, s);
    return s;
  }

  uint64_t oom_kills() const override { return v2_oom_kills(dir_); }

  void add_process(pid_t pid) override { add_pid(Dir::open(dir_), pid); }
  void join_self(bool v2_done) override {
    if (!v2_done) add_self(dir_, "cgroup.procs");
  }
  std::string v2_dir() const override { return dir_; }
  void freeze(bool frozen) override { v2_freeze(Dir::open(dir_), frozen); }
  bool frozen() const override { return v2_frozen(Dir::open(dir_)); }
  std::vector<pid_t> pids() const override { return procs_recursive(dir_); }

  void kill_all(int sig) override {
    if (sig == SIGKILL) {
      Dir d = Dir::open(dir_);
      if (d.has("cgroup.kill")) return d.write("cgroup.kill", "1");  // Linux 5.14+: atomic, no race with fork
    }
    signal_each(sig);
  }

  void destroy() override {
    remove_created(created_, {dir_});
    created_.clear();
  }

  std::string path() const override { return path_; }
  Saved saved() const override { return Saved{path_, {{"", dir_}}, created_}; }

 protected:
  bool can_freeze() const override { return Dir::open(dir_).has("cgroup.freeze"); }

 private:
  std::string relative() const { return dir_.substr(host_.v2.size()); }

  Host host_;
  bool default_path_ = false;  // "/ocirun/<id>": the parent is shared (add_shared_parents)
  std::string path_;
  std::string dir_;
  std::vector<std::string> created_;
};

}  // namespace

std::unique_ptr<Manager> make_v2(const Host& host, const std::string& cgroups_path, const std::string& id) {
  if (host.v2.empty()) fail(ErrorKind::Unsupported, "no cgroup2 hierarchy is mounted under " + host.root);
  return std::make_unique<V2Manager>(host, cgroups_path, id);
}

std::unique_ptr<Manager> make_v2(const Host& host, const Saved& saved) {
  return std::make_unique<V2Manager>(host, saved);
}

}  // namespace ocirun::cgroups::detail
