// load() runs in the container's init between fork and execve: it touches only
// the already-built program and makes one raw syscall.
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "seccomp.h"

namespace ocirun::seccomp {

LoadResult load(const Program& program) noexcept {
  if (program.bpf.empty() || program.bpf.size() > BPF_MAXINSNS) return {-1, EINVAL};
  struct sock_fprog prog = {
      .len = static_cast<unsigned short>(program.bpf.size()),
      .filter = const_cast<struct sock_filter*>(program.bpf.data()),
  };
  // seccomp(2), not prctl(PR_SET_SECCOMP): only it takes flags and returns the listener.
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog);
  if (rc < 0) return {-1, errno};
  return {program.needs_listener ? static_cast<int>(rc) : -1, 0};
}

}  // namespace ocirun::seccomp
