#include "hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "child.h"
#include "error.h"
#include "fs.h"
#include "log.h"
#include "unique_fd.h"

namespace ocirun::runtime {

namespace {

constexpr size_t kMaxOutput = 4096;

// runc's words for a failed hook ("error running hook: signal: bad system call"): scripts and
// runc's own tests look for them. The signal's name is strsignal's, lowercased as Go prints it.
std::string describe_status(int status) {
  if (!WIFSIGNALED(status)) return fmt::format("error running hook: exit status {}", WEXITSTATUS(status));
  return fmt::format("error running hook: signal: {}{}", fs::lower_first(::strsignal(WTERMSIG(status))),
                     WCOREDUMP(status) ? " (core dumped)" : "");
}

// Reads what the hook printed (bounded) until it closes its output or exits.
std::string drain(int fd) {
  std::string out;
  char buf[1024];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    if (out.size() < kMaxOutput) out.append(buf, static_cast<size_t>(std::min<size_t>(n, kMaxOutput - out.size())));
  return out;
}

// A hook gets stdin, stdout and stderr only: not an fd the caller left open, nor the
// --preserve-fds and LISTEN_FDS meant for the container's process. Runs in the forked child.
void close_inherited_fds() {
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
  // Without close_range (an old kernel, or a seccomp filter that denies it): one by one.
  for (long fd = 3, max = ::sysconf(_SC_OPEN_MAX); fd < max; ++fd) ::close(static_cast<int>(fd));
}

void run_one(const spec::Hook& hook, const std::string& state_json, const std::string& what, const std::string& cwd) {
  // stdin is a socket: the state is sent with MSG_NOSIGNAL, so a hook that never
  // reads it cannot kill us with SIGPIPE.
  int in[2], out[2];
  check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in), what + ": socketpair");
  UniqueFd in_ours(in[0]), in_theirs(in[1]);
  check(::pipe2(out, O_CLOEXEC), what + ": pipe");
  UniqueFd out_read(out[0]), out_write(out[1]);

  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  auto argv = c_strings(args);
  auto envp = c_strings(hook.env);
  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
  if (pid < 0) throw_errno(what + ": fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(in_theirs.get(), 0);
    ::dup2(out_write.get(), 1);
    ::dup2(out_write.get(), 2);
    close_inherited_fds();
    if (!cwd.empty() && ::chdir(cwd.c_str()) < 0) {
      dprintf(2, "chdir %s: %s", cwd.c_str(), strerror(errno));
      _exit(127);
    }
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    dprintf(2, "exec %s: %s", hook.path.c_str(), strerror(errno));
    _exit(127);
  }
  in_theirs.reset();
  out_write.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ::send(in_ours.get(), state_json.data(), state_json.size(), MSG_NOSIGNAL);
  in_ours.reset();

  // The timeout covers the whole run; the output is read after the hook closes it.
  pollfd p{pidfd.get(), POLLIN, 0};
  int timeout_ms = hook.timeout ? *hook.timeout * 1000 : -1;
  int ready = 1;  // no pidfd (a seccomp filter may deny pidfd_open): wait without a timeout
  while (pidfd && (ready = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (ready == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    fail(ErrorKind::Syscall, fmt::format("{}: timed out after {} s", what, *hook.timeout));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);  // a background child of the hook may hold it open
  std::string output = drain(out_read.get());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string msg = fmt::format("{}: {}", what, describe_status(status));
    if (!output.empty()) msg += ": " + output;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    fail(ErrorKind::Syscall, msg);
  }
}

}  // namespace

void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& state_json, const char* phase,
               const std::string& cwd) {
  for (size_t i = 0; i < hooks.size(); ++i)
    run_one(hooks[i], state_json, fmt::format("{} hook {} ({})", phase, i, hooks[i].path), cwd);
}

void run_hooks_warn_only(const std::vector<spec::Hook>& hooks, const std::string& state_json, const char* phase) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    try {
      run_one(hooks[i], state_json, fmt::format("{} hook {} ({})", phase, i, hooks[i].path), "");
    } catch (const Error& e) {
      log::warn(e.what());
    }
  }
}

}  // namespace ocirun::runtime
