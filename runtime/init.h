// The processes forked by `create`: stage 1 enters namespaces, the init (stage 2)
// builds the container and waits for `start`. Internal to the runtime.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cgroups.h"
#include "namespaces.h"
#include "process.h"
#include "seccomp.h"
#include "spec.h"
#include "unique_fd.h"

namespace ocirun::runtime {

// Everything the children need, prepared by the parent before fork: the children
// inherit it through fork's copy of memory.
struct InitContext {
  const spec::Spec* spec = nullptr;
  const namespaces::Plan* plan = nullptr;
  PreparedProcess process;
  std::optional<seccomp::Program> seccomp;  // compiled by the parent; the init only loads it
  std::string id;
  std::string rootfs;
  std::string bundle;
  std::string created;  // the state's creation time, for the hooks the init runs
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;       // fds 3 .. 3+preserve_fds-1 reach the process
  int sync_fd = -1;           // the children's end of the sync socket
  int start_listen_fd = -1;   // `start` connects here
  pid_t parent_pid = 0;
  bool creation_hooks = false;  // prestart/createRuntime/createContainer/startContainer exist
  // The container's cgroup, which stage 1 joins first thing (Manager::join_self), so the
  // init is born inside it; cgroup_v2_done: stage 1 was cloned into the cgroup2 directory.
  cgroups::Manager* cgroup = nullptr;
  bool cgroup_v2_done = false;
  const cgroups::Host* host = nullptr;  // the cgroup hierarchies, as create detected them
  // The parent's fds the children must not keep: the locked state dir (its flock
  // would block `start`) and the parent's end of the sync socket.
  std::vector<int> parent_only_fds;
  // In a user namespace: the bind sources the parent opened for the init (stage 1 receives
  // them; see sync.h), by index in spec.mounts.
  std::map<size_t, int> bind_source_fds;
};

// Entry points of the forked children: they end in execve or _exit, never return,
// so the parent's guards copied by fork never run in them.
[[noreturn]] void stage1_main(const InitContext& ctx);

// The init can be cloned by `create` itself, with the new namespaces as clone flags, when
// no process is needed in between: stage 1 exists for a user namespace (unshared, then
// mapped by the parent, before the rest), a pid namespace to join (setns(pid) moves only
// the children), a time namespace (offsets written before any process enters it), and the
// systemd driver (the parent puts stage 1 in the unit before it creates anything). One
// process fewer to fork and reap per container.
bool can_clone_init_directly(const namespaces::Plan& plan, bool systemd_cgroup);
int direct_init_clone_flags(const namespaces::Plan& plan);
// The directly cloned init: joins the cgroup (then makes the cgroup namespace) and the
// namespaces given by path, then goes on as the init.
[[noreturn]] void direct_init_main(const InitContext& ctx);

}  // namespace ocirun::runtime
