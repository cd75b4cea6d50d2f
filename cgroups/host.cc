// Host detection and the cgroupsPath rule.
#include <linux/magic.h>
#include <sys/statfs.h>

#include <algorithm>
#include <optional>

#include "cgroups.h"
#include "error.h"
#include "fs.h"

namespace ocirun::cgroups {

namespace {

// The v1 controllers a "cgroup" mount's super options can name; other options
// (rw, relatime, clone_children, release_agent=...) are not hierarchies.
const std::set<std::string>& v1_controller_names() {
  static const std::set<std::string> names = {"cpu",     "cpuacct",    "cpuset",  "memory", "devices",
                                              "freezer", "net_cls",    "net_prio", "blkio", "perf_event",
                                              "hugetlb", "pids",       "rdma",    "misc"};
  return names;
}

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool is_under(const std::string& root, const std::string& path) {
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
         (root == "/" || path[root.size()] == '/');
}

std::vector<std::string> fields_of(std::string_view line) {
  std::vector<std::string> out;
  for (auto& f : fs::split(line, ' '))
    if (!f.empty()) out.push_back(std::move(f));
  return out;
}

}  // namespace

std::string Host::self_path(const std::string& hierarchy) const {
  auto it = self.find(hierarchy);
  return it == self.end() || it->second.empty() ? "/" : it->second;
}

namespace {

struct MountEntry {
  std::string mount_point;
  std::string fstype;
  std::string super_options;
};

// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
std::vector<MountEntry> parse_mountinfo(std::string_view mountinfo) {
  std::vector<MountEntry> out;
  for (const auto& line : fs::split(mountinfo, '\n')) {
    auto f = fields_of(line);
    auto sep = std::find(f.begin() + std::min<size_t>(f.size(), 6), f.end(), "-");
    if (f.size() < 7 || sep == f.end() || f.end() - sep < 4) continue;
    out.push_back({fs::unescape_mountinfo(f[4]), sep[1], sep[3]});
  }
  return out;
}

std::string_view parent_dir(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? "/" : path.substr(0, slash);
}

// Only the top mount at each place is seen: a later line (mountinfo lists mounts in the
// order they were made) on the same mount point or on a parent directory covers it, as a
// tmpfs over /sys/fs/cgroup/unified does in container-in-container setups.
std::vector<MountEntry> visible_mounts(std::vector<MountEntry> all) {
  std::set<std::string> later;
  std::vector<MountEntry> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    bool covered = false;
    for (std::string_view p = it->mount_point; !covered; p = parent_dir(p)) {
      covered = later.count(std::string(p)) > 0;
      if (p == "/") break;
    }
    later.insert(it->mount_point);
    if (!covered) out.push_back(std::move(*it));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

Host parse_host(std::string_view mountinfo, std::string_view proc_self_cgroup, const std::string& root_in) {
  Host host;
  host.root = strip_trailing_slashes(root_in);
  bool v2_at_root = false;

  for (const auto& [mount_point, fstype, super_options] : visible_mounts(parse_mountinfo(mountinfo))) {
    bool counted = false;
    if (fstype == "cgroup2") {
      if (mount_point == host.root) {
        v2_at_root = true;
        host.v2 = mount_point;
        counted = true;
      } else if (is_under(host.root, mount_point) && host.v2.empty()) {
        host.v2 = mount_point;
        counted = true;
      }
    } else if (fstype == "cgroup" && is_under(host.root, mount_point)) {
      for (const auto& opt : fs::split(super_options, ','))
        if (v1_controller_names().count(opt) || opt.rfind("name=", 0) == 0) counted |= host.v1.emplace(opt, mount_point).second;
    }
    if (counted && !host.mount_options.count(mount_point)) {
      std::string kept;
      for (const auto& opt : fs::split(super_options, ','))
        if (opt != "rw" && opt != "ro") kept += (kept.empty() ? "" : ",") + opt;
      host.mount_options[mount_point] = kept;
    }
  }

  if (v2_at_root) {
    host.layout = Layout::V2;
    for (const auto& [hierarchy, mount_point] : host.v1) host.mount_options.erase(mount_point);
    host.v1.clear();
  } else if (!host.v1.empty()) {
    host.layout = host.v2.empty() ? Layout::V1 : Layout::Hybrid;
  } else if (!host.v2.empty()) {
    host.layout = Layout::Hybrid;  // a tmpfs root holding only a cgroup2 mount
  } else {
    fail(ErrorKind::Unsupported, "no cgroup filesystem is mounted under " + host.root);
  }

  // "4:memory:/a/b", "9:name=systemd:/", "0::/user.slice/x" (v2)
  for (const auto& line : fs::split(proc_self_cgroup, '\n')) {
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string::npos ? std::string::npos : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (controllers.empty()) {
      host.self[""] = path;
    } else {
      for (const auto& c : fs::split(controllers, ',')) host.self[c] = path;
    }
  }
  return host;
}

namespace {
Host read_host(const std::string& root) {
  struct statfs st;
  if (::statfs(root.c_str(), &st) < 0) throw_errno("statfs " + root);
  Host host = parse_host(fs::read_file("/proc/self/mountinfo"), fs::read_file("/proc/self/cgroup"), root);
  if (st.f_type == CGROUP2_SUPER_MAGIC && host.layout != Layout::V2) {
    // mountinfo disagrees with the kernel (e.g. a bind mount): believe statfs.
    host.layout = Layout::V2;
    host.v1.clear();
    host.v2 = host.root;
    host.mount_options = {{host.root, ""}};
  }
  if (!host.v2.empty()) {
    for (const auto& c : fs::split(fs::trim(fs::read_file(host.v2 + "/cgroup.controllers")), ' '))
      if (!c.empty()) host.v2_controllers.insert(c);
  }
  return host;
}
}  // namespace

Host detect_host(const std::string& root) {
  // Once per process: `run` needs it at create and again at delete, and mountinfo is long.
  static std::optional<std::pair<std::string, Host>> cached;
  if (!cached || cached->first != root) cached.emplace(root, read_host(root));
  return cached->second;
}

std::string resolve_path(std::string_view cgroups_path, std::string_view id, std::string_view self) {
  std::string joined;
  if (cgroups_path.empty()) {
    if (id.empty() || id.find('/') != std::string_view::npos)
      fail(ErrorKind::InvalidArgument, "container id \"" + std::string(id) + "\" cannot name a cgroup");
    joined = "/ocirun/" + std::string(id);
  } else if (cgroups_path[0] != '/' && std::count(cgroups_path.begin(), cgroups_path.end(), ':') == 2) {
    fail(ErrorKind::Unsupported, "linux.cgroupsPath \"" + std::string(cgroups_path) +
                                     "\" is in the systemd form slice:prefix:name: use --systemd-cgroup, "
                                     "or give a path like /ocirun/<id> for the cgroupfs driver");
  } else if (cgroups_path[0] == '/') {
    joined = std::string(cgroups_path);
  } else {
    joined = std::string(self) + "/" + std::string(cgroups_path);
  }

  std::string out;
  for (const auto& part : fs::split(joined, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..")
      fail(ErrorKind::InvalidSpec, "linux.cgroupsPath \"" + std::string(cgroups_path) + "\" must not contain \"..\"");
    out += "/" + part;
  }
  if (out.empty())
    fail(ErrorKind::InvalidSpec,
         "linux.cgroupsPath \"" + std::string(cgroups_path) + "\" resolves to the hierarchy root");
  return out;
}

}  // namespace ocirun::cgroups
