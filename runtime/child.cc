#include "child.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "error.h"
#include "fs.h"
#include "rootfs.h"
#include "sync.h"

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

namespace ocirun::runtime {

void die_with_error(int sync_fd, const std::string& message) {
  try {
    sync::send(sync_fd, sync::Msg::Error, 0, message);
  } catch (...) {
  }
  _exit(1);
}

void load_seccomp(const seccomp::Program& program) {
  seccomp::LoadResult r = seccomp::load(program);
  if (!r.ok()) throw_errno(r.err, "load the seccomp filter");
}

void write_oom_score_adj(int procfs, const PreparedProcess& p) {
  if (!p.oom_score_adj) return;
  with_context("process.oomScoreAdj",
               [&] { namespaces::write_proc_file(procfs, "self/oom_score_adj", std::to_string(*p.oom_score_adj)); });
}

void install_seccomp(const seccomp::Program& program, int sync_fd) {
  seccomp::LoadResult r = seccomp::load(program);
  if (!r.ok()) throw_errno(r.err, "load the seccomp filter");
  if (r.listener_fd < 0) return;
  UniqueFd listener(r.listener_fd);
  sync::send(sync_fd, sync::Msg::SeccompListener, 0, {}, listener.get());
}

void join_session_keyring(const std::string& container_id) {
  std::string name = "_ses." + container_id;
  if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str()) < 0 && errno != ENOSYS && errno != EPERM &&
      errno != EACCES)
    throw_errno("join a session keyring");
}

Pty open_pty(const std::optional<spec::ConsoleSize>& size) {
  Pty pty;
  pty.master.reset(check(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), "open /dev/ptmx"));
  check(::unlockpt(pty.master.get()), "unlockpt");
  char name[128];
  if (::ptsname_r(pty.master.get(), name, sizeof name) != 0) throw_errno("ptsname");
  pty.slave_path = name;
  if (size) {
    winsize ws{static_cast<unsigned short>(size->height), static_cast<unsigned short>(size->width), 0, 0};
    ::ioctl(pty.master.get(), TIOCSWINSZ, &ws);
  }
  pty.slave.reset(check(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC), std::string("open ") + name));
  return pty;
}

void attach_pty(const Pty& pty, uid_t owner) {
  // The user must be able to use its terminal (runc's fixStdioPermissions): only the uid
  // changes, as devpts's gid= option (the "tty" group) chose the group. An owner outside
  // the user namespace's map, or a read-only /dev, leave the pty as it is, as with runc.
  if (::fchown(pty.slave.get(), owner, static_cast<gid_t>(-1)) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
    throw_errno("chown the terminal to uid " + std::to_string(owner));
  for (int fd = 0; fd <= 2; ++fd) check(::dup2(pty.slave.get(), fd), "dup2 the pty onto stdio");
  check(::ioctl(0, TIOCSCTTY, 0), "make the pty the controlling terminal");
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace ocirun::runtime
