// linux.resources -> cgroup file writes. Pure: no IO except warnings (to the runtime's log,
// warning.h) when the caller does not collect them.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "cgroups.h"
#include "error.h"
#include "warning.h"

namespace ocirun::cgroups {

namespace {

using spec::Resources;

class Writes {
 public:
  explicit Writes(std::vector<std::string>* warnings) : warnings_(warnings) {}
  void add(std::string controller, std::string file, std::string value) {
    out_.push_back({std::move(controller), std::move(file), std::move(value)});
  }
  void warn(const std::string& message) {
    if (warnings_)
      warnings_->push_back(message);
    else
      ocirun::warn(message);
  }
  std::vector<FileWrite> take() { return std::move(out_); }

 private:
  std::vector<FileWrite> out_;
  std::vector<std::string>* warnings_;
};

[[noreturn]] void invalid(const std::string& message) { fail(ErrorKind::InvalidSpec, message); }
[[noreturn]] void unsupported(const std::string& message) { fail(ErrorKind::Unsupported, message); }

bool set_nonzero(const std::optional<int64_t>& v) { return v && *v != 0; }
bool set_nonzero(const std::optional<uint64_t>& v) { return v && *v != 0; }

std::string device(int64_t major, int64_t minor) { return fmt::format("{}:{}", major, minor); }

// v1 byte limits: any negative value means unlimited, which the kernel spells -1.
std::string v1_bytes(int64_t v) { return v < 0 ? "-1" : std::to_string(v); }
// v2 limits: "max" for unlimited.
std::string v2_max(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

std::string pids_max(int64_t limit) {
  // runtime-spec (since #1279) makes 0 a real limit; runc 1.4 and youki write "1" for it
  // (systemd's TasksMax cannot say 0, and a cgroup holding a process behaves the same).
  if (limit < 0) return "max";
  if (limit == 0) return "1";
  return std::to_string(limit);
}

void kernel_memory_warnings(const spec::MemoryResources& m, Writes& w) {
  if (m.kernel)
    w.warn("linux.resources.memory.kernel is ignored: kernel memory limits are gone from current kernels");
  if (m.kernel_tcp)
    w.warn("linux.resources.memory.kernelTCP is ignored: kernel memory limits are gone from current kernels");
}

void check_swap_v1(const spec::MemoryResources& m) {
  if (set_nonzero(m.swap) && *m.swap > 0 && set_nonzero(m.limit) && *m.limit > 0 && *m.swap < *m.limit)
    invalid(fmt::format("linux.resources.memory.swap ({}) is memory+swap and must be >= memory.limit ({})",
                        *m.swap, *m.limit));
}

// Spec swap is memory+swap (the v1 memsw meaning); v2 limits swap alone. runc's
// ConvertMemorySwapToCgroupV2Value rules; nullopt means "write nothing".
std::optional<int64_t> v2_swap(const spec::MemoryResources& m) {
  int64_t memory = m.limit.value_or(0);
  int64_t memswap = m.swap.value_or(0);
  if (memory == -1 && memswap == 0) return -1;  // unlimited memory, swap unset: both unlimited, as on v1
  if (memswap == 0) return std::nullopt;
  if (memswap < 0) return -1;
  if (memory < 0) return memswap;  // unlimited memory: swap as is
  if (memory == 0) invalid("linux.resources.memory.swap needs memory.limit on cgroup v2 (swap there is swap - limit)");
  if (memswap < memory)
    invalid(fmt::format("linux.resources.memory.swap ({}) is memory+swap and must be >= memory.limit ({})", memswap,
                        memory));
  return memswap - memory;  // 0 when swap == limit: no swap at all
}

std::string device_rule(const spec::DeviceCgroupRule& rule) {
  std::string type = rule.type.empty() ? "a" : rule.type;
  if (type != "a" && type != "b" && type != "c")
    invalid("linux.resources.devices: type \"" + rule.type + "\" is not one of a, b, c");
  std::string access = rule.access.empty() ? "rwm" : rule.access;
  if (access.find_first_not_of("rwm") != std::string::npos)
    invalid("linux.resources.devices: access \"" + rule.access + "\" is not a combination of r, w, m");
  auto number = [](const std::optional<int64_t>& n) { return !n || *n < 0 ? std::string("*") : std::to_string(*n); };
  return fmt::format("{} {}:{} {}", type, number(rule.major), number(rule.minor), access);
}

std::optional<std::string> rdma_value(const std::string& dev, const spec::RdmaLimit& lim) {
  std::string v = dev;
  if (lim.hca_handles) v += fmt::format(" hca_handle={}", *lim.hca_handles);
  if (lim.hca_objects) v += fmt::format(" hca_object={}", *lim.hca_objects);
  if (v == dev) return std::nullopt;
  return v;
}

void check_hugepage(const spec::HugepageLimit& h) {
  if (h.page_size.empty() || h.page_size.find('/') != std::string::npos || h.page_size.find('.') != std::string::npos)
    invalid("linux.resources.hugepageLimits: bad pageSize \"" + h.page_size + "\"");
}

void check_unified_key(const std::string& key) {
  if (key.empty() || key.find('/') != std::string::npos || key.find('.') == std::string::npos || key[0] == '.')
    invalid("linux.resources.unified: \"" + key + "\" is not a cgroup file name");
}

}  // namespace

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  // A quadratic in l = log2(shares) through (1, 0), (10, 2), (18, 4) in log10(weight):
  // exponent = (l^2 + 125 l) / 612 - 7/34. Over one denominator the fit points are exact
  // in floating point, so 1024 gives 100, not 101.
  double l = std::log2(static_cast<double>(shares));
  double exponent = (l * l + 125.0 * l - 126.0) / 612.0;
  return static_cast<uint64_t>(std::ceil(std::pow(10.0, exponent)));
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  if (weight == 0) return 0;
  weight = std::clamp<uint64_t>(weight, 10, 1000);
  return 1 + (weight - 10) * 9999 / 990;
}

std::string resource_field(const std::string& controller) {
  static const std::map<std::string, std::string> fields = {
      {"memory", "memory"},  {"cpu", "cpu"},          {"cpuset", "cpu"},          {"pids", "pids"},
      {"blkio", "blockIO"},  {"io", "blockIO"},       {"hugetlb", "hugepageLimits"}, {"net_cls", "network"},
      {"net_prio", "network"}, {"rdma", "rdma"},      {"devices", "devices"},
  };
  auto it = fields.find(controller);
  return "linux.resources." + (it == fields.end() ? controller : it->second);
}

std::vector<FileWrite> translate_v1(const Resources& r, std::vector<std::string>* warnings) {
  Writes w(warnings);
  if (!r.unified.empty())
    unsupported("linux.resources.unified (\"" + r.unified.begin()->first +
                "\"): invalid configuration: cannot use unified on cgroup v1 (runc's words; this host's controllers "
                "are cgroup v1)");

  if (r.memory) {
    const auto& m = *r.memory;
    kernel_memory_warnings(m, w);
    check_swap_v1(m);
    // A fresh cgroup has both limits unlimited, so limit then memsw always fits; the driver
    // swaps the order when raising an existing limit above the current memsw.
    if (set_nonzero(m.limit)) w.add("memory", "memory.limit_in_bytes", v1_bytes(*m.limit));
    if (set_nonzero(m.swap))
      w.add("memory", "memory.memsw.limit_in_bytes", v1_bytes(*m.swap));
    else if (m.limit == -1)  // unlimited memory and swap not given: both unlimited, as runc
      w.add("memory", "memory.memsw.limit_in_bytes", "-1");
    if (set_nonzero(m.reservation)) w.add("memory", "memory.soft_limit_in_bytes", v1_bytes(*m.reservation));
    if (m.swappiness) {
      if (*m.swappiness > 100)
        invalid(fmt::format("linux.resources.memory.swappiness ({}) must be in 0..100", *m.swappiness));
      w.add("memory", "memory.swappiness", std::to_string(*m.swappiness));
    }
    if (m.disable_oom_killer.value_or(false)) w.add("memory", "memory.oom_control", "1");
  }

  if (r.cpu) {
    const auto& c = *r.cpu;
    if (set_nonzero(c.shares)) w.add("cpu", "cpu.shares", std::to_string(*c.shares));
    if (set_nonzero(c.period)) w.add("cpu", "cpu.cfs_period_us", std::to_string(*c.period));
    if (set_nonzero(c.quota)) w.add("cpu", "cpu.cfs_quota_us", v1_bytes(*c.quota));
    if (c.burst) w.add("cpu", "cpu.cfs_burst_us", std::to_string(*c.burst));
    if (set_nonzero(c.realtime_period)) w.add("cpu", "cpu.rt_period_us", std::to_string(*c.realtime_period));
    if (set_nonzero(c.realtime_runtime)) w.add("cpu", "cpu.rt_runtime_us", std::to_string(*c.realtime_runtime));
    if (c.idle) w.add("cpu", "cpu.idle", std::to_string(*c.idle));
    if (!c.cpus.empty()) w.add("cpuset", "cpuset.cpus", c.cpus);
    if (!c.mems.empty()) w.add("cpuset", "cpuset.mems", c.mems);
  }

  if (r.pids && r.pids->limit) w.add("pids", "pids.max", pids_max(*r.pids->limit));

  if (r.block_io) {
    const auto& b = *r.block_io;
    if (b.weight && *b.weight != 0) w.add("blkio", "blkio.weight", std::to_string(*b.weight));
    if (b.leaf_weight && *b.leaf_weight != 0) w.add("blkio", "blkio.leaf_weight", std::to_string(*b.leaf_weight));
    for (const auto& d : b.weight_device) {
      if (d.weight) w.add("blkio", "blkio.weight_device", fmt::format("{} {}", device(d.major, d.minor), *d.weight));
      if (d.leaf_weight)
        w.add("blkio", "blkio.leaf_weight_device", fmt::format("{} {}", device(d.major, d.minor), *d.leaf_weight));
    }
    auto throttle = [&](const std::vector<spec::ThrottleDevice>& list, const char* file) {
      for (const auto& t : list) w.add("blkio", file, fmt::format("{} {}", device(t.major, t.minor), t.rate));
    };
    throttle(b.throttle_read_bps, "blkio.throttle.read_bps_device");
    throttle(b.throttle_write_bps, "blkio.throttle.write_bps_device");
    throttle(b.throttle_read_iops, "blkio.throttle.read_iops_device");
    throttle(b.throttle_write_iops, "blkio.throttle.write_iops_device");
  }

  for (const auto& h : r.hugepage_limits) {
    check_hugepage(h);
    w.add("hugetlb", "hugetlb." + h.page_size + ".limit_in_bytes", std::to_string(h.limit));
  }

  if (r.network) {
    if (r.network->class_id) w.add("net_cls", "net_cls.classid", std::to_string(*r.network->class_id));
    for (const auto& p : r.network->priorities)
      w.add("net_prio", "net_prio.ifpriomap", fmt::format("{} {}", p.name, p.priority));
  }

  for (const auto& [dev, lim] : r.rdma)
    if (auto v = rdma_value(dev, lim)) w.add("rdma", "rdma.max", *v);

  // In order: a leading {"allow": false, "access": "rwm"} clears everything, later rules
  // allow what the container may use.
  for (const auto& rule : r.devices)
    w.add("devices", rule.allow ? "devices.allow" : "devices.deny", device_rule(rule));

  return w.take();
}

std::vector<FileWrite> translate_v2(const Resources& r, std::vector<std::string>* warnings) {
  Writes w(warnings);

  if (r.memory) {
    const auto& m = *r.memory;
    kernel_memory_warnings(m, w);
    if (set_nonzero(m.limit)) w.add("memory", "memory.max", v2_max(*m.limit));
    if (auto swap = v2_swap(m)) w.add("memory", "memory.swap.max", v2_max(*swap));
    if (set_nonzero(m.reservation)) w.add("memory", "memory.low", v2_max(*m.reservation));
    // swappiness and disableOOMKiller have no cgroup v2 file; runc and crun skip them too.
  }

  if (r.cpu) {
    const auto& c = *r.cpu;
    if (set_nonzero(c.realtime_period) || set_nonzero(c.realtime_runtime))
      unsupported("linux.resources.cpu.realtimeRuntime/realtimePeriod need the cgroup v1 cpu controller; "
                  "cgroup v2 has no realtime group scheduling");
    if (set_nonzero(c.shares)) w.add("cpu", "cpu.weight", std::to_string(cpu_shares_to_weight(*c.shares)));
    if (set_nonzero(c.quota) || set_nonzero(c.period)) {
      std::string quota = set_nonzero(c.quota) && *c.quota > 0 ? std::to_string(*c.quota) : "max";
      uint64_t period = set_nonzero(c.period) ? *c.period : 100000;  // the kernel's default period
      w.add("cpu", "cpu.max", fmt::format("{} {}", quota, period));
    }
    if (c.burst) w.add("cpu", "cpu.max.burst", std::to_string(*c.burst));
    if (c.idle) w.add("cpu", "cpu.idle", std::to_string(*c.idle));
    if (!c.cpus.empty()) w.add("cpuset", "cpuset.cpus", c.cpus);
    if (!c.mems.empty()) w.add("cpuset", "cpuset.mems", c.mems);
  }

  if (r.pids && r.pids->limit) w.add("pids", "pids.max", pids_max(*r.pids->limit));

  if (r.block_io) {
    const auto& b = *r.block_io;
    if (b.weight && *b.weight != 0) w.add("io", "io.weight", std::to_string(blkio_weight_to_io_weight(*b.weight)));
    if (b.leaf_weight || std::any_of(b.weight_device.begin(), b.weight_device.end(),
                                     [](const auto& d) { return d.leaf_weight.has_value(); }))
      w.warn("linux.resources.blockIO leaf weights are ignored: cgroup v2 has none");
    for (const auto& d : b.weight_device)
      if (d.weight)
        w.add("io", "io.weight",
              fmt::format("{} {}", device(d.major, d.minor), blkio_weight_to_io_weight(*d.weight)));
    // v1 writes 0 to drop a throttle; v2 spells that "max".
    auto throttle = [&](const std::vector<spec::ThrottleDevice>& list, const char* key) {
      for (const auto& t : list)
        w.add("io", "io.max",
              fmt::format("{} {}={}", device(t.major, t.minor), key, t.rate == 0 ? "max" : std::to_string(t.rate)));
    };
    throttle(b.throttle_read_bps, "rbps");
    throttle(b.throttle_write_bps, "wbps");
    throttle(b.throttle_read_iops, "riops");
    throttle(b.throttle_write_iops, "wiops");
  }

  for (const auto& h : r.hugepage_limits) {
    check_hugepage(h);
    w.add("hugetlb", "hugetlb." + h.page_size + ".max", std::to_string(h.limit));
  }

  if (r.network && (r.network->class_id || !r.network->priorities.empty()))
    unsupported("linux.resources.network needs the cgroup v1 net_cls/net_prio controllers; cgroup v2 has none");

  for (const auto& [dev, lim] : r.rdma)
    if (auto v = rdma_value(dev, lim)) w.add("rdma", "rdma.max", *v);

  // linux.resources.devices has no file on v2: the driver attaches a BPF_CGROUP_DEVICE
  // program (device_filter in devices.cc) instead.

  // Last, so an explicit unified value wins over the translated one (runc and crun agree).
  for (const auto& [key, value] : r.unified) {
    check_unified_key(key);
    std::string controller = key.substr(0, key.find('.'));
    w.add(controller == "cgroup" ? "" : controller, key, value);
  }

  return w.take();
}

}  // namespace ocirun::cgroups
