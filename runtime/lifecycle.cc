// start, run, state, kill, delete, list: the commands that act on an existing container.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fmt/format.h>

#include "container.h"
#include "foreground.h"
#include "hooks.h"
#include "error.h"
#include "fault.h"
#include "fs.h"
#include "log.h"
#include "unix_socket.h"

namespace ocirun::runtime {

namespace {

// Every process in the container's pid namespace (the init's, when it has its own).
std::vector<pid_t> container_pids(const ContainerState& s) {
  std::vector<pid_t> pids;
  struct stat init_ns;
  if (!s.has_pid_namespace || ::stat(fmt::format("/proc/{}/ns/pid", s.pid).c_str(), &init_ns) < 0) return {s.pid};
  DIR* d = ::opendir("/proc");
  if (!d) throw_errno("open /proc");
  while (auto* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    struct stat ns;
    if (pid > 0 && ::stat(fmt::format("/proc/{}/ns/pid", pid).c_str(), &ns) == 0 && ns.st_ino == init_ns.st_ino &&
        ns.st_dev == init_ns.st_dev)
      pids.push_back(pid);
  }
  ::closedir(d);
  return pids;
}

void signal_container(const ContainerState& s, int sig, bool all) {
  UniqueFd init = open_init_pidfd(s);
  // "container not running": containerd's shim ignores exactly this text when it kills
  // a container that has just exited (StopPodSandbox, RemovePodSandbox), as runc says it.
  if (!init) fail(ErrorKind::BadState, "cannot signal container " + s.id + ": container not running");
  if (sig == 0) {
    // kill(2)'s signal 0, as runc takes it: nothing is sent, the init is checked to exist and
    // to be ours to signal. With --all too: what it asks is whether the container runs, and
    // walking the cgroup would freeze and thaw it for nothing.
    if (::syscall(SYS_pidfd_send_signal, init.get(), 0, nullptr, 0) < 0) {
      if (errno == ESRCH) fail(ErrorKind::BadState, "cannot signal container " + s.id + ": container not running");
      throw_errno(fmt::format("signal 0 to {}", s.pid));
    }
    return;
  }
  if (all) {
    if (auto cg = container_cgroup(s)) {
      cg->kill_all(sig);
      return;
    }
    for (pid_t pid : container_pids(s))
      if (pid != s.pid) ::kill(pid, sig);
  }
  if (::syscall(SYS_pidfd_send_signal, init.get(), sig, nullptr, 0) < 0 && errno != ESRCH)
    throw_errno(fmt::format("send signal {} to {}", sig, s.pid));
}

// `kill --all` of a stopped container: the processes left in its cgroup, if it still has one.
void signal_leftovers(const ContainerState& s, int sig) {
  auto cg = container_cgroup(s);
  if (!cg || sig == 0) return;
  try {
    cg->kill_all(sig);
  } catch (const Error& e) {
    if (e.sys_errno() != ENOENT) throw;  // removed by a delete meanwhile: nothing left
  }
}

// Waits until the init has exited (it may not be our child to waitpid).
void wait_gone(const ContainerState& s) {
  UniqueFd init = open_init_pidfd(s);
  if (!init) return;
  pollfd p{init.get(), POLLIN, 0};
  while (::poll(&p, 1, 10000) < 0 && errno == EINTR) {
  }
}

int exit_code(int status) {
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

void block_forwarded_signals(sigset_t& forwarded, sigset_t& old) {
  sigemptyset(&forwarded);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD, SIGPIPE, SIGALRM, SIGCONT, SIGTSTP})
    sigaddset(&forwarded, sig);
  ::sigprocmask(SIG_BLOCK, &forwarded, &old);
}

int wait_forwarding_signals(pid_t pid, const sigset_t& forwarded) {
  int status = 0;
  for (;;) {
    int sig = ::sigwaitinfo(&forwarded, nullptr);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(pid, sig);
      continue;
    }
    // Reap every exited child (with CLONE_PARENT, stage 1 processes are ours too).
    for (pid_t r; (r = ::waitpid(-1, &status, WNOHANG)) > 0;)
      if (r == pid) return exit_code(status);
  }
}

namespace {

void copy_window_size(int from, int to) {
  winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// Puts a terminal in raw mode for the life of the object, so keys reach the container.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd, &saved_) != 0) {
      fd_ = -1;
      return;
    }
    termios raw = saved_;
    ::cfmakeraw(&raw);
    ::tcsetattr(fd, TCSANOW, &raw);
  }
  ~RawTerminal() {
    if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
  }

 private:
  int fd_;
  termios saved_{};
};

// Copies everything readable from `from` to `to`; false at EOF or error.
bool pump(int from, int to) {
  char buf[8192];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += w;
  }
  return true;
}

}  // namespace

int proxy_terminal_and_wait(pid_t pid, int master, const sigset_t& forwarded) {
  UniqueFd sigfd(check(::signalfd(-1, &forwarded, SFD_CLOEXEC), "signalfd"));
  RawTerminal raw(STDIN_FILENO);
  copy_window_size(STDIN_FILENO, master);
  bool stdin_open = true, master_open = true;
  int status = 0;
  for (;;) {
    pollfd fds[3] = {{sigfd.get(), POLLIN, 0}, {master, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int n = ::poll(fds, stdin_open ? 3 : 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (master_open && fds[1].revents & (POLLIN | POLLHUP)) master_open = pump(master, STDOUT_FILENO);
    if (!master_open) fds[1].fd = -1;
    if (stdin_open && fds[2].revents & (POLLIN | POLLHUP)) stdin_open = pump(STDIN_FILENO, master);
    if (!(fds[0].revents & POLLIN)) continue;
    signalfd_siginfo info;
    if (::read(sigfd.get(), &info, sizeof info) != sizeof info) continue;
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGWINCH) {
      copy_window_size(STDIN_FILENO, master);
    } else if (sig != SIGCHLD) {
      ::kill(pid, sig);
    } else {
      for (pid_t r; (r = ::waitpid(-1, &status, WNOHANG)) > 0;)
        if (r == pid) {
          while (master_open && pump(master, STDOUT_FILENO)) {
          }
          return exit_code(status);
        }
    }
  }
}

void start_container(const StateStore& store, const std::string& id) {
  log::StepTimer timer("start " + id);
  ContainerDir dir = store.open(id);
  ContainerState s = dir.load();
  Status status = dir.status(s);
  if (status != Status::Created)
    fail(ErrorKind::BadState, fmt::format("cannot start container {}: it is {}, not created", id, to_string(status)));
  if (s.no_process) fail(ErrorKind::InvalidSpec, fmt::format("cannot start container {}: {}", id, kNoProcessError));
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr = socket_address_in(dir.fd(), kStartSocket);
  check(::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "connect to the container init");
  OCIRUN_CRASH_POINT("start-connected");  // the init sees EOF and waits for the next start
  check(::send(sock.get(), "s", 1, MSG_NOSIGNAL), "signal the container init");
  log::debug("init: closing the pipe to signal completion");  // runc's --debug words
  // EOF means execve succeeded (the connection was close-on-exec); text is its error.
  std::string reply;
  char buf[512];
  for (ssize_t n; (n = ::read(sock.get(), buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  timer.step("init execs the process");
  OCIRUN_CRASH_POINT("start-replied");  // the program runs, the socket is still there
  // The socket gone is what tells `created` from `running` (ContainerDir::status): no
  // second state.json write (two ext4 metadata operations, ~1.4 ms on this host's /run).
  if (::unlinkat(dir.fd(), kStartSocket, 0) < 0 && errno != ENOENT) {
    s.started = true;  // keep the record straight some other way
    dir.save(s);
  }
  OCIRUN_CRASH_POINT("start-unlinked");
  if (!reply.empty()) fail(ErrorKind::Syscall, "start container " + id + ": " + reply);
  run_hooks_warn_only(s.poststart, oci_state_json(s, Status::Running), "poststart");
}

int run_container(const StateStore& store, const CreateOptions& opts, bool detach, bool keep) {
  sigset_t forwarded, old;
  // Blocked before create so no signal or child exit is missed; the children unblock.
  block_forwarded_signals(forwarded, old);
  CreateOptions create_opts = opts;
  create_opts.foreground_terminal = !detach && opts.console_socket.empty();
  Created created = create_container(store, create_opts);
  try {
    start_container(store, opts.id);
  } catch (...) {
    try {
      delete_container(store, opts.id, true);
    } catch (...) {
    }
    throw;
  }
  if (detach) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return 0;
  }
  int code;
  if (created.pty_master >= 0) {
    UniqueFd master(created.pty_master);
    ::fcntl(master.get(), F_SETFL, O_NONBLOCK);
    code = proxy_terminal_and_wait(created.pid, master.get(), forwarded);
  } else {
    code = wait_forwarding_signals(created.pid, forwarded);
  }
  if (keep) return code;
  try {
    delete_container(store, opts.id, true);
  } catch (const Error& e) {
    log::warn(std::string("delete after run: ") + e.what());
  }
  return code;
}

std::string container_state_json(const StateStore& store, const std::string& id) {
  // Still being made, or its create died half-way: nothing runs there (delete --force cleans up).
  bool creating = store.being_created(id);
  if (creating || store.abandoned(id)) {
    ContainerState s;
    s.id = id;
    return oci_state_json(s, creating ? Status::Creating : Status::Stopped, /*pretty=*/true);
  }
  ContainerDir dir = store.open(id, /*lock=*/false);
  ContainerState s = dir.load();
  return oci_state_json(s, dir.status(s), /*pretty=*/true);
}

void kill_container(const StateStore& store, const std::string& id, int sig, bool all) {
  ContainerDir dir = store.open(id, /*lock=*/false);
  ContainerState s = dir.load();
  if (dir.status(s) == Status::Stopped) {
    // As runc: --all on a stopped container is not an error; whatever is still in its cgroup
    // (what outlived an init that had no pid namespace of its own) gets the signal.
    if (all) return signal_leftovers(s, sig);
    fail(ErrorKind::BadState, "cannot signal container " + id + ": container not running");
  }
  signal_container(s, sig, all);
}

namespace {
// SIGKILL to everything in the cgroup, which may be gone already (or, in part, on v1):
// create recorded it before making it, or a delete killed before it removed it.
void kill_all_unless_gone(cgroups::Manager& cg) {
  try {
    cg.kill_all(SIGKILL);
  } catch (const Error& e) {
    if (e.sys_errno() != ENOENT) throw;
  }
}

// What create recorded in cgroup.json: everything in the cgroup is killed, then it is removed.
// For a container whose state.json is missing (create died) or unreadable.
void destroy_recorded_cgroup(const ContainerDir& dir) {
  auto saved = dir.load_cgroup();
  if (!saved) return;
  with_context("remove the cgroup of " + dir.id(), [&] {
    auto cg = cgroups::reopen(cgroups::detect_host(), *saved);
    kill_all_unless_gone(*cg);
    cg->destroy();
  });
}
}  // namespace

void delete_container(const StateStore& store, const std::string& id, bool force) {
  log::StepTimer timer("delete " + id);
  if (!force && store.being_created(id))
    fail(ErrorKind::BadState, "cannot delete container " + id + ": it is being created (use --force)");
  if (auto incomplete = store.open_incomplete(id)) {
    destroy_recorded_cgroup(*incomplete);
    incomplete->remove();
    log::warn("removed container " + id + ", whose create did not finish");
    return;
  }
  std::optional<ContainerDir> opened;
  try {
    opened.emplace(store.open(id));
  } catch (const Error& e) {
    // What a client does after a create that failed, maybe killed before its state dir had
    // its name: the root's abandoned temporary directories go too.
    if (force && e.kind() == ErrorKind::NotFound) store.remove_abandoned_temps();
    throw;
  }
  ContainerDir& dir = *opened;
  ContainerState s;
  try {
    s = dir.load();
  } catch (const Error& e) {
    if (!force) throw;
    log::warn(std::string("removing container with unreadable state: ") + e.what());
    destroy_recorded_cgroup(dir);
    dir.remove();
    return;
  }
  Status status = dir.status(s);
  // A paused one too (runc's "not stopped: paused"); only a created one is stopped without --force.
  if ((status == Status::Running || status == Status::Paused) && !force)
    fail(ErrorKind::BadState, fmt::format("cannot delete container {} that is not stopped: {}", id, to_string(status)));
  if (status != Status::Stopped) {
    // A created container's init is still ours to stop, as runc does without --force.
    try {
      signal_container(s, SIGKILL, true);
    } catch (const Error& e) {
      // It exited after status() looked (a kill racing this delete): nothing left to stop.
      if (e.kind() != ErrorKind::BadState) throw;
    }
    wait_gone(s);
  }
  OCIRUN_CRASH_POINT("delete-killed");
  if (auto cg = container_cgroup(s)) {
    // Processes that outlived the init (no pid namespace of its own) go too. Gone already
    // when an earlier delete was killed after removing it.
    kill_all_unless_gone(*cg);
    cg->destroy();
    timer.step("cgroup removed");
  }
  OCIRUN_CRASH_POINT("delete-cgroup-removed");
  run_hooks_warn_only(s.poststop, oci_state_json(s, Status::Stopped), "poststop");
  OCIRUN_CRASH_POINT("delete-hooks-run");
  dir.remove();
}

namespace {
std::unique_ptr<cgroups::Manager> running_container_cgroup(const ContainerDir& dir, const ContainerState& s, const char* verb) {
  Status status = dir.status(s);
  if (status == Status::Stopped) fail(ErrorKind::BadState, fmt::format("cannot {} container {}: container not running", verb, s.id));
  auto cg = container_cgroup(s);
  if (!cg) fail(ErrorKind::Unsupported, fmt::format("cannot {} container {}: it has no cgroup", verb, s.id));
  return cg;
}
}  // namespace

void pause_container(const StateStore& store, const std::string& id) {
  ContainerDir dir = store.open(id);
  ContainerState s = dir.load();
  // As runc: only a created or running container can be paused; pausing it again is an error.
  if (dir.status(s) == Status::Paused)
    fail(ErrorKind::BadState, fmt::format("cannot pause container {}: container not running (it is paused)", id));
  running_container_cgroup(dir, s, "pause")->freeze(true);
}

void resume_container(const StateStore& store, const std::string& id) {
  ContainerDir dir = store.open(id);
  ContainerState s = dir.load();
  // runc (and clients matching its text) say "container not paused" for any non-paused state.
  const std::string not_paused = "cannot resume container " + id + ": container not paused";
  if (dir.status(s) == Status::Stopped) fail(ErrorKind::BadState, not_paused);
  auto cg = running_container_cgroup(dir, s, "resume");
  if (!cg->frozen()) fail(ErrorKind::BadState, not_paused);
  cg->freeze(false);
}

std::vector<pid_t> container_processes(const StateStore& store, const std::string& id) {
  ContainerDir dir = store.open(id, /*lock=*/false);
  ContainerState s = dir.load();
  auto cg = container_cgroup(s);
  if (!cg) return dir.status(s) == Status::Stopped ? std::vector<pid_t>{} : container_pids(s);
  return cg->pids();
}

void update_container(const StateStore& store, const std::string& id, const spec::Resources& resources) {
  ContainerDir dir = store.open(id);
  ContainerState s = dir.load();
  auto cg = running_container_cgroup(dir, s, "update");
  // checkBeforeUpdate: a limit below what the container already uses is refused
  // rather than handed to the kernel (which would reclaim, fail or OOM-kill).
  if (const auto& mem = resources.memory; mem && mem->check_before_update.value_or(false) && mem->limit && *mem->limit > 0) {
    uint64_t usage = cg->stats().memory.usage.usage;
    if (static_cast<uint64_t>(*mem->limit) < usage)
      fail(ErrorKind::InvalidArgument,
           fmt::format("update {}: linux.resources.memory.limit {} is below the container's memory usage {} (checkBeforeUpdate)",
                       id, *mem->limit, usage));
  }
  cg->apply(resources);
}

std::vector<ListEntry> list_containers(const StateStore& store) {
  std::vector<ListEntry> out;
  for (const auto& id : store.list_ids()) {
    try {
      ContainerDir dir = store.open(id, /*lock=*/false);
      ContainerState s = dir.load();
      out.push_back({s, dir.status(s)});
    } catch (const Error& e) {
      log::warn("list: skipping " + id + ": " + e.what());
    }
  }
  return out;
}

int parse_signal(const std::string& text) {
  // <cctype> wants an unsigned char's value: a plain char above 0x7f is negative (UB).
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  if (!text.empty() && std::all_of(text.begin(), text.end(), digit)) {
    // 0 is kill(2)'s "does it exist" probe, which runc takes as a number (not as "SIG0").
    int n = text.size() > 3 ? -1 : std::stoi(text);
    if (n >= 0 && n <= SIGRTMAX) return n;
    fail(ErrorKind::InvalidArgument, "invalid signal number \"" + text + "\"");
  }
  std::string name = text;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && name == abbrev) return sig;
  }
  if (name.rfind("RTMIN+", 0) == 0 || name.rfind("RTMAX-", 0) == 0) {
    std::string off = name.substr(6);
    if (!off.empty() && off.size() < 3 && std::all_of(off.begin(), off.end(), digit)) {
      int sig = name[2] == 'M' && name[3] == 'I' ? SIGRTMIN + std::stoi(off) : SIGRTMAX - std::stoi(off);
      if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
    }
  }
  fail(ErrorKind::InvalidArgument, "invalid signal \"" + text + "\"");
}

}  // namespace ocirun::runtime
