// exec: the parent enters nothing itself. Stage 1 joins every namespace of the
// container's init at once through its pidfd (setns(pidfd, flags)), forks the
// process (CLONE_PARENT, so it is our child and lands in the pid namespace),
// which sets itself up like the init does and execs the program through the
// sealed stub (process.cc). The sync socket is close-on-exec: EOF means the stub
// started, an Error message says why not; the error pipe then carries the stub's
// report if the program's own execve fails, and reaches EOF once it succeeded.
#include "exec.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <linux/magic.h>  // DEVPTS_SUPER_MAGIC
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "child.h"
#include "error.h"
#include "foreground.h"
#include "log.h"
#include "lsm.h"
#include "fs.h"
#include "namespaces.h"
#include "parse.h"
#include "rootfs.h"
#include "sync.h"
#include "unix_socket.h"

namespace ocirun::runtime {

namespace {

struct ExecContext {
  PreparedProcess process;
  std::optional<seccomp::Program> seccomp;
  std::optional<spec::ConsoleSize> console_size;
  std::string apparmor_profile, selinux_label;
  std::string container_id;
  bool join_session_keyring = true;  // unless the container was created with --no-new-keyring
  int ns_flags = 0;
  int pidfd = -1;
  int root_fd = -1;  // the init's root, without a mount namespace to join (create chrooted it)
  int sync_fd = -1;
  int error_fd = -1;  // the write end of the error pipe, for the stub
  int preserve_fds = 0;
  std::vector<int> parent_only_fds;
};

// The container's own config as create read it (never the bundle's, which the container may
// have rewritten since): namespaces, seccomp and the defaults an exec'd process starts from.
spec::Spec container_config(const ContainerDir& dir) {
  return with_context("read the container's config", [&] { return dir.load_config(); });
}

// A process.json without noNewPrivileges keeps the container's: an exec'd process is no
// less confined than the container's own unless the caller says so.
spec::Process process_from_file(const spec::Spec& config, const std::string& path) {
  std::string text = path == "-" ? fs::read_file("/dev/stdin") : fs::read_file(path);
  // Errors name the file and the field inside the process: "--process p.json: /user/uid: ...".
  spec::Process p = spec::parse_process(text, "--process " + path);
  if (!nlohmann::json::parse(text).contains("noNewPrivileges") && config.process)
    p.no_new_privileges = config.process->no_new_privileges;
  return p;
}

// Where a field of the exec'd process came from, for errors: the --process file, the flag
// that set it, or else the container's config.json (prepare_process's ProcessField).
std::string exec_process_field(const ExecOptions& o, const std::string& pointer) {
  if (!o.process_file.empty()) return "--process " + o.process_file + ": " + pointer;
  if (pointer == "/cwd" && !o.cwd.empty()) return "exec --cwd";
  return config_process_field(pointer);
}

// runc's rules: the config's process, with the command line's args and overrides.
spec::Process process_from_flags(const spec::Spec& config, const ExecOptions& o) {
  spec::Process p = config.process.value_or(spec::Process{});
  if (o.args.empty()) fail(ErrorKind::InvalidArgument, "exec: a command is required (or --process FILE)");
  p.args = o.args;
  p.terminal = o.tty;
  if (!o.cwd.empty()) p.cwd = o.cwd;
  for (const auto& e : o.env) {
    // A variable given again replaces the config's value.
    std::string key = e.substr(0, e.find('='));
    std::erase_if(p.env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
    p.env.push_back(e);
  }
  if (o.user) {
    p.user.uid = o.user->first;
    if (o.user->second) p.user.gid = *o.user->second;
  }
  if (!o.additional_gids.empty()) p.user.additional_gids = o.additional_gids;
  for (const auto& cap : o.caps)
    if (capability_from_name(cap) < 0) fail(ErrorKind::InvalidArgument, "exec: --cap: unknown capability \"" + cap + "\"");
  if (!o.caps.empty()) {
    auto& c = p.capabilities ? *p.capabilities : p.capabilities.emplace();
    for (const auto& cap : o.caps)
      for (auto* set : {&c.bounding, &c.effective, &c.permitted})
        if (std::find(set->begin(), set->end(), cap) == set->end()) set->push_back(cap);
  }
  return p;
}

// /proc/PID/root of the init `pidfd` names, checked to be alive after the open (so the pid
// was not reused in between).
UniqueFd open_init_root(pid_t pid, int pidfd, const std::string& id) {
  UniqueFd root(::open(fmt::format("/proc/{}/root", pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root || ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) < 0)
    fail(ErrorKind::BadState, "cannot exec in container " + id + ": container not running");
  return root;
}

int namespace_flags(const spec::Linux& linux_config) {
  int flags = 0;
  for (const auto& ns : linux_config.namespaces)
    if (const auto* kind = namespaces::find_kind(ns.type)) flags |= kind->clone_flag;
  return flags;
}

// What an fd is, for an error: "a character device 1:3", "a FIFO", ...
std::string describe_file(const struct stat& st) {
  switch (st.st_mode & S_IFMT) {
    case S_IFCHR: return fmt::format("a character device {}:{}", major(st.st_rdev), minor(st.st_rdev));
    case S_IFBLK: return fmt::format("a block device {}:{}", major(st.st_rdev), minor(st.st_rdev));
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    default: return "not a device";
  }
}

// exec's terminal, from the container's /dev/ptmx. Unlike create's (whose init opens it right
// after making /dev/ptmx a link to pts/ptmx itself), the container has run by now and may have
// put anything there: a link to /dev/null, a FIFO, the ptmx of another devpts. So what was
// opened must be the pty multiplexer (character device 5:2), and the slave is taken from the
// master itself (TIOCGPTPEER), never by a path the container controls, then checked to be a
// pty of a devpts and the peer of our master, as create's mount_console checks the console
// (CVE-2025-52565). O_NONBLOCK: whatever /dev/ptmx leads to, opening it must not wait.
Pty open_exec_pty(const std::optional<spec::ConsoleSize>& size) {
  const char* not_ptmx = "the container's /dev/ptmx is not the pty multiplexer (/dev/pts/ptmx of a devpts, 5:2): ";
  Pty pty;
  pty.master.reset(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  if (!pty.master) throw_errno("open the container's /dev/ptmx for the terminal");
  struct stat st;
  check(::fstat(pty.master.get(), &st), "stat /dev/ptmx");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(5, 2)) fail(ErrorKind::Syscall, not_ptmx + describe_file(st));
  unsigned int n = 0;
  if (::ioctl(pty.master.get(), TIOCGPTN, &n) < 0) throw_errno(std::string(not_ptmx) + "ioctl TIOCGPTN");
  check(::unlockpt(pty.master.get()), "unlockpt");
  pty.slave_path = fmt::format("/dev/pts/{}", n);
  pty.slave.reset(static_cast<int>(::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)));
  if (!pty.slave && (errno == EINVAL || errno == ENOTTY))  // Linux < 4.13: by name, checked below
    pty.slave.reset(::open(pty.slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!pty.slave) throw_errno("open the terminal's slave " + pty.slave_path);
  struct statfs sf;
  check(::fstat(pty.slave.get(), &st), "stat the pty slave");
  check(::fstatfs(pty.slave.get(), &sf), "statfs the pty slave");
  // Unix98 pty slaves: majors 136-143, 256 minors each.
  const unsigned slave_major = major(st.st_rdev), slave_minor = minor(st.st_rdev);
  if (!S_ISCHR(st.st_mode) || sf.f_type != DEVPTS_SUPER_MAGIC || slave_major < 136 || slave_major > 143 ||
      (slave_major - 136) * 256 + slave_minor != n)
    fail(ErrorKind::Syscall, fmt::format("the terminal's slave is not /dev/pts/{} of a devpts, the peer of our master", n));
  for (int fd : {pty.master.get(), pty.slave.get()}) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) throw_errno("fcntl the terminal");
  }
  if (size) {
    winsize ws{static_cast<unsigned short>(size->height), static_cast<unsigned short>(size->width), 0, 0};
    ::ioctl(pty.master.get(), TIOCSWINSZ, &ws);
  }
  return pty;
}

// The exec'd process, inside every namespace of the container: the init's last steps in
// the init's order (see init.cc for why each sits where it does), ending in execve.
[[noreturn]] void exec_child_main(const ExecContext& ctx) {
  const PreparedProcess& proc = ctx.process;
  try {
    // A session of its own on every path, as the init's: otherwise the caller's controlling
    // terminal (the operator's) stays this process's /dev/tty, open to TIOCSTI and reads.
    check(::setsid(), "setsid");
    if (ctx.join_session_keyring) join_session_keyring(ctx.container_id);
    if (proc.terminal) {
      Pty pty = open_exec_pty(ctx.console_size);
      sync::send(ctx.sync_fd, sync::Msg::PtyMaster, 0, "/dev/ptmx", pty.master.get());
      attach_pty(pty, proc.uid);
    }
    const bool lsm_labels = !ctx.apparmor_profile.empty() || !ctx.selinux_label.empty();
    const bool userns = ctx.ns_flags & CLONE_NEWUSER;
    // The container's /proc is the container's to remount once it runs: read and written
    // only through a handle checked to be a procfs root.
    UniqueFd procfs;
    if (lsm_labels || userns) procfs = namespaces::open_procfs();
    set_exec_labels(ctx.apparmor_profile, ctx.selinux_label, procfs.get());
    bool setgroups_allowed = true;
    if (userns) {
      UniqueFd f = namespaces::open_proc_file(procfs.get(), "self/setgroups", O_RDONLY);
      char buf[16] = {};
      ssize_t n = ::read(f.get(), buf, sizeof buf - 1);
      if (n < 0) throw_errno("read /proc/self/setgroups");
      setgroups_allowed = fs::trim(std::string(buf, static_cast<size_t>(n))) == "allow";
    }
    procfs.reset();
    // Resolved inside the container's root while still privileged (as the init does), entered
    // as the user and checked to be inside (CVE-2024-21626).
    UniqueFd cwd = namespaces::open_cwd(proc.cwd);
    // The init's last steps, in the init's order (process.h): down to the program's identity.
    const bool keep_sys_admin = ctx.seccomp && !proc.no_new_privileges;  // to load the filter last
    auto [executable, exec_stub, env] = lower_privileges(proc, std::move(cwd), setgroups_allowed, lsm_labels, keep_sys_admin);
    ::syscall(SYS_close_range, 3 + ctx.preserve_fds, ~0U, 1U << 2 /* CLOSE_RANGE_CLOEXEC */);
    // A NOTIFY listener goes to the parent over the sync socket; any other filter goes on
    // right before the program's execve (exec_program), so nothing of ours runs under it.
    const bool notify = ctx.seccomp && ctx.seccomp->needs_listener;
    if (notify) install_seccomp(*ctx.seccomp, ctx.sync_fd);
    const seccomp::Program* filter = ctx.seccomp && !notify ? &*ctx.seccomp : nullptr;
    // Under a seccomp filter only execve may run in the stub: its failure then goes to stderr.
    int err = exec_program(exec_stub.get(), ctx.seccomp ? -1 : ctx.error_fd, executable, proc.args, env, filter);
    throw_errno(err, "exec " + executable);
  } catch (const std::exception& e) {
    die_with_error(ctx.sync_fd, e.what());
  }
}

[[noreturn]] void exec_stage1_main(const ExecContext& ctx) {
  try {
    for (int fd : ctx.parent_only_fds) ::close(fd);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Non-dumpable before anything of the container can see us: in its pid namespace,
    // /proc/PID/exe of this fork of ocirun names the host's binary (CVE-2019-5736), and
    // /proc/PID/fd our fds. The fork below inherits it; only CAP_SYS_PTRACE in the host's
    // user namespace gets past it. execve of the program makes it dumpable again.
    check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
    sync::expect(ctx.sync_fd, sync::Msg::Go);
    // oomScoreAdj on ourselves, inherited by the fork: see write_oom_score_adj (child.h).
    if (ctx.process.oom_score_adj) write_oom_score_adj(namespaces::open_procfs().get(), ctx.process);
    // All at once through the pidfd: the user namespace first, as the kernel requires.
    if (ctx.ns_flags && ::setns(ctx.pidfd, ctx.ns_flags) < 0) throw_errno("join the container's namespaces");
    // No mount namespace to join, whose root setns would make ours: the init's chroot.
    if (ctx.root_fd >= 0) {
      check(::fchdir(ctx.root_fd), "chdir to the container's root");
      check(::chroot("."), "chroot to the container's root");
    }
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
    if (pid < 0) throw_errno("fork the exec process");
    if (pid == 0) exec_child_main(ctx);
    sync::send(ctx.sync_fd, sync::Msg::InitPid, pid);
    _exit(0);
  } catch (const std::exception& e) {
    die_with_error(ctx.sync_fd, e.what());
  }
}

// What the stub wrote to the error pipe ("exec PATH: errno N") once the program's execve
// failed, with the errno spelled out; empty once the program runs (EOF: close-on-exec).
std::string read_exec_error(int fd) {
  std::string text;
  char buf[256];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  if (auto pos = text.rfind("errno "); pos != std::string::npos) {
    int err = std::atoi(text.c_str() + pos + 6);
    if (err > 0) text = text.substr(0, pos) + std::strerror(err);
  }
  return text;
}

// The labels the exec'd process gets: the flags', else the process's; the host must have the LSM.
void check_lsm_labels(spec::Process& p, const ExecOptions& o) {
  if (!o.apparmor.empty()) p.apparmor_profile = o.apparmor;
  if (!o.process_label.empty()) p.selinux_label = o.process_label;
  require_apparmor(p.apparmor_profile, o.apparmor.empty() ? exec_process_field(o, "/apparmorProfile") : "exec --apparmor");
  require_selinux(p.selinux_label, o.process_label.empty() ? exec_process_field(o, "/selinuxLabel") : "exec --process-label");
}

// `base` + `sub` with "." and ".." taken lexically (runc's path.Join); "/" is `base` itself.
std::string sub_cgroup_dir(const std::string& base, const std::string& sub) {
  std::vector<std::string> parts;
  for (const auto& part : fs::split(sub, '/')) {
    if (part.empty() || part == ".") continue;
    if (part != "..")
      parts.push_back(part);
    else if (parts.empty())
      fail(ErrorKind::InvalidArgument, sub + " is not a sub cgroup path");  // runc's words
    else
      parts.pop_back();
  }
  std::string dir = base;
  for (const auto& part : parts) dir += "/" + part;
  return dir;
}

// exec --cgroup: the directories the process joins instead of the container's own, one per
// hierarchy (runc's rules: a path without a controller moves every hierarchy).
std::vector<std::string> sub_cgroup_dirs_of(const cgroups::Saved& saved, const std::map<std::string, std::string>& subs) {
  std::map<std::string, std::string> dirs = saved.dirs;
  if (auto all = subs.find(""); all != subs.end()) {
    for (auto& [hierarchy, dir] : dirs) dir = sub_cgroup_dir(dir, all->second);
  } else {
    for (const auto& [controller, sub] : subs) {
      auto it = dirs.find(controller);
      if (it == dirs.end()) fail(ErrorKind::InvalidArgument, "unknown controller " + controller + " in SubCgroupPaths");
      it->second = sub_cgroup_dir(it->second, sub);
    }
  }
  std::vector<std::string> out;
  for (const auto& [hierarchy, dir] : dirs)
    if (std::find(out.begin(), out.end(), dir) == out.end()) out.push_back(dir);
  return out;
}

// Go's error words (lower case), as runc prints them: scripts match "adding pid ... no such file".
void join_sub_cgroups(const std::vector<std::string>& dirs, pid_t pid) {
  for (const auto& dir : dirs) {
    std::string procs = dir + "/cgroup.procs";
    std::string value = std::to_string(pid);
    UniqueFd f(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (f && ::write(f.get(), value.data(), value.size()) == static_cast<ssize_t>(value.size())) continue;
    fail(ErrorKind::Syscall, fmt::format("error adding pid {} to cgroups: {} {}: {}", pid, f ? "write" : "open", procs,
                                         fs::lower_first(std::strerror(errno))));
  }
}

}  // namespace

int exec_process(const StateStore& store, const ExecOptions& opts) {
  ContainerDir dir = store.open(opts.id, /*lock=*/false);
  ContainerState state = dir.load();
  Status status = dir.status(state);
  if (status == Status::Stopped) fail(ErrorKind::BadState, "cannot exec in container " + opts.id + ": container not running");
  // runc's words: scripts and its test suite match them.
  if (status == Status::Paused && !opts.ignore_paused)
    fail(ErrorKind::BadState, "cannot exec in a paused container (use --ignore-paused to override)");

  const spec::Spec config = container_config(dir);
  spec::Process process =
      opts.process_file.empty() ? process_from_flags(config, opts) : process_from_file(config, opts.process_file);
  if (process.args.empty()) fail(ErrorKind::InvalidArgument, "exec: process.args must not be empty");
  // Whatever the process says, --no-new-privs turns it on (runc's flag, --process or not).
  if (opts.no_new_privs) process.no_new_privileges = true;
  check_lsm_labels(process, opts);
  if (process.cwd.empty()) process.cwd = "/";
  if (process.terminal && opts.console_socket.empty() && opts.detach)
    fail(ErrorKind::InvalidArgument, "exec --detach with a terminal needs --console-socket");

  ExecContext ctx;
  ctx.process = prepare_process(process, [&](const std::string& pointer) { return exec_process_field(opts, pointer); });
  ctx.console_size = process.console_size;
  ctx.apparmor_profile = process.apparmor_profile;
  ctx.selinux_label = process.selinux_label;
  ctx.preserve_fds = opts.preserve_fds;
  ctx.container_id = state.id;
  ctx.join_session_keyring = !state.no_new_keyring;
  const spec::Seccomp* profile = config.linux && config.linux->seccomp ? &*config.linux->seccomp : nullptr;
  if (profile) {
    ctx.seccomp = with_context("linux.seccomp", [&] { return seccomp::compile_cached(*profile, seccomp_cache_dir(store)); });
    if (ctx.seccomp->needs_listener && profile->listener_path.empty())
      fail(ErrorKind::InvalidSpec, "config.json: /linux/seccomp/listenerPath: required by SCMP_ACT_NOTIFY");
  }
  ctx.ns_flags = config.linux ? namespace_flags(*config.linux) : 0;
  UniqueFd pidfd = open_init_pidfd(state);
  if (!pidfd) fail(ErrorKind::BadState, "cannot exec in container " + opts.id + ": container not running");
  ctx.pidfd = pidfd.get();
  UniqueFd init_root;
  if (!(ctx.ns_flags & CLONE_NEWNS)) init_root = open_init_root(state.pid, pidfd.get(), opts.id);
  ctx.root_fd = init_root.get();
  auto cgroup = container_cgroup(state);
  std::vector<std::string> sub_cgroup_dirs;
  if (!opts.sub_cgroups.empty()) {
    if (!cgroup) fail(ErrorKind::BadState, "exec --cgroup: container " + opts.id + " has no cgroup");
    sub_cgroup_dirs = sub_cgroup_dirs_of(cgroup->saved(), opts.sub_cgroups);
  }

  int pair[2];
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");
  UniqueFd parent_end(pair[0]), child_end(pair[1]);
  ctx.sync_fd = child_end.get();
  int error_pipe[2];
  check(::pipe2(error_pipe, O_CLOEXEC), "pipe2");
  UniqueFd error_read(error_pipe[0]), error_write(error_pipe[1]);
  ctx.error_fd = error_write.get();
  ctx.parent_only_fds = {dir.fd(), parent_end.get(), error_read.get()};

  sigset_t forwarded, old;
  block_forwarded_signals(forwarded, old);
  log::debug("nsexec container setup");  // runc's --debug step lines, which scripts look for
  pid_t stage1 = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
  if (stage1 < 0) throw_errno("fork");
  if (stage1 == 0) exec_stage1_main(ctx);
  child_end.reset();
  error_write.reset();  // so the pipe reaches EOF once the child has exec'd the program
  pid_t child = 0;
  UniqueFd listener;  // a NOTIFY listener that arrived before the child's pid
  UniqueFd pty_master;  // kept when ocirun relays the terminal itself
  auto kill_children = [&] {
    for (pid_t p : {child, stage1})
      if (p > 0) {
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
      }
  };
  try {
    if (!sub_cgroup_dirs.empty())
      join_sub_cgroups(sub_cgroup_dirs, stage1);
    else if (cgroup)
      cgroup->add_process(stage1);
    sync::send(parent_end.get(), sync::Msg::Go);
    for (sync::Message m; sync::recv(parent_end.get(), m);) {
      if (m.type == sync::Msg::InitPid) {
        child = m.value;
        log::debug("child process in init()");
        ::waitpid(stage1, nullptr, 0);
        stage1 = 0;
      } else if (m.type == sync::Msg::PtyMaster) {
        if (opts.console_socket.empty())
          pty_master = std::move(m.fd);
        else
          send_to_console_socket(opts.console_socket, m.fd.get());
      } else if (m.type == sync::Msg::SeccompListener) {
        listener = std::move(m.fd);
      } else if (m.type == sync::Msg::Error) {
        fail(ErrorKind::Syscall, "exec in container " + opts.id + ": " + m.text);
      }
      // The filter's agent gets the exec'd process's listener and its state, as for the init.
      if (listener && child > 0) {
        send_to_seccomp_listener(*profile, listener.get(), child, state, Status::Running);
        listener.reset();
      }
    }
    if (child == 0) fail(ErrorKind::Syscall, "exec in container " + opts.id + ": the process setup died");
    log::debug("setns_init: about to exec");
    if (std::string err = read_exec_error(error_read.get()); !err.empty())
      fail(ErrorKind::Syscall, "exec in container " + opts.id + ": " + err);
    if (!opts.pid_file.empty()) write_pid_file(opts.pid_file, child);
  } catch (...) {
    kill_children();
    throw;
  }
  if (opts.detach) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return 0;
  }
  if (pty_master) {
    ::fcntl(pty_master.get(), F_SETFL, O_NONBLOCK);
    return proxy_terminal_and_wait(child, pty_master.get(), forwarded);
  }
  return wait_forwarding_signals(child, forwarded);
}

}  // namespace ocirun::runtime
