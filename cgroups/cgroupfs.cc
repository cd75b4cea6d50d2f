#include "cgroupfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "error.h"
#include "fault.h"
#include "fs.h"

namespace ocirun::cgroups::detail {

namespace {

using namespace std::chrono_literals;

void sleep_for(std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); }

// Sub-directories of dir (the sub-cgroups); an empty list if dir is gone.
std::vector<std::string> child_dirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw_errno("opendir " + dir);
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.push_back(dir + "/" + name);
  }
  ::closedir(d);
  return out;
}

// rmdir dir after its sub-cgroups; 0 or the errno of the failing rmdir. The common case,
// a leaf, takes one rmdir: the sub-cgroups are listed only when the kernel refuses.
int rmdir_tree(const std::string& dir) {
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return 0;
  if (errno != EBUSY && errno != ENOTEMPTY) return errno;
  for (const auto& child : child_dirs(dir))
    if (int err = rmdir_tree(child)) return err;
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return 0;
  return errno;
}

void collect_procs(const std::string& dir, std::vector<pid_t>& out, bool top) {
  std::string text;
  try {
    text = fs::read_file(dir + "/cgroup.procs");
  } catch (const Error& e) {
    if (!top && e.sys_errno() == ENOENT) return;  // removed while we walked
    throw;
  }
  for (const auto& line : fs::split(text, '\n'))
    if (!line.empty()) out.push_back(static_cast<pid_t>(std::stol(line)));
  for (const auto& child : child_dirs(dir)) collect_procs(child, out, false);
}

bool events_say_frozen(const Dir& dir, bool* value) {
  for (const auto& line : fs::split(dir.read("cgroup.events"), '\n')) {
    if (line.rfind("frozen ", 0) == 0) {
      *value = fs::trim(line.substr(7)) == "1";
      return true;
    }
  }
  return false;
}

}  // namespace

Dir Dir::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("open cgroup " + path);
  return Dir(std::move(fd), path);
}

int Dir::try_write(const std::string& file, const std::string& value) const {
  // O_TRUNC as runc does: cgroupfs ignores it, and a plain file (tests) holds the last value.
  UniqueFd f(::openat(fd_.get(), file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!f) return errno;
  for (;;) {
    ssize_t n = ::write(f.get(), value.data(), value.size());
    if (n >= 0) return static_cast<size_t>(n) == value.size() ? 0 : EIO;
    if (errno != EINTR) return errno;
  }
}

void Dir::write(const std::string& file, const std::string& value) const {
  if (int err = try_write(file, value)) throw_errno(err, fmt::format("write \"{}\" to {}/{}", value, path_, file));
}

std::string Dir::read(const std::string& file) const {
  try {
    return fs::read_file_at(fd_.get(), file);
  } catch (Error& e) {
    e.with_context(path_);
    throw;
  }
}

bool Dir::has(const std::string& file) const { return ::faccessat(fd_.get(), file.c_str(), F_OK, 0) == 0; }

void make_path(const std::string& base, const std::string& rel, std::vector<std::string>& created) {
  // A shared parent ("/ocirun") may be removed by the last container leaving it between our
  // mkdirs (see shared_parents): the next mkdir then fails with ENOENT, and we start over.
  for (int attempt = 0;; ++attempt) {
    std::string cur = base;
    bool vanished = false;
    for (const auto& part : fs::split(rel, '/')) {
      if (part.empty()) continue;
      cur += "/" + part;
      if (::mkdir(cur.c_str(), 0755) == 0) {
        // Killed here, the first directory exists and the rest of the cgroup does not.
        if (created.empty()) OCIRUN_CRASH_POINT("cgroup-mkdir");
        if (std::find(created.begin(), created.end(), cur) == created.end()) created.push_back(cur);
      } else if (errno == ENOENT && cur.size() > base.size() + part.size() + 1 && attempt < 100) {
        vanished = true;
        break;
      } else if (errno == EROFS) {
        // Nested (a runtime in a container): say what is missing, not just the errno.
        throw Error(ErrorKind::Unsupported,
                    fmt::format("cgroup {} is read-only: cannot make {} (in a container, /sys/fs/cgroup must be "
                                "mounted read-write for the runtime to make cgroups)",
                                base, cur),
                    EROFS);
      } else if (errno != EEXIST) {
        throw_errno("mkdir " + cur);
      }
    }
    if (!vanished) return;
  }
}

void missing_path(const std::string& base, const std::string& rel, std::vector<std::string>& out) {
  std::string cur = base;
  bool missing = false;
  for (const auto& part : fs::split(rel, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (!missing) {
      struct stat st;
      missing = ::lstat(cur.c_str(), &st) < 0 && errno == ENOENT;
    }
    if (missing && std::find(out.begin(), out.end(), cur) == out.end()) out.push_back(cur);
  }
}

void add_shared_parents(const std::vector<std::string>& leaves, std::vector<std::string>& created) {
  std::vector<std::string> parents;
  for (const auto& leaf : leaves) {
    std::string parent = leaf.substr(0, leaf.rfind('/'));
    if (std::find(created.begin(), created.end(), parent) == created.end() &&
        std::find(parents.begin(), parents.end(), parent) == parents.end())
      parents.push_back(parent);
  }
  created.insert(created.begin(), parents.begin(), parents.end());
}

void remove_created(const std::vector<std::string>& created, const std::set<std::string>& leaves) {
  std::string first_error;
  int first_errno = 0;
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    const std::string& dir = *it;
    if (!leaves.count(dir)) {
      // A parent we made ("/ocirun"): another container may live in it now.
      if (::rmdir(dir.c_str()) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY && !first_errno) {
        first_errno = errno;
        first_error = "rmdir " + dir;
      }
      continue;
    }
    // The container's cgroup: v1 refuses rmdir (EBUSY) until exiting tasks are released.
    int err = 0;
    for (int attempt = 0; attempt < 200; ++attempt) {
      err = rmdir_tree(dir);
      if (err != EBUSY && err != ENOTEMPTY) break;
      sleep_for(10ms);
    }
    if (err && !first_errno) {
      first_errno = err;
      first_error = "rmdir " + dir;
    }
  }
  if (first_errno) throw_errno(first_errno, first_error);
}

std::vector<pid_t> procs_recursive(const std::string& dir) {
  std::vector<pid_t> out;
  collect_procs(dir, out, true);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void add_pid(const Dir& dir, pid_t pid) {
  std::string value = std::to_string(pid);
  int err = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    err = dir.try_write("cgroup.procs", value);
    if (err != EINVAL) break;
    sleep_for(30ms);
  }
  if (err) throw_errno(err, fmt::format("add pid {} to {}/cgroup.procs", pid, dir.path()));
}

void add_self(const std::string& dir, const char* file) {
  // One open of the file itself: this runs once per hierarchy in every container's first process.
  const std::string path = dir + "/" + file;
  UniqueFd f(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!f || ::write(f.get(), "0", 1) != 1) throw_errno(fmt::format("join {}", path));
}

void signal_pids(const std::vector<pid_t>& pids, int sig) {
  int first_errno = 0;
  pid_t first_pid = 0;
  for (pid_t pid : pids) {
    if (::kill(pid, sig) < 0 && errno != ESRCH && !first_errno) {
      first_errno = errno;
      first_pid = pid;
    }
  }
  if (first_errno) throw_errno(first_errno, fmt::format("kill({}, {})", first_pid, sig));
}

void v2_freeze(const Dir& dir, bool frozen) {
  dir.write("cgroup.freeze", frozen ? "1" : "0");
  // The kernel reports completion in cgroup.events once every task has stopped.
  for (int i = 0; i < 5000; ++i) {
    bool now = false;
    if (!events_say_frozen(dir, &now)) return;  // no "frozen" key: nothing to wait for
    if (now == frozen) return;
    sleep_for(1ms);
  }
  if (frozen) dir.try_write("cgroup.freeze", "0");
  throw Error(ErrorKind::Syscall,
              fmt::format("{}: timed out waiting for cgroup.events frozen {}", dir.path(), frozen ? 1 : 0), ETIMEDOUT);
}

bool v2_frozen(const Dir& dir) {
  bool now = false;
  if (events_say_frozen(dir, &now)) return now;
  return fs::trim(dir.read("cgroup.freeze")) == "1";
}

void enable_controllers(const std::string& hierarchy_root, const std::string& rel,
                        const std::set<std::string>& controllers, const std::string& delegated) {
  if (controllers.empty()) return;
  std::vector<std::string> parts;
  for (auto& p : fs::split(rel, '/'))
    if (!p.empty()) parts.push_back(std::move(p));
  // The leaf itself needs the controller enabled in its parent only; it keeps its own
  // subtree_control empty so that it may hold processes.
  std::string dir = hierarchy_root;
  for (size_t i = 0; i < parts.size(); ++i) {
    Dir d = Dir::open(dir);
    std::set<std::string> enabled;
    for (const auto& c : fs::split(fs::trim(d.read("cgroup.subtree_control")), ' '))
      if (!c.empty()) enabled.insert(c[0] == '+' ? c.substr(1) : c);
    const bool ours = delegated.empty() || dir == delegated || dir.rfind(delegated + "/", 0) == 0;
    for (const auto& c : controllers) {
      if (enabled.count(c)) continue;
      if (!ours)
        fail(ErrorKind::Unsupported,
             fmt::format("the {} controller is not enabled in {}/cgroup.subtree_control, and systemd owns that "
                         "cgroup: only the unit's own cgroup {} is delegated (systemd enables the controllers it "
                         "manages for a unit with such limits)",
                         c, dir, delegated));
      if (int err = d.try_write("cgroup.subtree_control", "+" + c))
        throw_errno(err, fmt::format("enable the {} controller in {}/cgroup.subtree_control", c, dir));
    }
    dir += "/" + parts[i];
  }
}

std::string v2_controller_for(const std::string& v1_hierarchy) {
  static const std::set<std::string> same = {"memory", "cpu", "cpuset", "pids", "hugetlb", "rdma", "misc"};
  if (v1_hierarchy == "blkio") return "io";
  return same.count(v1_hierarchy) ? v1_hierarchy : "";
}

void ManagerBase::signal_each(int sig) {
  // An empty cgroup has no process left to fork: no freeze/thaw (a stopped container's
  // delete lands here, and the freezer costs two writes and IPIs for nothing).
  if (pids().empty()) return;
  // Frozen, no process can fork a child we would miss.
  bool froze = false;
  bool was_frozen = false;
  if (can_freeze()) {
    try {
      was_frozen = frozen();
      if (!was_frozen) {
        freeze(true);
        froze = true;
      }
    } catch (const Error&) {
      // Signal anyway: getting the signal out matters more than the race it closes.
    }
  }
  std::vector<pid_t> list;
  try {
    list = pids();
    signal_pids(list, sig);
  } catch (...) {
    if (froze || (was_frozen && sig == SIGKILL)) {
      try {
        freeze(false);
      } catch (const Error&) {
      }
    }
    throw;
  }
  // Thaw what we froze; for SIGKILL also a paused container, or its tasks never die.
  if (froze || (was_frozen && sig == SIGKILL)) freeze(false);
}

}  // namespace ocirun::cgroups::detail
