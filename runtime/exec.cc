// exec: the parent enters nothing itself. Stage 1 joins every namespace of the
// container's init at once through its pidfd (setns(pidfd, flags)), forks the
// process (CLONE_PARENT, so it is our child and lands in the pid namespace),
// which sets itself up like the init does and execs. The sync socket is
// close-on-exec: EOF means execve succeeded, an Error message says why not.
#include "exec.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "child.h"
#include "error.h"
#include "foreground.h"
#include "fs.h"
#include "namespaces.h"
#include "parse.h"
#include "sync.h"

namespace ocirun::runtime {

namespace {

struct ExecContext {
  PreparedProcess process;
  std::optional<seccomp::Program> seccomp;
  std::optional<spec::ConsoleSize> console_size;
  int ns_flags = 0;
  int pidfd = -1;
  int sync_fd = -1;
  int preserve_fds = 0;
  std::vector<int> parent_only_fds;
};

// The container's own config: the defaults an exec'd process starts from.
spec::Spec container_config(const ContainerState& s) {
  return with_context("read the container's config", [&] { return spec::load(s.bundle); });
}

spec::Process process_from_file(const std::string& path) {
  std::string text = path == "-" ? fs::read_file("/dev/stdin") : fs::read_file(path);
  try {
    nlohmann::json doc = {{"ociVersion", "1.2.0"}, {"root", {{"path", "rootfs"}}}, {"process", nlohmann::json::parse(text)}};
    return *spec::parse(doc.dump()).process;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::InvalidArgument, "--process " + path + ": not valid JSON: " + e.what());
  } catch (Error& e) {
    throw e.with_context("--process " + path);
  }
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
  if (!o.caps.empty()) {
    auto& c = p.capabilities ? *p.capabilities : p.capabilities.emplace();
    for (const auto& cap : o.caps)
      for (auto* set : {&c.bounding, &c.effective, &c.permitted})
        if (std::find(set->begin(), set->end(), cap) == set->end()) set->push_back(cap);
  }
  if (o.no_new_privs) p.no_new_privileges = true;
  return p;
}

int namespace_flags(const spec::Linux& linux_config) {
  int flags = 0;
  for (const auto& ns : linux_config.namespaces)
    if (const auto* kind = namespaces::find_kind(ns.type)) flags |= kind->clone_flag;
  return flags;
}

// The exec'd process, inside every namespace of the container: the same order as
// the init's last steps (see init.cc), ending in execve.
[[noreturn]] void exec_child_main(const ExecContext& ctx) {
  const PreparedProcess& proc = ctx.process;
  try {
    if (proc.terminal) {
      check(::setsid(), "setsid");
      Pty pty = open_pty(ctx.console_size);
      sync::send(ctx.sync_fd, sync::Msg::PtyMaster, 0, "/dev/ptmx", pty.master.get());
      attach_pty(pty);
    }
    write_oom_score_adj(proc);
    apply_rlimits(proc);
    if (ctx.seccomp && !proc.no_new_privileges) load_seccomp(*ctx.seccomp);
    drop_bounding_set(proc.caps);
    bool setgroups_allowed = fs::trim(fs::read_file("/proc/self/setgroups")) == "allow";
    switch_user(proc, setgroups_allowed);
    if (::chdir(proc.cwd.c_str()) < 0) throw_errno("process.cwd: chdir " + proc.cwd);
    std::string executable = find_executable(proc);
    apply_capabilities(proc.caps);
    if (proc.no_new_privileges) check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl PR_SET_NO_NEW_PRIVS");
    ::umask(proc.umask);
    ::syscall(SYS_close_range, 3 + ctx.preserve_fds, ~0U, 1U << 2 /* CLOSE_RANGE_CLOEXEC */);
    if (ctx.seccomp && proc.no_new_privileges) load_seccomp(*ctx.seccomp);
    auto argv = c_strings(proc.args);
    auto envp = c_strings(proc.env);
    ::execve(executable.c_str(), argv.data(), envp.data());
    throw_errno("exec " + executable);
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
    sync::expect(ctx.sync_fd, sync::Msg::Go);
    // All at once through the pidfd: the user namespace first, as the kernel requires.
    if (::setns(ctx.pidfd, ctx.ns_flags) < 0) throw_errno("join the container's namespaces");
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
    if (pid < 0) throw_errno("fork the exec process");
    if (pid == 0) exec_child_main(ctx);
    sync::send(ctx.sync_fd, sync::Msg::InitPid, pid);
    _exit(0);
  } catch (const std::exception& e) {
    die_with_error(ctx.sync_fd, e.what());
  }
}

void send_to_console_socket(const std::string& path, int master) {
  UniqueFd sock(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) fail(ErrorKind::InvalidArgument, "--console-socket path too long: " + path);
  std::strcpy(addr.sun_path, path.c_str());
  check(::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "connect to --console-socket " + path);
  sync::send(sock.get(), sync::Msg::PtyMaster, 0, "/dev/ptmx", master);
}

}  // namespace

int exec_process(const StateStore& store, const ExecOptions& opts) {
  ContainerDir dir = store.open(opts.id, /*lock=*/false);
  ContainerState state = dir.load();
  Status status = dir.status(state);
  if (status == Status::Stopped) fail(ErrorKind::BadState, "cannot exec in container " + opts.id + ": container not running");
  if (status == Status::Paused) fail(ErrorKind::BadState, "cannot exec in container " + opts.id + ": it is paused");
  if (!opts.apparmor.empty()) fail(ErrorKind::Unsupported, "exec --apparmor: this host has no AppArmor");
  if (!opts.process_label.empty()) fail(ErrorKind::Unsupported, "exec --process-label: this host has no SELinux");

  const spec::Spec config = container_config(state);
  spec::Process process = opts.process_file.empty() ? process_from_flags(config, opts) : process_from_file(opts.process_file);
  if (process.args.empty()) fail(ErrorKind::InvalidArgument, "exec: process.args must not be empty");
  if (process.cwd.empty()) process.cwd = "/";
  if (process.terminal && opts.console_socket.empty() && opts.detach)
    fail(ErrorKind::InvalidArgument, "exec --detach with a terminal needs --console-socket");

  ExecContext ctx;
  ctx.process = prepare_process(process);
  ctx.console_size = process.console_size;
  ctx.preserve_fds = opts.preserve_fds;
  if (config.linux && config.linux->seccomp)
    ctx.seccomp = with_context("linux.seccomp", [&] { return seccomp::compile_cached(*config.linux->seccomp, seccomp_cache_dir(store)); });
  ctx.ns_flags = config.linux ? namespace_flags(*config.linux) : 0;
  UniqueFd pidfd = open_init_pidfd(state);
  if (!pidfd) fail(ErrorKind::BadState, "cannot exec in container " + opts.id + ": container not running");
  ctx.pidfd = pidfd.get();
  auto cgroup = container_cgroup(state);

  int pair[2];
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");
  UniqueFd parent_end(pair[0]), child_end(pair[1]);
  ctx.sync_fd = child_end.get();
  ctx.parent_only_fds = {dir.fd(), parent_end.get()};

  sigset_t forwarded, old;
  block_forwarded_signals(forwarded, old);
  pid_t stage1 = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
  if (stage1 < 0) throw_errno("fork");
  if (stage1 == 0) exec_stage1_main(ctx);
  child_end.reset();
  pid_t child = 0;
  UniqueFd pty_master;  // kept when ocirun relays the terminal itself
  auto kill_children = [&] {
    for (pid_t p : {child, stage1})
      if (p > 0) {
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
      }
  };
  try {
    if (cgroup) cgroup->add_process(stage1);
    sync::send(parent_end.get(), sync::Msg::Go);
    for (sync::Message m; sync::recv(parent_end.get(), m);) {
      if (m.type == sync::Msg::InitPid) {
        child = m.value;
        ::waitpid(stage1, nullptr, 0);
        stage1 = 0;
      } else if (m.type == sync::Msg::PtyMaster) {
        if (opts.console_socket.empty())
          pty_master = std::move(m.fd);
        else
          send_to_console_socket(opts.console_socket, m.fd.get());
      } else if (m.type == sync::Msg::Error) {
        fail(ErrorKind::Syscall, "exec in container " + opts.id + ": " + m.text);
      }
    }
    if (child == 0) fail(ErrorKind::Syscall, "exec in container " + opts.id + ": the process setup died");
    if (!opts.pid_file.empty()) {
      std::string name = opts.pid_file.substr(opts.pid_file.rfind('/') + 1);
      std::string dirname = opts.pid_file.substr(0, opts.pid_file.rfind('/') + 1);
      UniqueFd d(check(::open(dirname.empty() ? "." : dirname.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC), "open --pid-file directory"));
      fs::write_file_atomic_at(d.get(), name, std::to_string(child));
    }
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
