// Internal to the cgroups module: cgroupfs operations shared by the v1 and v2 drivers.
#pragma once
#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "cgroups.h"
#include "unique_fd.h"

namespace ocirun::cgroups::detail {

// One cgroup directory, opened once; its files are read and written relative to the fd,
// so a rename of the path cannot redirect a write half way through apply().
class Dir {
 public:
  static Dir open(const std::string& path);
  const std::string& path() const { return path_; }

  // One write() of the whole value, as cgroupfs expects. Returns 0 or the errno.
  int try_write(const std::string& file, const std::string& value) const;
  // Throws Syscall: write "value" to <path>/<file>: <strerror>.
  void write(const std::string& file, const std::string& value) const;
  std::string read(const std::string& file) const;
  bool has(const std::string& file) const;

 private:
  Dir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// mkdir each missing component of `rel` under `base` (which must exist), appending the
// directories it made to `created`, parents first. A parent that vanishes meanwhile (the
// last user of a shared parent removed it) is made again.
void make_path(const std::string& base, const std::string& rel, std::vector<std::string>& created);
// The directories make_path(base, rel, ...) would make now: each component of `rel` under
// `base` from the first that does not exist, parents first, appended to `out`.
void missing_path(const std::string& base, const std::string& rel, std::vector<std::string>& out);

// The default cgroupsPath puts every container in one parent, "/ocirun", that no single
// container owns: whichever made it may leave first, while others still use it. So every
// container counts it among the directories it created (in front, parents first), and
// destroy() tries rmdir on it: the kernel refuses while another container's cgroup is
// inside (EBUSY/ENOTEMPTY, left alone), so the last one out removes it. A container
// creating its cgroup meanwhile sees ENOENT and makes the parent again (make_path).
void add_shared_parents(const std::vector<std::string>& leaves, std::vector<std::string>& created);

// Removes `created` deepest first. Directories in `leaves` (the container's own cgroups)
// go with their sub-cgroups, retrying EBUSY while exiting tasks leave; any other created
// directory is a parent we made and is left alone if still in use.
void remove_created(const std::vector<std::string>& created, const std::set<std::string>& leaves);

// Every pid in cgroup.procs of `dir` and of its descendants.
std::vector<pid_t> procs_recursive(const std::string& dir);
// Writes pid to cgroup.procs, retrying EINVAL briefly (a task still in TASK_NEW).
void add_pid(const Dir& dir, pid_t pid);
// Writes "0" to `file` ("tasks" or "cgroup.procs") of `dir`: the calling thread joins it.
void add_self(const std::string& dir, const char* file);
// kill() each pid; ESRCH (already gone) is fine. Throws the first other failure.
void signal_pids(const std::vector<pid_t>& pids, int sig);

// cgroup v2 core files.
void v2_freeze(const Dir& dir, bool frozen);  // cgroup.freeze + wait for cgroup.events
bool v2_frozen(const Dir& dir);
// Enables `controllers` in cgroup.subtree_control of `hierarchy_root` and each ancestor of
// the leaf at `hierarchy_root + rel`, where not enabled yet. Above `delegated` (a directory;
// empty: none) nothing is written: a controller not enabled there is Unsupported.
void enable_controllers(const std::string& hierarchy_root, const std::string& rel,
                        const std::set<std::string>& controllers, const std::string& delegated = {});

// Stats readers (stats.cc). Each opens its directory (Syscall if it is gone) and fills its
// part of Stats; files the host lacks are skipped. v1_cpu_stats takes "" for a hierarchy
// that is not mounted.
void v1_cpu_stats(const std::string& cpu_dir, const std::string& cpuacct_dir, Stats& out);
void v1_memory_stats(const std::string& dir, Stats& out);
void v1_blkio_stats(const std::string& dir, Stats& out);
void v1_hugetlb_stats(const std::string& dir, Stats& out);
void pids_stats(const std::string& dir, Stats& out);  // v1 and v2 alike
void v2_cpu_stats(const std::string& dir, Stats& out);
void v2_memory_stats(const std::string& dir, Stats& out);
void v2_io_stats(const std::string& dir, Stats& out);
void v2_hugetlb_stats(const std::string& dir, Stats& out);
uint64_t v1_oom_kills(const std::string& memory_dir);
uint64_t v2_oom_kills(const std::string& dir);

// The v2 controller that replaces a v1 hierarchy ("blkio" -> "io"), "" if none.
std::string v2_controller_for(const std::string& v1_hierarchy);

std::unique_ptr<Manager> make_v1(const Host& host, const std::string& cgroups_path, const std::string& id);
std::unique_ptr<Manager> make_v1(const Host& host, const Saved& saved);
std::unique_ptr<Manager> make_v2(const Host& host, const std::string& cgroups_path, const std::string& id);
std::unique_ptr<Manager> make_v2(const Host& host, const Saved& saved);
// systemd.cc: a unit an earlier command started (saved.systemd_unit is set).
std::unique_ptr<Manager> reopen_systemd(const Host& host, const Saved& saved);

// Shared by both drivers: signal every process, frozen so nothing forks meanwhile.
class ManagerBase : public Manager {
 protected:
  virtual bool can_freeze() const = 0;
  void signal_each(int sig);
};

}  // namespace ocirun::cgroups::detail
