// open()/reopen(): pick the driver for the host's layout.
#include "cgroupfs.h"
#include "error.h"

#include <set>

namespace ocirun::cgroups {

std::unique_ptr<Manager> open(const Host& host, const std::string& cgroups_path, const std::string& id) {
  switch (host.layout) {
    case Layout::V2:
      return detail::make_v2(host, cgroups_path, id);
    case Layout::Hybrid:
      // A tmpfs root holding only a cgroup2 mount is v2 in all but name.
      if (host.v1.empty()) return detail::make_v2(host, cgroups_path, id);
      return detail::make_v1(host, cgroups_path, id);
    case Layout::V1:
      return detail::make_v1(host, cgroups_path, id);
  }
  fail(ErrorKind::Unsupported, "unknown cgroup layout");
}

std::vector<pid_t> processes_in(const std::map<std::string, std::string>& dirs) {
  std::set<pid_t> found;
  std::set<std::string> seen;
  for (const auto& [hierarchy, dir] : dirs) {
    if (!seen.insert(dir).second) continue;  // co-mounted hierarchies share a directory
    try {
      for (pid_t pid : detail::procs_recursive(dir)) found.insert(pid);
    } catch (const Error& e) {
      if (e.sys_errno() != ENOENT) throw;  // not made yet in this hierarchy: nobody there
    }
  }
  return {found.begin(), found.end()};
}

std::unique_ptr<Manager> reopen(const Host& host, const Saved& saved) {
  if (!saved.systemd_unit.empty()) return detail::reopen_systemd(host, saved);
  bool v2_only = saved.dirs.size() == 1 && saved.dirs.count("");
  if (host.layout == Layout::V2 || v2_only) return detail::make_v2(host, saved);
  return detail::make_v1(host, saved);
}

}  // namespace ocirun::cgroups
