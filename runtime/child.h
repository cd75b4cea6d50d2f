// Steps shared by the processes that end in the container's execve: the init
// (create) and the processes of `exec`. They run after fork, end in execve or _exit.
#pragma once
#include <string>
#include <vector>

#include "process.h"
#include "seccomp.h"
#include "spec.h"
#include "unique_fd.h"

namespace ocirun::runtime {

// Sends Error(message) to the parent over the sync socket and exits.
[[noreturn]] void die_with_error(int sync_fd, const std::string& message);

void load_seccomp(const seccomp::Program& program);
// process.oomScoreAdj, written by a stage-1 process on itself through the host's procfs (`procfs`,
// from namespaces::open_procfs) before it joins the container: its fork inherits the value. Not
// later: lowering it needs CAP_SYS_RESOURCE in the host's user namespace, and once in a new one
// (after its setresuid, or non-dumpable) /proc/self belongs to the host's root; nor through
// the container's /proc, which is the container's to remount once it runs.
void write_oom_score_adj(int procfs, const PreparedProcess& p);
// load_seccomp, then a NOTIFY rule's listener fd goes at once to the parent over the sync
// socket, to pass on to listenerPath: the sendmsg doing it is the only syscall between the
// load and the hand-over, so a profile must not NOTIFY sendmsg.
void install_seccomp(const seccomp::Program& program, int sync_fd);

// Joins a session keyring named "_ses.ID" (runc's name), so the process cannot reach the keys
// of the caller's session. Without keyrings (ENOSYS), or where a seccomp profile or the kernel
// refuses keyctl (EPERM, EACCES), the process goes on without one.
void join_session_keyring(const std::string& container_id);

// A new pty from the devpts at /dev/pts (the container's, once inside it).
struct Pty {
  UniqueFd master;
  UniqueFd slave;
  std::string slave_path;
};
Pty open_pty(const std::optional<spec::ConsoleSize>& size);
// The slave becomes stdio and the controlling terminal of this (session leader) process,
// owned by `owner` (the process's uid; its group stays the one devpts gave it).
void attach_pty(const Pty& pty, uid_t owner);

// argv/envp for execve; the strings must outlive the result.
std::vector<char*> c_strings(const std::vector<std::string>& v);

}  // namespace ocirun::runtime
