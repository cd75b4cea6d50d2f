// Linux control groups for ocirun: host detection, the cgroupsPath rule, the pure
// translation of linux.resources into cgroup file writes, and one Manager per
// container over cgroup v1, v2, or hybrid (v1 controllers + a cgroup2 mount).
//
// Errors are ocirun::Error (runtime/base/error.h):
//   Unsupported  the host lacks what a set field needs ("linux.resources.pids: ... no pids controller")
//   InvalidSpec  the values cannot be applied on any host (swap < limit, bad device rule, bad path)
//   Syscall      a cgroupfs operation failed; sys_errno() says why, the message names the file
//
// Every driver takes its hierarchy roots from Host, so tests run against a temp
// directory that mimics cgroupfs (create the files first, as the kernel would).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "spec.h"

namespace ocirun::cgroups {

// ---------------------------------------------------------------------------
// The host
// ---------------------------------------------------------------------------

enum class Layout {
  V1,      // only v1 hierarchies under root
  V2,      // root itself is cgroup2
  Hybrid,  // v1 hierarchies + a cgroup2 mount under root (usually <root>/unified)
};

struct Host {
  Layout layout = Layout::V2;
  std::string root = "/sys/fs/cgroup";
  // v1 hierarchy name -> mount point. Co-mounted controllers ("cpu,cpuacct") map to the
  // same directory; named hierarchies keep their "name=" prefix ("name=systemd").
  std::map<std::string, std::string> v1;
  // The cgroup2 mount point: root on V2, e.g. root + "/unified" on Hybrid, "" on V1.
  std::string v2;
  // Controllers <v2>/cgroup.controllers offers (on this host's hybrid mount: only hugetlb).
  std::set<std::string> v2_controllers;
  // This process's own cgroup, from /proc/self/cgroup: v1 hierarchy name -> path, and
  // "" -> the v2 path. Relative cgroupsPaths are resolved under these.
  std::map<std::string, std::string> self;

  bool has_v1(const std::string& hierarchy) const { return v1.count(hierarchy) != 0; }
  bool has_v2(const std::string& controller) const { return !v2.empty() && v2_controllers.count(controller) != 0; }
  // This process's cgroup in a hierarchy ("" = v2); "/" when unknown.
  std::string self_path(const std::string& hierarchy) const;
};

// Pure: builds a Host from /proc/self/mountinfo and /proc/self/cgroup text. Only mounts
// under `root` count. A cgroup2 mount at root -> V2; v1 mounts plus a cgroup2 mount below
// root -> Hybrid; v1 mounts only -> V1. v2_controllers is left empty (it needs the file).
// Throws Unsupported when no cgroup filesystem is mounted under root.
Host parse_host(std::string_view mountinfo, std::string_view proc_self_cgroup, const std::string& root);

// statfs(root) + /proc/self/mountinfo + /proc/self/cgroup + <v2>/cgroup.controllers.
Host detect_host(const std::string& root = "/sys/fs/cgroup");

// linux.cgroupsPath -> an absolute path inside each hierarchy:
//   ""      -> "/ocirun/<id>"
//   "/a/b"  -> "/a/b" (relative to each hierarchy's root)
//   "a/b"   -> <self>/a/b, under the caller's own cgroup in that hierarchy (runc's rule)
//   "slice:prefix:name" (systemd driver form) -> Unsupported: needs a systemd driver.
// "." and empty components are dropped; ".." is InvalidSpec; so is a path that is the root.
std::string resolve_path(std::string_view cgroups_path, std::string_view id, std::string_view self = "/");

// ---------------------------------------------------------------------------
// Pure translation: linux.resources -> file writes, in the order they must happen
// ---------------------------------------------------------------------------

struct FileWrite {
  // v1: the hierarchy that owns the file ("memory", "cpu", "cpuset", "blkio", ...).
  // v2: the controller that must be enabled for the file ("memory", "io", ...), "" for
  //     the core cgroup.* files.
  std::string controller;
  std::string file;   // "memory.limit_in_bytes"
  std::string value;  // written as is, one write() per FileWrite
  bool operator==(const FileWrite&) const = default;
};

// Unset fields produce no write. Where runc treats 0 as "unset" (memory limit/reservation/
// swap, cpu shares/quota/period/realtime, blkio weight) so do these. Warnings (ignored
// fields such as memory.kernel) go to *warnings, or to stderr when warnings is null.
//   v1 only:  swappiness, disableOOMKiller (memory.oom_control=1), realtime, network, devices
//   v2:       swap is memory+swap in the spec, so memory.swap.max = swap - limit (runc's
//             rules); realtime and network are Unsupported; swappiness, disableOOMKiller
//             and leaf weights are ignored; devices are ignored for now:
//             TODO(v2-devices-ebpf): v2 device rules need a BPF_CGROUP_DEVICE program.
//   pids:     limit > 0 -> "N", 0 -> "1", < 0 -> "max" (runtime-spec after #1279, runc 1.4,
//             youki: 0 is a real limit and the kernel treats 0 and 1 alike).
// translate_v1 refuses a non-empty `unified` (Unsupported).
std::vector<FileWrite> translate_v1(const spec::Resources&, std::vector<std::string>* warnings = nullptr);
std::vector<FileWrite> translate_v2(const spec::Resources&, std::vector<std::string>* warnings = nullptr);

// cpu.shares [2, 262144] -> cpu.weight [1, 10000] by the quadratic in log2(shares) that
// runc (opencontainers/cgroups), crun and youki share: 2 -> 1, 1024 -> 100, 262144 -> 10000.
// 0 stays 0 ("unset").
uint64_t cpu_shares_to_weight(uint64_t shares);
// blkio.weight [10, 1000] -> io.weight [1, 10000], linearly (runc). 0 stays 0.
uint64_t blkio_weight_to_io_weight(uint64_t weight);

// The spec field a v1 hierarchy or v2 controller serves, for messages:
// "memory" -> "linux.resources.memory", "blkio"/"io" -> "linux.resources.blockIO".
std::string resource_field(const std::string& controller);

// ---------------------------------------------------------------------------
// A container's cgroup
// ---------------------------------------------------------------------------

// What a later command needs to reopen the cgroup exactly (store it in the container state):
// `dirs` because relative cgroupsPaths depend on the caller's own cgroup, `created` because
// destroy() removes only directories this runtime made.
struct Saved {
  std::string path;                         // the resolved cgroupsPath (see Manager::path)
  std::map<std::string, std::string> dirs;  // hierarchy ("" = v2/unified) -> absolute directory
  std::vector<std::string> created;         // directories create() made, parents first
};

class Manager {
 public:
  virtual ~Manager() = default;

  // mkdir the cgroup in every hierarchy (v1: each mounted one, named ones included;
  // hybrid: also in the unified mount). Remembers which directories it made. On v1,
  // initialises empty cpuset.cpus/cpuset.mems along the path from the parent (as runc).
  // Rolls back its own mkdirs if it fails.
  virtual void create() = 0;
  // Writes the limits through a dirfd per hierarchy (openat + write). Checks every
  // controller before the first write: a set field whose controller is missing throws
  // Unsupported naming the field and the controller. v2: enables the controllers the
  // writes need in the ancestors' cgroup.subtree_control (only those).
  virtual void apply(const spec::Resources&) = 0;
  // Writes pid to cgroup.procs (v1: every hierarchy; hybrid: also the unified one).
  virtual void add_process(pid_t pid) = 0;
  // v1 freezer.state FROZEN/THAWED, waiting until FROZEN; v2 cgroup.freeze, waiting for
  // cgroup.events "frozen 1". Hybrid without a v1 freezer uses the unified cgroup.
  virtual void freeze(bool frozen) = 0;
  virtual bool frozen() const = 0;
  // Every process in the cgroup and its descendants.
  virtual std::vector<pid_t> pids() const = 0;
  // SIGKILL through cgroup.kill where the kernel has it (v2, or the unified cgroup on
  // hybrid); otherwise freeze, signal each pid, thaw (thaws for SIGKILL even if it was
  // paused, so the processes can die). ESRCH is not an error.
  virtual void kill_all(int sig) = 0;
  // rmdir what create() made, deepest first. The container's own directory goes with any
  // sub-cgroups the container made inside it, retrying EBUSY briefly (exiting tasks);
  // a parent we made that is still in use (another container) is left in place.
  // Never touches directories it did not create.
  virtual void destroy() = 0;
  // The resolved cgroupsPath ("/ocirun/<id>"). For a relative path on v1, each hierarchy
  // may resolve differently: this is the v2 one (hybrid, v2) or the memory one; dirs in
  // saved() is exact.
  virtual std::string path() const = 0;
  virtual Saved saved() const = 0;
};

// A Manager for the container; call create() before apply()/add_process(). Without
// create() it operates on an existing cgroup (pause/kill/pids from a later command), and
// destroy() removes nothing: use reopen() to delete a container made by another process.
std::unique_ptr<Manager> open(const Host& host, const std::string& cgroups_path, const std::string& id);
// Reopens the cgroup a previous process described with Manager::saved().
std::unique_ptr<Manager> reopen(const Host& host, const Saved& saved);

}  // namespace ocirun::cgroups
