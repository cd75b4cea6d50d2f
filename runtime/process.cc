#include "process.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>

#include "error.h"
#include "fs.h"

namespace ocirun::runtime {

int capability_from_name(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  // cap_from_name parses capability text ("cap_kill+ep", lists): accept a bare name only.
  bool bare = lower.size() > 4 && lower.rfind("cap_", 0) == 0 &&
              std::all_of(lower.begin(), lower.end(), [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '_'; });
  cap_value_t value;
  if (!bare || cap_from_name(lower.c_str(), &value) < 0) return -1;
  return value;
}

int last_capability() {
  static int last = [] {
    try {
      return std::stoi(fs::read_file("/proc/sys/kernel/cap_last_cap"));
    } catch (...) {
      return CAP_LAST_CAP;
    }
  }();
  return last;
}

int rlimit_from_name(const std::string& name) {
  static const std::pair<const char*, int> table[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_STACK", RLIMIT_STACK},     {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},     {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  for (const auto& [n, v] : table)
    if (name == n) return v;
  return -1;
}

namespace {
uint64_t cap_mask(const std::vector<std::string>& names, const char* set) {
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    int cap = capability_from_name(names[i]);
    if (cap < 0)
      fail(ErrorKind::InvalidSpec, fmt::format("config.json: /process/capabilities/{}/{}: unknown capability \"{}\"", set, i, names[i]));
    // Known to libcap but not to this kernel: skipped, as runc does.
    if (cap > last_capability()) continue;
    mask |= uint64_t{1} << cap;
  }
  return mask;
}
}  // namespace

PreparedProcess prepare_process(const spec::Process& process) {
  PreparedProcess p;
  p.args = process.args;
  p.env = process.env;
  p.cwd = process.cwd.empty() ? "/" : process.cwd;
  p.uid = process.user.uid;
  p.gid = process.user.gid;
  p.additional_gids = {process.user.additional_gids.begin(), process.user.additional_gids.end()};
  p.umask = process.user.umask.value_or(022);
  p.no_new_privileges = process.no_new_privileges;
  p.oom_score_adj = process.oom_score_adj;
  p.terminal = process.terminal;
  if (process.capabilities) {
    const auto& c = *process.capabilities;
    p.caps = {cap_mask(c.bounding, "bounding"), cap_mask(c.effective, "effective"), cap_mask(c.permitted, "permitted"),
              cap_mask(c.inheritable, "inheritable"), cap_mask(c.ambient, "ambient")};
  }
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const auto& r = process.rlimits[i];
    int res = rlimit_from_name(r.type);
    if (res < 0) fail(ErrorKind::InvalidSpec, fmt::format("config.json: /process/rlimits/{}/type: unknown rlimit \"{}\"", i, r.type));
    p.rlimits.push_back({res, {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)}});
  }
  return p;
}

void apply_rlimits(const PreparedProcess& p) {
  static const char* names[] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
                                "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};
  for (const auto& [res, lim] : p.rlimits)
    if (::setrlimit(res, &lim) < 0)
      throw_errno(fmt::format("setrlimit RLIMIT_{} soft={} hard={}", names[res], lim.rlim_cur, lim.rlim_max));
}

void drop_bounding_set(const CapSets& caps) {
  for (int cap = 0; cap <= last_capability(); ++cap)
    if (!(caps.bounding & (uint64_t{1} << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      throw_errno(fmt::format("drop capability {} from the bounding set", cap));
}

void switch_user(const PreparedProcess& p, bool setgroups_allowed) {
  // Keep the permitted set across setresuid; apply_capabilities sets the rest.
  check(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl PR_SET_KEEPCAPS");
  if (setgroups_allowed) check(::setgroups(p.additional_gids.size(), p.additional_gids.data()), "setgroups");
  if (::setresgid(p.gid, p.gid, p.gid) < 0) throw_errno(fmt::format("setresgid {}", p.gid));
  if (::setresuid(p.uid, p.uid, p.uid) < 0) throw_errno(fmt::format("setresuid {}", p.uid));
  check(::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl PR_SET_KEEPCAPS");
}

void apply_capabilities(const CapSets& caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) < 0) throw_errno("capset");
  check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities");
  for (int cap = 0; cap <= last_capability(); ++cap)
    if (caps.ambient & (uint64_t{1} << cap) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      throw_errno(fmt::format("raise ambient capability {}", cap));
}

namespace {
bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}
}  // namespace

std::string find_executable(const PreparedProcess& p) {
  const std::string& name = p.args.at(0);
  if (name.find('/') != std::string::npos) {
    if (!is_executable_file(name)) throw_errno(fmt::format("exec: \"{}\"", name));
    return name;
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : p.env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  for (const auto& dir : fs::split(path, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  fail(ErrorKind::InvalidSpec, fmt::format("exec: \"{}\": executable file not found in $PATH", name));
}

}  // namespace ocirun::runtime
