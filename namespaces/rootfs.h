// The container's root filesystem, built inside its new mount namespace:
// spec mounts in order, devices, pivot_root, then masked and read-only paths.
// Every destination is resolved inside the rootfs one component at a time, so a
// symlink or ".." in the rootfs can never make a mount land on the host.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "spec.h"
#include "unique_fd.h"

namespace ocirun::namespaces {

// A host cgroup hierarchy: mount point, fs type ("cgroup", "cgroup2"), super options
// without rw/ro ("cpu,cpuacct", "name=systemd", "").
struct CgroupMount {
  std::string mount_point, fstype, options;
};

struct RootfsOptions {
  std::string rootfs;  // absolute, symlinks resolved
  std::string bundle;  // relative bind sources are relative to it
  bool no_pivot = false;
  bool in_user_namespace = false;  // devices are bind-mounted, not created, and locked flags kept
  bool new_cgroup_namespace = false;
  // The host's hierarchies, for a "cgroup" mount, when the caller knows them already;
  // otherwise read from /proc/self/mountinfo.
  std::optional<std::vector<CgroupMount>> host_cgroups;
  // Bind sources `create` opened for the init (index in spec.mounts -> O_PATH fd): in a user
  // namespace the container's root may not reach what the host's root can.
  std::map<size_t, int> bind_source_fds;
};

bool is_bind_mount(const spec::Mount& m);
// A bind mount's source, opened O_PATH under `root` (an fd of "/": the caller's, or another
// mount namespace's through /proc/PID/root): an absolute source resolved as if `root` were
// "/"; a relative one inside the bundle, no symlink or ".." leading out of it.
UniqueFd open_bind_source(int root, const spec::Mount& m, const std::string& bundle);

// Opens (O_PATH) the path inside the directory `root`, following symlinks as if
// `root` were "/", and never leaving it. Missing directories are created when
// `create` is Dir; with File the last component is created as an empty file.
enum class Create { None, Dir, File };
UniqueFd open_in_root(int root, const std::string& path, Create create);
// The same without creating anything; a missing component (ENOENT) gives an invalid fd
// rather than an Error.
UniqueFd open_in_root_if_exists(int root, const std::string& path);

// Parses mount options into flags and filesystem data ("size=64m,mode=755").
struct MountFlags {
  unsigned long flags = 0;        // MS_* to set
  unsigned long clear = 0;        // MS_* an option clears (rw, suid, ...)
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  bool bind = false, recursive = false;
  // The recursive options (rro, rnosuid, ...): MOUNT_ATTR_* set and cleared on the mount and
  // every mount below it, by mount_setattr(AT_RECURSIVE), as runc 1.1 does.
  uint64_t recursive_set = 0, recursive_clear = 0;
  std::string data;  // options for the filesystem itself (size=, mode=, ...), comma-separated
};
MountFlags parse_mount_options(const std::vector<std::string>& options);
unsigned long parse_propagation(const std::string& name);  // "" -> 0; throws on unknown

// Steps 1-3: propagation, every spec mount, default and spec devices, then pivot_root
// (or MS_MOVE + chroot). Runs in the container's init with the host's /proc still visible.
// `before_pivot` runs with every mount in place and the host still visible (the
// createRuntime and createContainer hooks' moment).
void mount_rootfs(const spec::Spec& spec, const RootfsOptions& opts, const std::function<void()>& before_pivot = {});

// Without a mount namespace of the container's own: the rootfs becomes the root by chroot
// (as runc and crun), nothing mounted. `before_chroot` runs in the rootfs, as before_pivot.
void chroot_into(const std::string& rootfs, const std::function<void()>& before_chroot = {});

// Creates the process's cwd inside the rootfs when missing (as runc does); call before pivot.
void create_cwd(const std::string& rootfs, const std::string& cwd);

// After pivot_root: masked paths, read-only paths, read-only root, final propagation.
void finish_rootfs(const spec::Spec& spec, const RootfsOptions& opts);

// Bind-mounts the pty slave at /dev/console (after pivot_root), through the slave fd
// once it is checked to be the devpts peer of `master`.
void mount_console(int master, int slave);

// process.cwd, resolved inside the container's root (after pivot_root) and opened; then
// entered and checked to be inside the root (CVE-2024-21626). try_enter_cwd runs while still
// privileged and returns false when permission is denied (the process user may still have
// it: enter_cwd again after the switch, as runc does); other failures throw.
UniqueFd open_cwd(const std::string& cwd);
bool try_enter_cwd(int cwd_fd, const std::string& cwd);
void enter_cwd(int cwd_fd, const std::string& cwd);

// The container's /proc (after pivot_root), checked to be the root of a procfs; writes to
// /proc go below it, on procfs, never across a mount (CVE-2025-52881 class).
UniqueFd open_procfs();
UniqueFd open_proc_file(int procfs, const std::string& path, int flags);  // path: "self/oom_score_adj"
void write_proc_file(int procfs, const std::string& path, const std::string& value);

}  // namespace ocirun::namespaces
