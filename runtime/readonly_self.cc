#include "readonly_self.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include "error.h"
#include "unique_fd.h"

extern char** environ;

namespace ocirun::runtime {

namespace {

// From <linux/mount.h>, which clashes with glibc's <sys/mount.h>.
constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kMountAttrReadonly = 0x1, kMountAttrNosuid = 0x2, kMountAttrNodev = 0x4;
struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

// Set by the first run on the second: if the view still looks writable there, something is
// off, and looping would hide it.
constexpr char kReexecMarker[] = "_OCIRUN_READONLY_SELF";
constexpr int kWriteSeals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;

bool unwritable(int exe) {
  struct statvfs vfs;
  if (::fstatvfs(exe, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return true;
  int seals = ::fcntl(exe, F_GET_SEALS);
  return seals >= 0 && (seals & kWriteSeals) == kWriteSeals;
}

// A bind mount of just this file, made read-only while still detached, so it belongs to no
// mount namespace: once the fd is gone (closed by the execveat), it dissolves and nobody
// can remount it (mount_setattr and open_tree refuse a mount in no namespace), while the
// process's exe keeps the read-only mount alive. Costs microseconds, no copy.
UniqueFd readonly_bind_of_self() {
  UniqueFd tree(static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", kOpenTreeClone | O_CLOEXEC)));
  if (!tree) return tree;
  MountAttr attr{kMountAttrReadonly | kMountAttrNosuid | kMountAttrNodev, 0, 0, 0};
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) return UniqueFd();
  return tree;
}

// Without CAP_SYS_ADMIN (or open_tree, before Linux 5.12): a copy in a memfd sealed
// against writes, as runc 1.1 and crun do.
UniqueFd sealed_copy_of_self(int exe) {
  UniqueFd copy(::memfd_create("ocirun", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
  if (!copy && errno == EINVAL) copy.reset(::memfd_create("ocirun", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) return copy;
  for (off_t offset = 0;;) {
    ssize_t n = ::sendfile(copy.get(), exe, &offset, 1 << 30);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return UniqueFd();
    if (n == 0) break;
  }
  if (::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_SEAL | kWriteSeals) < 0) return UniqueFd();
  return copy;
}

[[noreturn]] void exec_from(int fd, char** argv) {
  ::setenv(kReexecMarker, "1", 1);
  ::syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
  throw_errno("run ocirun again from a read-only view of its binary");
}

}  // namespace

void reexec_from_readonly_view(char** argv) {
  const bool second_run = ::getenv(kReexecMarker) != nullptr;
  ::unsetenv(kReexecMarker);  // not for hooks or anything else this process starts
  UniqueFd exe(check(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC), "open /proc/self/exe"));
  if (unwritable(exe.get())) {
    // execveat names the process after the fd ("3"): give it its name back.
    if (second_run) ::prctl(PR_SET_NAME, "ocirun", 0, 0, 0);
    return;
  }
  if (second_run) fail(ErrorKind::Syscall, "the read-only view of the ocirun binary is writable");
  if (UniqueFd view = readonly_bind_of_self()) exec_from(view.get(), argv);
  if (UniqueFd copy = sealed_copy_of_self(exe.get())) exec_from(copy.get(), argv);
  throw_errno("make a read-only view of the ocirun binary (open_tree, memfd)");
}

}  // namespace ocirun::runtime
