// syscall_probe NAME: makes the one syscall NAME with harmless arguments and exits with its
// errno (0 when it succeeds), 100 for an unknown name. Static, and nothing else is called
// after the C runtime's start-up: a seccomp test sees exactly what the filter did to NAME.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static long probe(const char* name) {
  static char buf[4096];
  static struct stat st;
  static sigset_t set;
  if (!strcmp(name, "getcwd")) return syscall(SYS_getcwd, buf, sizeof buf);
  if (!strcmp(name, "close")) return syscall(SYS_close, 1000);  // EBADF when allowed
  if (!strcmp(name, "fstat")) return syscall(SYS_fstat, 0, &st);
  if (!strcmp(name, "fcntl")) return syscall(SYS_fcntl, 0, F_GETFD);
  if (!strcmp(name, "write")) return syscall(SYS_write, 1, "", 0);
  if (!strcmp(name, "getpid")) return syscall(SYS_getpid);
  if (!strcmp(name, "rt_sigprocmask")) return syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &set, 8);
  if (!strcmp(name, "prctl")) return syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (!strcmp(name, "close_range")) return syscall(SYS_close_range, 1000, 1001, 0);
  errno = 0;
  return -2;
}

int main(int argc, char** argv) {
  if (argc != 2) return 100;
  long rc = probe(argv[1]);
  if (rc == -2 && errno == 0) return 100;
  return rc < 0 ? errno : 0;
}
