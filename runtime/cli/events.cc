// `ocirun events` and `ocirun stats`: the container's cgroup statistics, as runc's JSON events
// or as a short human summary.
#include "events.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <thread>

#include "error.h"
#include "fs.h"
#include "log.h"

namespace ocirun::cli {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::chrono::nanoseconds parse_duration(const std::string& flag, const std::string& text) {
  auto bad = [&]() -> std::chrono::nanoseconds {
    fail(ErrorKind::InvalidArgument,
         fmt::format("--{}: not a duration: \"{}\" (use e.g. 5s, 500ms, 1m30s)", flag, text));
  };
  static const std::vector<std::pair<std::string, double>> units = {
      {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"μs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
  };
  std::string_view s = text;
  if (s.empty()) return bad();
  if (s == "0") return std::chrono::nanoseconds(0);
  double total = 0;
  while (!s.empty()) {
    size_t n = 0;
    while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
    if (n == 0) return bad();
    double value = 0;
    try {
      size_t used = 0;
      value = std::stod(std::string(s.substr(0, n)), &used);
      if (used != n) return bad();
    } catch (...) {
      return bad();
    }
    s.remove_prefix(n);
    // The longest unit that matches ("ms" before "m").
    const std::pair<std::string, double>* unit = nullptr;
    for (const auto& u : units)
      if (s.substr(0, u.first.size()) == u.first && (!unit || u.first.size() > unit->first.size())) unit = &u;
    if (!unit) return bad();
    s.remove_prefix(unit->first.size());
    total += value * unit->second;
  }
  if (total > 1e18) return bad();
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

namespace {

// Go's omitempty: a zero number is left out.
void put_nonzero(json& j, const char* key, uint64_t v) {
  if (v) j[key] = v;
}

json memory_entry(const cgroups::MemoryEntry& e) {
  json j = json::object();
  j["limit"] = e.limit;
  put_nonzero(j, "usage", e.usage);
  put_nonzero(j, "max", e.max);
  j["failcnt"] = e.failcnt;
  return j;
}

void put_blkio(json& j, const char* key, const std::vector<cgroups::BlkioEntry>& list) {
  if (list.empty()) return;
  json arr = json::array();
  for (const auto& e : list) {
    json o = json::object();
    put_nonzero(o, "major", e.major);
    put_nonzero(o, "minor", e.minor);
    if (!e.op.empty()) o["op"] = e.op;
    put_nonzero(o, "value", e.value);
    arr.push_back(std::move(o));
  }
  j[key] = std::move(arr);
}

}  // namespace

json stats_json(const cgroups::Stats& s) {
  json usage = json::object();
  put_nonzero(usage, "total", s.cpu.total);
  if (!s.cpu.percpu.empty()) usage["percpu"] = s.cpu.percpu;
  if (!s.cpu.percpu_kernel.empty()) usage["percpu_kernel"] = s.cpu.percpu_kernel;
  if (!s.cpu.percpu_user.empty()) usage["percpu_user"] = s.cpu.percpu_user;
  usage["kernel"] = s.cpu.kernel;
  usage["user"] = s.cpu.user;
  json throttling = json::object();
  put_nonzero(throttling, "periods", s.cpu.periods);
  put_nonzero(throttling, "throttledPeriods", s.cpu.throttled_periods);
  put_nonzero(throttling, "throttledTime", s.cpu.throttled_time);

  json memory = json::object();
  put_nonzero(memory, "cache", s.memory.cache);
  memory["usage"] = memory_entry(s.memory.usage);
  memory["swap"] = memory_entry(s.memory.swap);
  memory["kernel"] = memory_entry(s.memory.kernel);
  memory["kernelTCP"] = memory_entry(s.memory.kernel_tcp);
  if (!s.memory.raw.empty()) memory["raw"] = s.memory.raw;

  json pids = json::object();
  put_nonzero(pids, "current", s.pids.current);
  put_nonzero(pids, "limit", s.pids.limit);

  json blkio = json::object();
  put_blkio(blkio, "ioServiceBytesRecursive", s.blkio.io_service_bytes_recursive);
  put_blkio(blkio, "ioServicedRecursive", s.blkio.io_serviced_recursive);
  put_blkio(blkio, "ioQueueRecursive", s.blkio.io_queue_recursive);
  put_blkio(blkio, "ioServiceTimeRecursive", s.blkio.io_service_time_recursive);
  put_blkio(blkio, "ioWaitTimeRecursive", s.blkio.io_wait_time_recursive);
  put_blkio(blkio, "ioMergedRecursive", s.blkio.io_merged_recursive);
  put_blkio(blkio, "ioTimeRecursive", s.blkio.io_time_recursive);
  put_blkio(blkio, "sectorsRecursive", s.blkio.sectors_recursive);

  json hugetlb = json::object();
  for (const auto& [size, h] : s.hugetlb) {
    json e = json::object();
    put_nonzero(e, "usage", h.usage);
    put_nonzero(e, "max", h.max);
    e["failcnt"] = h.failcnt;
    hugetlb[size] = std::move(e);
  }

  json out = json::object();
  out["cpu"] = {{"usage", usage}, {"throttling", throttling}};
  out["memory"] = memory;
  out["pids"] = pids;
  out["blkio"] = blkio;
  out["hugetlb"] = hugetlb;
  return out;
}

namespace {

struct Opened {
  runtime::ContainerState state;
  std::unique_ptr<cgroups::Manager> cgroup;
};

Opened open_running(const runtime::StateStore& store, const std::string& id, const char* command) {
  runtime::ContainerDir dir = store.open(id, /*lock=*/false);
  Opened o{dir.load(), nullptr};
  if (dir.status(o.state) == runtime::Status::Stopped)
    fail(ErrorKind::BadState, fmt::format("{}: container {} is not running", command, id));
  o.cgroup = runtime::container_cgroup(o.state);
  if (!o.cgroup) fail(ErrorKind::Unsupported, fmt::format("{}: container {} has no cgroup", command, id));
  return o;
}

void emit(const json& event) {
  // One JSON document a line, flushed: a reader acts on each event as it comes.
  fmt::print("{}\n", event.dump());
  std::fflush(stdout);
}

json stats_event(const std::string& id, const cgroups::Stats& s) {
  json event = json::object();
  event["type"] = "stats";
  event["id"] = id;
  event["data"] = stats_json(s);
  return event;
}

}  // namespace

int events_command(const runtime::StateStore& store, const std::string& id, bool stats_once,
                   std::chrono::nanoseconds interval) {
  if (interval.count() <= 0) fail(ErrorKind::InvalidArgument, "events: --interval must be greater than 0");
  Opened c = open_running(store, id, "events");
  if (stats_once) {
    emit(stats_event(id, c.cgroup->stats()));
    return 0;
  }

  UniqueFd init = runtime::open_init_pidfd(c.state);
  if (!init) fail(ErrorKind::BadState, "events: container " + id + " is not running");
  uint64_t oom_seen = 0;
  try {
    oom_seen = c.cgroup->oom_kills();
  } catch (const Error& e) {
    log::warn(std::string("events: cannot read the OOM kill count: ") + e.what());
  }
  // Each rise of the kill count is one "oom" event; false once the cgroup is gone.
  auto check_oom = [&]() {
    uint64_t now = 0;
    try {
      now = c.cgroup->oom_kills();
    } catch (const Error&) {
      return false;
    }
    for (; oom_seen < now; ++oom_seen) {
      json event = json::object();
      event["type"] = "oom";
      event["id"] = id;
      emit(event);
    }
    return true;
  };

  // The OOM count is polled often; stats go out every interval, the first one after one
  // interval (as runc does).
  constexpr auto kOomPoll = std::chrono::milliseconds(100);
  auto next_stats = Clock::now() + interval;
  for (;;) {
    if (!check_oom()) break;
    auto now = Clock::now();
    if (now >= next_stats) {
      try {
        emit(stats_event(id, c.cgroup->stats()));
      } catch (const Error& e) {
        log::warn(std::string("events: stats: ") + e.what());
      }
      next_stats += interval;
      if (next_stats < now) next_stats = now + interval;  // fell behind: don't burst
    }
    auto wait = std::min<Clock::duration>(kOomPoll, next_stats - Clock::now());
    int ms = static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()));
    pollfd p{init.get(), POLLIN, 0};
    int r = ::poll(&p, 1, ms);
    if (r < 0 && errno != EINTR) throw_errno("poll the container init");
    if (r > 0) {
      // The init exited: the OOM killer may have been the reason; report it, then stop.
      check_oom();
      break;
    }
  }
  return 0;
}

namespace {

std::string human_bytes(double v) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return fmt::format("{:.0f}{}", v, units[u]);
  return fmt::format("{:.4g}{}", v, units[u]);
}

uint64_t host_memory_total() {
  try {
    for (const auto& line : fs::split(fs::read_file("/proc/meminfo"), '\n'))
      if (line.rfind("MemTotal:", 0) == 0) return std::stoull(line.substr(9)) * 1024;
  } catch (...) {
  }
  return 0;
}

uint64_t raw_value(const cgroups::Stats& s, const char* key) {
  auto it = s.memory.raw.find(key);
  return it == s.memory.raw.end() ? 0 : it->second;
}

}  // namespace

int stats_command(const runtime::StateStore& store, const std::string& id, std::chrono::nanoseconds sample) {
  if (sample.count() <= 0) fail(ErrorKind::InvalidArgument, "stats: --interval must be greater than 0");
  Opened c = open_running(store, id, "stats");
  cgroups::Stats before = c.cgroup->stats();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(sample);
  cgroups::Stats s = c.cgroup->stats();
  double elapsed_ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  double cpu_ns = s.cpu.total >= before.cpu.total ? static_cast<double>(s.cpu.total - before.cpu.total) : 0;
  double cpu_percent = elapsed_ns > 0 ? cpu_ns / elapsed_ns * 100.0 : 0;

  // As docker stats: the page cache the kernel would drop first does not count as used.
  uint64_t inactive_file = s.memory.raw.count("total_inactive_file") ? raw_value(s, "total_inactive_file")
                                                                       : raw_value(s, "inactive_file");
  uint64_t used = s.memory.usage.usage > inactive_file ? s.memory.usage.usage - inactive_file : s.memory.usage.usage;
  uint64_t limit = s.memory.usage.limit;
  uint64_t host_total = host_memory_total();
  bool unlimited = limit == 0 || limit >= (uint64_t{1} << 62) || (host_total && limit >= host_total);
  std::string memory = fmt::format("{} / {}", human_bytes(static_cast<double>(used)),
                                   unlimited ? "unlimited" : human_bytes(static_cast<double>(limit)));
  if (!unlimited) memory += fmt::format(" ({:.2f}%)", static_cast<double>(used) / static_cast<double>(limit) * 100.0);
  else if (host_total) memory += fmt::format(" ({:.2f}% of the host's {})", static_cast<double>(used) / static_cast<double>(host_total) * 100.0, human_bytes(static_cast<double>(host_total)));

  uint64_t read = 0, written = 0;
  for (const auto& e : s.blkio.io_service_bytes_recursive) {
    if (e.op == "Read" || e.op == "read") read += e.value;
    if (e.op == "Write" || e.op == "write") written += e.value;
  }
  std::string pids = std::to_string(s.pids.current) + (s.pids.limit ? " / " + std::to_string(s.pids.limit) : "");

  fmt::print("{:<11}{}\n", "CONTAINER", id);
  fmt::print("{:<11}{:.2f}% (over {:.2f}s; 100% = one CPU)\n", "CPU", cpu_percent, elapsed_ns / 1e9);
  fmt::print("{:<11}{}\n", "MEMORY", memory);
  if (s.memory.oom_kill) fmt::print("{:<11}{}\n", "OOM KILLS", s.memory.oom_kill);
  fmt::print("{:<11}{}\n", "PIDS", pids);
  fmt::print("{:<11}{} read / {} written\n", "BLOCK I/O", human_bytes(static_cast<double>(read)),
                           human_bytes(static_cast<double>(written)));
  return 0;
}

}  // namespace ocirun::cli
