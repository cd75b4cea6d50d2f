/* A tiny spawn server for bench.py.
 *
 * A process spawned from Python inherits Python's memory map until it execs, and the kernel
 * folds that map's high-water RSS into the child's ru_maxrss (about 15 MiB), which would hide
 * the runtimes' own peak RSS. This server is static and small: it vfork()s and execs each
 * command, waits for it with wait4() and reports wall time and the rusage of its process tree.
 *
 * Protocol on stdin/stdout, one request per line, fields separated by a TAB:
 *   request:  ERRFILE \t ARG0 \t ARG1 ... \n       (ARG0 is a path; stdin/stdout are /dev/null)
 *   reply:    STATUS WALL_NS UTIME_US STIME_US MAXRSS_KIB \n
 * STATUS is the raw wait status, or -ERRNO if the command could not be started.
 * Built by bench.py with: cc -O2 -static -o spawn spawn.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
  static char line[65536];
  char *argv[256];
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) {
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n') line[--len] = 0;
    int argc = 0;
    char *save = NULL;
    char *errfile = strtok_r(line, "\t", &save);
    for (char *t; argc < 255 && (t = strtok_r(NULL, "\t", &save));) argv[argc++] = t;
    argv[argc] = NULL;
    if (!errfile || argc == 0) {
      printf("%d 0 0 0 0\n", -EINVAL);
      continue;
    }
    int errfd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (errfd < 0) {
      printf("%d 0 0 0 0\n", -errno);
      continue;
    }
    volatile int child_errno = 0;
    long long t0 = now_ns();
    pid_t pid = vfork();
    if (pid == 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(errfd, 2);
      execve(argv[0], argv, environ);
      child_errno = errno;
      _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    if (pid < 0) {
      status = -errno;
    } else {
      while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
      }
      if (child_errno) status = -child_errno;
    }
    long long t1 = now_ns();
    close(errfd);
    printf("%d %lld %lld %lld %ld\n", status, t1 - t0,
           (long long)ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
           (long long)ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, ru.ru_maxrss);
  }
  return 0;
}
