// Statistics: the pure parsers of cgroup stat files, and the readers the v1 and v2 drivers
// share. A missing file (a controller or feature the host lacks) leaves its numbers at 0.
#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <optional>

#include "cgroupfs.h"
#include "error.h"
#include "fs.h"

namespace ocirun::cgroups {

namespace {

std::optional<uint64_t> to_u64(std::string_view s) {
  s = std::string_view(s.data(), s.size());
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// "8:16" -> (8, 16)
bool parse_dev(std::string_view s, uint64_t& major, uint64_t& minor) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  auto a = to_u64(s.substr(0, colon)), b = to_u64(s.substr(colon + 1));
  if (!a || !b) return false;
  major = *a;
  minor = *b;
  return true;
}

}  // namespace

std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for (auto line : lines_of(text)) {
    auto w = words(line);
    if (w.size() != 2) continue;
    if (auto v = to_u64(w[1])) out[std::string(w[0])] = *v;
  }
  return out;
}

std::vector<BlkioEntry> parse_blkio_v1(std::string_view text) {
  std::vector<BlkioEntry> out;
  for (auto line : lines_of(text)) {
    auto w = words(line);
    BlkioEntry e;
    if (w.size() == 3) {
      e.op = std::string(w[1]);
    } else if (w.size() != 2) {
      continue;
    }
    if (!parse_dev(w[0], e.major, e.minor)) continue;  // "Total N"
    auto v = to_u64(w.back());
    if (!v) continue;
    e.value = *v;
    out.push_back(std::move(e));
  }
  return out;
}

void parse_io_stat(std::string_view text, Stats::Blkio& out) {
  static const std::map<std::string_view, std::pair<bool, const char*>> keys = {
      {"rbytes", {true, "Read"}}, {"wbytes", {true, "Write"}}, {"dbytes", {true, "Discard"}},
      {"rios", {false, "Read"}},  {"wios", {false, "Write"}},  {"dios", {false, "Discard"}},
  };
  for (auto line : lines_of(text)) {
    auto w = words(line);
    uint64_t major = 0, minor = 0;
    if (w.empty() || !parse_dev(w[0], major, minor)) continue;
    for (size_t i = 1; i < w.size(); ++i) {
      auto eq = w[i].find('=');
      if (eq == std::string_view::npos) continue;
      auto it = keys.find(w[i].substr(0, eq));
      auto v = to_u64(w[i].substr(eq + 1));
      if (it == keys.end() || !v) continue;
      auto& list = it->second.first ? out.io_service_bytes_recursive : out.io_serviced_recursive;
      list.push_back({major, minor, it->second.second, *v});
    }
  }
}

uint64_t parse_limit(std::string_view text) {
  std::string t = fs::trim(text);
  if (t == "max" || t == "-1") return UINT64_MAX;
  return to_u64(t).value_or(0);
}

namespace detail {

namespace {

// The file's text, or nullopt when the file does not exist (a controller or knob this kernel
// or cgroup lacks). Other errors throw.
std::optional<std::string> read_opt(const Dir& d, const std::string& file) {
  try {
    return d.read(file);
  } catch (const Error& e) {
    if (e.sys_errno() == ENOENT || e.sys_errno() == ENOTSUP || e.sys_errno() == EOPNOTSUPP) return std::nullopt;
    throw;
  }
}

std::optional<uint64_t> read_u64(const Dir& d, const std::string& file) {
  auto text = read_opt(d, file);
  if (!text) return std::nullopt;
  return to_u64(*text);
}

void set_if(uint64_t& field, std::optional<uint64_t> v) {
  if (v) field = *v;
}

std::vector<uint64_t> numbers(std::string_view text) {
  std::vector<uint64_t> out;
  for (auto w : words(text))
    if (auto v = to_u64(w)) out.push_back(*v);
  return out;
}

// Every "hugetlb.<size>.<suffix>" file of the directory -> the sizes ("2MB").
std::vector<std::string> hugepage_sizes(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("hugetlb.", 0) != 0 || name.size() <= 8 + suffix.size() + 1) continue;
    if (name.compare(name.size() - suffix.size() - 1, std::string::npos, "." + suffix) != 0) continue;
    std::string size = name.substr(8, name.size() - 8 - suffix.size() - 1);
    if (size.find('.') == std::string::npos) out.push_back(size);
  }
  ::closedir(d);
  return out;
}

MemoryEntry v1_memory_entry(const Dir& d, const std::string& prefix) {
  MemoryEntry e;
  set_if(e.usage, read_u64(d, prefix + ".usage_in_bytes"));
  set_if(e.max, read_u64(d, prefix + ".max_usage_in_bytes"));
  set_if(e.failcnt, read_u64(d, prefix + ".failcnt"));
  if (auto text = read_opt(d, prefix + ".limit_in_bytes")) e.limit = parse_limit(*text);
  return e;
}

}  // namespace

void v1_cpu_stats(const std::string& cpu_dir, const std::string& cpuacct_dir, Stats& out) {
  if (!cpuacct_dir.empty()) {
    Dir d = Dir::open(cpuacct_dir);
    set_if(out.cpu.total, read_u64(d, "cpuacct.usage"));
    if (auto text = read_opt(d, "cpuacct.usage_percpu")) out.cpu.percpu = numbers(*text);
    // USER_HZ ticks, as the kernel counts them here.
    if (auto text = read_opt(d, "cpuacct.stat")) {
      auto m = parse_flat_keyed(*text);
      uint64_t hz = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
      if (hz == 0) hz = 100;
      out.cpu.user = m["user"] * (1000000000 / hz);
      out.cpu.kernel = m["system"] * (1000000000 / hz);
    }
    // "cpu user system" then one line per cpu, in ns.
    if (auto text = read_opt(d, "cpuacct.usage_all")) {
      for (auto line : lines_of(*text)) {
        auto w = words(line);
        if (w.size() != 3 || !to_u64(w[0])) continue;
        out.cpu.percpu_user.push_back(to_u64(w[1]).value_or(0));
        out.cpu.percpu_kernel.push_back(to_u64(w[2]).value_or(0));
      }
    }
  }
  if (!cpu_dir.empty()) {
    Dir d = Dir::open(cpu_dir);
    if (auto text = read_opt(d, "cpu.stat")) {
      auto m = parse_flat_keyed(*text);
      out.cpu.periods = m["nr_periods"];
      out.cpu.throttled_periods = m["nr_throttled"];
      out.cpu.throttled_time = m["throttled_time"];  // ns on v1
    }
  }
}

void v1_memory_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  out.memory.usage = v1_memory_entry(d, "memory");
  out.memory.swap = v1_memory_entry(d, "memory.memsw");
  out.memory.kernel = v1_memory_entry(d, "memory.kmem");
  out.memory.kernel_tcp = v1_memory_entry(d, "memory.kmem.tcp");
  if (auto text = read_opt(d, "memory.stat")) out.memory.raw = parse_flat_keyed(*text);
  out.memory.cache = out.memory.raw.count("cache") ? out.memory.raw.at("cache") : 0;
  if (auto text = read_opt(d, "memory.oom_control")) {
    auto m = parse_flat_keyed(*text);
    out.memory.oom_kill = m["oom_kill"];
    out.memory.under_oom = m["under_oom"] != 0;
  }
}

uint64_t v1_oom_kills(const std::string& dir) {
  auto text = read_opt(Dir::open(dir), "memory.oom_control");
  return text ? parse_flat_keyed(*text)["oom_kill"] : 0;
}

void pids_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  set_if(out.pids.current, read_u64(d, "pids.current"));
  if (auto text = read_opt(d, "pids.max")) {
    uint64_t limit = parse_limit(*text);
    out.pids.limit = limit == UINT64_MAX ? 0 : limit;
  }
}

void v1_blkio_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  auto read = [&](const std::string& file) {
    auto text = read_opt(d, file);
    return text ? parse_blkio_v1(*text) : std::vector<BlkioEntry>{};
  };
  auto& b = out.blkio;
  // Like runc: the CFQ files when they hold anything, else BFQ's, else the throttle ones
  // (which count all IO whatever the scheduler).
  for (const char* prefix : {"blkio.", "blkio.bfq."}) {
    std::string p = prefix;
    auto serviced = read(p + "io_serviced_recursive");
    if (serviced.empty()) continue;
    b.io_serviced_recursive = std::move(serviced);
    b.io_service_bytes_recursive = read(p + "io_service_bytes_recursive");
    b.io_queue_recursive = read(p + "io_queued_recursive");
    b.io_service_time_recursive = read(p + "io_service_time_recursive");
    b.io_wait_time_recursive = read(p + "io_wait_time_recursive");
    b.io_merged_recursive = read(p + "io_merged_recursive");
    b.io_time_recursive = read(p + "time_recursive");
    b.sectors_recursive = read(p + "sectors_recursive");
    return;
  }
  b.io_service_bytes_recursive = read("blkio.throttle.io_service_bytes_recursive");
  if (b.io_service_bytes_recursive.empty()) b.io_service_bytes_recursive = read("blkio.throttle.io_service_bytes");
  b.io_serviced_recursive = read("blkio.throttle.io_serviced_recursive");
  if (b.io_serviced_recursive.empty()) b.io_serviced_recursive = read("blkio.throttle.io_serviced");
}

void v1_hugetlb_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  for (const auto& size : hugepage_sizes(dir, "usage_in_bytes")) {
    HugetlbEntry e;
    set_if(e.usage, read_u64(d, "hugetlb." + size + ".usage_in_bytes"));
    set_if(e.max, read_u64(d, "hugetlb." + size + ".max_usage_in_bytes"));
    set_if(e.failcnt, read_u64(d, "hugetlb." + size + ".failcnt"));
    out.hugetlb[size] = e;
  }
}

void v2_cpu_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  if (auto text = read_opt(d, "cpu.stat")) {
    auto m = parse_flat_keyed(*text);
    out.cpu.total = m["usage_usec"] * 1000;
    out.cpu.user = m["user_usec"] * 1000;
    out.cpu.kernel = m["system_usec"] * 1000;
    out.cpu.periods = m["nr_periods"];
    out.cpu.throttled_periods = m["nr_throttled"];
    out.cpu.throttled_time = m["throttled_usec"] * 1000;
  }
}

void v2_memory_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  auto& mem = out.memory;
  if (auto text = read_opt(d, "memory.stat")) mem.raw = parse_flat_keyed(*text);
  mem.cache = mem.raw.count("file") ? mem.raw.at("file") : 0;
  set_if(mem.usage.usage, read_u64(d, "memory.current"));
  if (auto text = read_opt(d, "memory.max")) mem.usage.limit = parse_limit(*text);
  set_if(mem.usage.max, read_u64(d, "memory.peak"));
  if (auto text = read_opt(d, "memory.events")) {
    auto m = parse_flat_keyed(*text);
    mem.usage.failcnt = m["max"];
    mem.oom = m["oom"];
    mem.oom_kill = m["oom_kill"];
  }
  // v1 reports swap as memory+swap; so does runc on v2, for the same consumers.
  if (auto swap = read_u64(d, "memory.swap.current")) {
    mem.swap.usage = *swap + mem.usage.usage;
    uint64_t limit = 0;
    if (auto text = read_opt(d, "memory.swap.max")) limit = parse_limit(*text);
    mem.swap.limit = limit == UINT64_MAX || mem.usage.limit == UINT64_MAX ? UINT64_MAX : limit + mem.usage.limit;
    if (auto peak = read_u64(d, "memory.swap.peak")) mem.swap.max = *peak;
    if (auto text = read_opt(d, "memory.swap.events")) mem.swap.failcnt = parse_flat_keyed(*text)["max"];
  }
}

uint64_t v2_oom_kills(const std::string& dir) {
  auto text = read_opt(Dir::open(dir), "memory.events");
  return text ? parse_flat_keyed(*text)["oom_kill"] : 0;
}

void v2_io_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  if (auto text = read_opt(d, "io.stat")) parse_io_stat(*text, out.blkio);
}

void v2_hugetlb_stats(const std::string& dir, Stats& out) {
  Dir d = Dir::open(dir);
  for (const auto& size : hugepage_sizes(dir, "current")) {
    HugetlbEntry e;
    set_if(e.usage, read_u64(d, "hugetlb." + size + ".current"));
    if (auto text = read_opt(d, "hugetlb." + size + ".events")) e.failcnt = parse_flat_keyed(*text)["max"];
    out.hugetlb[size] = e;
  }
}

}  // namespace detail

}  // namespace ocirun::cgroups
